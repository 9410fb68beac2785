"""A TED-LIUM release 2 look-alike: one synthetic speaker per talk, in the real on-disk layout.

    TEDLIUM_release2/{train,dev,test}/sph/<TalkId>.sph   NIST SPHERE, 16 kHz, 16-bit, mono (sox)
    TEDLIUM_release2/{train,dev,test}/stm/<TalkId>.stm   <TalkId> 1 <TalkId> <start> <end>
                                                         <o,f0,gender> words ...
    TEDLIUM_release2/TEDLIUM.152k.dic                    CMU pronunciations, no stress digits

A talk is a sequence of grammar sentences separated by 0.3-1.0 s pauses over a low noise floor,
sometimes with an applause-like noise burst marked ``ignore_time_segment_in_scoring`` as the
real stm files do. Segments and pauses are whole 10 ms frames, so stm times are exact.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple

import numpy as np

from asr2emo.data.demo.grammar import sentence, vocabulary
from asr2emo.data.demo.lexicon import write_dic
from asr2emo.data.demo.render import (
    FRAME,
    SAMPLE_RATE,
    set_level,
    synthesize,
    to_int16,
    trim,
    write_sph,
)
from asr2emo.data.demo.voices import Speaker

PARTS = ("train", "dev", "test")
NOISE_FLOOR_DB = -62.0
SPEECH_LEVEL_DB = -22.0


@dataclass(frozen=True)
class TalkPlan:
    """What to render for one talk."""

    part: str
    talk_id: str
    speaker: Speaker
    speech_seconds: float
    seed: str
    noise_burst: bool


def plan_talks(
    speakers: dict, train_talks: int, train_seconds: float, eval_talks: int, eval_seconds: float
) -> List[TalkPlan]:
    """Talk plans for all parts; ``speakers`` maps ``ted-<part>-<i>`` keys to speakers."""
    plans = []
    sizes = {
        "train": (train_talks, train_seconds),
        "dev": (eval_talks, eval_seconds),
        "test": (eval_talks, eval_seconds),
    }
    for part, (n, secs) in sizes.items():
        for i in range(n):
            spk = speakers[f"ted-{part}-{i}"]
            year = 2005 + (zlib.crc32(spk.name.encode()) % 10)
            plans.append(
                TalkPlan(
                    part=part,
                    talk_id=f"{spk.name}_{year}",
                    speaker=spk,
                    speech_seconds=secs,
                    seed=f"{spk.name}-{part}-{i}",
                    noise_burst=i % 2 == 0,
                )
            )
    return plans


def _frames(seconds: float) -> int:
    return int(round(seconds * SAMPLE_RATE / FRAME)) * FRAME


def _noise_burst(rng: np.random.Generator, n: int) -> np.ndarray:
    """Applause-like noise: smoothed white noise under a rise/fall envelope at about -30 dBFS."""
    x = rng.standard_normal(n + 8)
    x = np.convolve(x, np.ones(8) / 8.0, mode="valid")[:n]
    env = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.2 * SAMPLE_RATE))
    return (x / (np.std(x) + 1e-9) * 10 ** (-30 / 20) * env).astype(np.float32)


def render_talk(plan: TalkPlan, seed: int) -> Tuple[np.ndarray, List[str], float]:
    """Render a talk: (int16 samples, stm lines, seconds of speech)."""
    rng = random.Random(f"{seed}-{plan.seed}")
    nrng = np.random.default_rng(zlib.crc32(f"{seed}-{plan.seed}".encode()))
    spk = plan.speaker
    pieces: List[np.ndarray] = [np.zeros(_frames(rng.uniform(0.5, 1.5)), np.float32)]
    t = len(pieces[0])
    stm: List[str] = []
    speech = 0
    burst_at = rng.uniform(0.3, 0.8) * plan.speech_seconds if plan.noise_burst else None
    tag = f"<o,f0,{spk.gender}>"

    def line(start: int, end: int, text: str) -> str:
        return (
            f"{plan.talk_id} 1 {plan.talk_id} {start / SAMPLE_RATE:.2f} {end / SAMPLE_RATE:.2f} "
            f"{tag} {text}"
        )

    while speech < plan.speech_seconds * SAMPLE_RATE:
        if burst_at is not None and speech >= burst_at * SAMPLE_RATE:
            burst = _noise_burst(nrng, _frames(rng.uniform(1.0, 2.5)))
            stm.append(line(t, t + len(burst), "ignore_time_segment_in_scoring"))
            gap = np.zeros(_frames(rng.uniform(0.3, 1.0)), np.float32)
            pieces += [burst, gap]
            t += len(burst) + len(gap)
            burst_at = None
        n_sent = 1 if rng.random() < 0.6 else 2
        text = " ".join(sentence(rng, 4, 14) for _ in range(n_sent))
        x = synthesize(
            text,
            spk.voice,
            pitch=spk.pitch + rng.randint(-3, 3),
            rate=int(spk.rate * rng.uniform(0.95, 1.05)),
            range_pct=rng.randint(85, 125),
        )
        x = set_level(trim(x), SPEECH_LEVEL_DB + rng.gauss(0.0, 1.5))
        stm.append(line(t, t + len(x), text))
        gap = np.zeros(_frames(rng.uniform(0.3, 1.0)), np.float32)
        pieces += [x, gap]
        t += len(x) + len(gap)
        speech += len(x)
    audio = np.concatenate(pieces)
    audio += (nrng.standard_normal(len(audio)) * 10 ** (NOISE_FLOOR_DB / 20)).astype(np.float32)
    return to_int16(audio), stm, speech / SAMPLE_RATE


def write_talk(root: Path, plan: TalkPlan, seed: int) -> Tuple[str, str, float, float]:
    """Render and write one talk's .sph and .stm; returns (part, talk_id, speech s, total s)."""
    samples, stm, speech = render_talk(plan, seed)
    write_sph(root / plan.part / "sph" / f"{plan.talk_id}.sph", samples)
    (root / plan.part / "stm" / f"{plan.talk_id}.stm").write_text("\n".join(stm) + "\n")
    return plan.part, plan.talk_id, speech, len(samples) / SAMPLE_RATE


def prepare_layout(root: Path) -> None:
    """Create the part directories and the lexicon (covers the whole grammar vocabulary)."""
    for part in PARTS:
        (root / part / "sph").mkdir(parents=True, exist_ok=True)
        (root / part / "stm").mkdir(parents=True, exist_ok=True)
    write_dic(root / "TEDLIUM.152k.dic", vocabulary())
