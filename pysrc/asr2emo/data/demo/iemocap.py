"""An IEMOCAP look-alike: 5 sessions x (1 female + 1 male) synthetic actors, real on-disk layout.

    IEMOCAP_full_release/Session{n}/dialog/EmoEvaluation/<dialog>.txt
    IEMOCAP_full_release/Session{n}/sentences/wav/<dialog>/<utt>.wav   16 kHz 16-bit mono
    IEMOCAP_full_release/Session{n}/dialog/transcriptions/<dialog>.txt <utt> [start-end]: text

Dialogs are named like ``Ses01F_impro01`` / ``Ses01M_script01_1``, utterances like
``Ses01F_impro01_M003`` (the last letter is the speaker's gender). Per-session class counts
follow the paper's Table 1 proportions; about a fifth of the lines carry labels the recipe must
drop (hap, fru, sur, xxx, ...). Texts are neutral grammar sentences: the emotion is in the
prosody only (see :mod:`asr2emo.data.demo.prosody`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from asr2emo.data.demo.grammar import sentence
from asr2emo.data.demo.prosody import Prosody, annotations, draw_style, utterance_prosody
from asr2emo.data.demo.render import (
    SAMPLE_RATE,
    set_level,
    synthesize,
    to_int16,
    trim,
    write_wav,
)
from asr2emo.data.demo.voices import Speaker

KEPT = ("ang", "exc", "neu", "sad")
# Paper Table 1: utterances per session for ang/exc/neu/sad.
TABLE1 = {
    1: (229, 143, 384, 194),
    2: (137, 210, 362, 197),
    3: (240, 151, 320, 305),
    4: (327, 238, 258, 143),
    5: (170, 299, 384, 245),
}
# Labels the recipe drops, with their relative frequencies (roughly as in IEMOCAP).
DROPPED_WEIGHTS = dict(fru=0.4, xxx=0.3, hap=0.2, sur=0.05, fea=0.03, oth=0.01, dis=0.01)
# Dialog names after Ses0{n}: improvisations and scripts, each recorded with F or M wearing markers.
DIALOG_ORDER = tuple(
    "F_impro01 M_script01_1 M_impro01 F_script01_1 F_impro02 M_script02_1 M_impro02 F_script02_1 "
    "F_impro03 M_script01_2 M_impro03 F_script01_2".split()
)
HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
LEVEL_DB = -24.0


@dataclass
class Utterance:
    """One planned turn (before rendering)."""

    gender: str  # "F" or "M"
    label: str
    text: str
    prosody: Prosody
    categories: List[str]
    dims: List[Tuple[int, int, int]]


@dataclass
class DialogPlan:
    """One dialog file: its turns in time order, the two speakers and the session's channel."""

    session: int
    name: str
    turns: List[Utterance]
    speakers: Dict[str, Speaker]
    channel: List[str]
    seed: str


def _largest_remainder(weights: Tuple[int, ...], total: int) -> List[int]:
    raw = [w * total / sum(weights) for w in weights]
    counts = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: counts[i] - raw[i])[: total - sum(counts)]:
        counts[i] += 1
    return [max(1, c) for c in counts]


def plan_session(
    session: int,
    speakers: Dict[str, Speaker],
    kept_per_speaker: int,
    drop_fraction: float,
    dialog_size: int,
    strength: float,
    seed: int,
) -> List[DialogPlan]:
    """Plan a session: label counts (Table 1 proportions), dialogs, texts, prosody, ratings."""
    rng = random.Random(f"{seed}-iemocap-session{session}")
    counts = _largest_remainder(TABLE1[session], 2 * kept_per_speaker)
    labels: Dict[str, List[str]] = {"F": [], "M": []}
    for cls, c in zip(KEPT, counts):
        first = "F" if rng.random() < 0.5 else "M"
        labels[first] += [cls] * ((c + 1) // 2)
        labels["M" if first == "F" else "F"] += [cls] * (c // 2)
    names, weights = zip(*DROPPED_WEIGHTS.items())
    for g in "FM":
        n_drop = int(round(len(labels[g]) * drop_fraction / (1.0 - drop_fraction)))
        labels[g] += rng.choices(names, weights=weights, k=n_drop)
        rng.shuffle(labels[g])
    styles = {g: draw_style(rng) for g in "FM"}
    channel = ["bass", f"{rng.uniform(-4, 4):.1f}"]
    if rng.random() < 0.6:
        channel += ["reverb", f"{rng.uniform(5, 30):.0f}", "50", f"{rng.uniform(20, 60):.0f}"]
    n_lines = len(labels["F"]) + len(labels["M"])
    n_dialogs = max(2, min(len(DIALOG_ORDER), round(n_lines / dialog_size)))
    chunks = {g: np.array_split(np.array(labels[g], dtype=object), n_dialogs) for g in "FM"}
    dialogs = []
    for d in range(n_dialogs):
        order = ["F"] * len(chunks["F"][d]) + ["M"] * len(chunks["M"][d])
        rng.shuffle(order)
        queues = {g: list(chunks[g][d]) for g in "FM"}
        turns = []
        for g in order:
            label = queues[g].pop(0)
            spk = speakers[g]
            cats, dims = annotations(label, rng)
            turns.append(
                Utterance(
                    gender=g,
                    label=label,
                    text=sentence(rng, 3, 9),
                    prosody=utterance_prosody(label, spk.pitch, spk.rate, styles[g], rng, strength),
                    categories=cats,
                    dims=dims,
                )
            )
        dialogs.append(
            DialogPlan(
                session=session,
                name=f"Ses0{session}{DIALOG_ORDER[d]}",
                turns=turns,
                speakers=speakers,
                channel=channel,
                seed=f"{seed}-Ses0{session}-{d}",
            )
        )
    return dialogs


def _evaluation_block(
    start: float, end: float, utt_id: str, u: Utterance, rng: random.Random
) -> str:
    v, a, d = np.mean(np.array(u.dims, dtype=float), axis=0)
    lines = [f"[{start:.4f} - {end:.4f}]\t{utt_id}\t{u.label}\t[{v:.4f}, {a:.4f}, {d:.4f}]"]
    cat_eval = sorted(rng.sample(["C-E1", "C-E2", "C-E3", "C-E4"], len(u.categories) - 1))
    cat_eval.append(f"C-{u.gender}1")  # the actor's self-evaluation, as in the real files
    for who, cat in zip(cat_eval, u.categories):
        lines.append(f"{who}:\t{cat}\t()")
    dim_eval = sorted(rng.sample(["A-E1", "A-E2", "A-E3", "A-E4"], len(u.dims)))
    for who, (v, a, d) in zip(dim_eval, u.dims):
        lines.append(f"{who}:\tval {v}; act {a}; dom  {d};\t()")
    return "\n".join(lines) + "\n\n"


def write_dialog(root: Path, plan: DialogPlan) -> List[Tuple[int, str, str, str, float]]:
    """Render a dialog's turns, lay them on a timeline, write wavs and the EmoEvaluation file.

    Returns (session, utt_id, speaker gender, label, seconds) per turn.
    """
    rng = random.Random(plan.seed)
    session_dir = root / f"Session{plan.session}"
    wav_dir = session_dir / "sentences" / "wav" / plan.name
    wav_dir.mkdir(parents=True, exist_ok=True)
    eval_dir = session_dir / "dialog" / "EmoEvaluation"
    eval_dir.mkdir(parents=True, exist_ok=True)
    trans_dir = session_dir / "dialog" / "transcriptions"
    trans_dir.mkdir(parents=True, exist_ok=True)
    numbers = {"F": 0, "M": 0}
    t = round(rng.uniform(1.0, 4.0), 3)
    blocks = [HEADER]
    transcript = []
    out = []
    for u in plan.turns:
        spk = plan.speakers[u.gender]
        p = u.prosody
        x = synthesize(u.text, spk.voice, p.pitch, p.rate, p.range_pct, p.effects + plan.channel)
        x = set_level(trim(x), LEVEL_DB)
        x = x * np.float32(10 ** (p.gain_db / 20))
        utt_id = f"{plan.name}_{u.gender}{numbers[u.gender]:03d}"
        numbers[u.gender] += 1
        write_wav(wav_dir / f"{utt_id}.wav", to_int16(x))
        dur = len(x) / SAMPLE_RATE
        start, end = t, round(t + dur, 4)
        blocks.append(_evaluation_block(start, end, utt_id, u, rng))
        transcript.append(f"{utt_id} [{start:08.4f}-{end:08.4f}]: {u.text.capitalize()}.\n")
        out.append((plan.session, utt_id, u.gender, u.label, dur))
        t = round(end + rng.uniform(0.2, 2.5), 3)
    (eval_dir / f"{plan.name}.txt").write_text("".join(blocks))
    (trans_dir / f"{plan.name}.txt").write_text("".join(transcript))
    return out
