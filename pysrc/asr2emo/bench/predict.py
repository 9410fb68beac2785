"""Benchmark: ``asr2emo predict`` real-time factor at PAPER size, 1 thread, and its cost growth.

One file at a time through :class:`asr2emo.emotion.predict.EmotionPredictor` (what the verb runs
per file): read, downmix, resample to 16 kHz, hires MFCC, online i-vectors, the frozen TDNN-F up
to layer 12, the emotion head. The model dir holds random parts of the real kinds and sizes
(:func:`asr2emo.bench.synthetic.make_random_model_dir`; the cost does not depend on the
values): paper size = conf/tdnnf.conf + UBM 512 / i-vector dim 100 (conf/ivector.conf).
Inputs: 44.1 kHz stereo wav files of 1, 10 and 60 s (a tone plus noise). The figure is the RTF
on the 60 s file; ``growth`` is seconds per file for each length and cost(60 s) / cost(10 s)
(6 when the cost is linear). The demo size is the entry ``predict_demo`` (its own process, so
each size has its own ``peak_rss_mb``).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Dict

import numpy as np
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parents[3]
SIZES = {
    # name: (tdnnf conf, UBM Gaussians) as conf/{,mini/}tdnnf.conf and conf/{,mini/}ivector.conf
    "paper": (REPO / "conf" / "tdnnf.conf", 512),
    "demo": (REPO / "conf" / "mini" / "tdnnf.conf", 64),
}


def write_wav(path: Path, seconds: float, sr: int = 44100) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 150 * t) + 0.01 * rng.standard_normal(t.shape)
    sf.write(str(path), np.stack([x, 0.5 * x], axis=1).astype(np.float32), sr)
    return path


def breakdown(predictor, wav: Path, reps: int) -> Dict[str, float]:
    """Seconds per step of :meth:`EmotionPredictor.predict_file` on ``wav`` (best of ``reps``)."""
    from asr2emo.data.long_audio import read_mono
    from asr2emo.features.mfcc import compute_mfcc

    best: Dict[str, float] = {}

    def timed(name, fn, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        best[name] = min(best.get(name, float("inf")), time.perf_counter() - t0)
        return out

    for _ in range(reps):
        samples, sr = timed("read", read_mono, wav)
        feats = timed("mfcc", compute_mfcc, samples, sr)
        ivecs = timed("ivector", predictor.ivector.extract_online, feats)
        x = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))[None]
        iv = torch.from_numpy(np.ascontiguousarray(ivecs, dtype=np.float32))[None]
        frames = timed("tdnnf", predictor.acoustic.extract, x, iv, predictor.layer)[0]
        timed("head", predictor.predict_frames, frames)
    return {k: round(v, 4) for k, v in best.items()}


def measure(size: str, quick: bool = False) -> Dict:
    """RTF and cost growth of predict_file for one model size, in this process."""
    from asr2emo.bench.synthetic import make_random_model_dir
    from asr2emo.emotion.predict import EmotionPredictor
    from asr2emo.model.tdnnf import read_model_config

    torch.set_num_threads(1)
    conf, num_gauss = SIZES[size]
    lengths = (1.0, 10.0) if quick else (1.0, 10.0, 60.0)
    reps = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        cfg = asdict(read_model_config(str(conf)))
        model_dir = make_random_model_dir(Path(tmp), tdnnf_kwargs=cfg, num_gauss=num_gauss)
        wavs = {s: write_wav(Path(tmp) / f"{s:g}s.wav", s) for s in lengths}
        t0 = time.perf_counter()
        predictor = EmotionPredictor(model_dir)
        load_s = time.perf_counter() - t0
        predictor.predict_file(wavs[lengths[0]])  # warm-up
        cost = {}
        for s in lengths:
            best = float("inf")
            for _ in range(reps):
                t0 = time.perf_counter()
                predictor.predict_file(wavs[s])
                best = min(best, time.perf_counter() - t0)
            cost[s] = best
        parts = breakdown(predictor, wavs[lengths[-1]], reps)
    longest = lengths[-1]
    growth = {f"{s:g}s": round(c, 4) for s, c in cost.items()}
    return {
        "figure": round(cost[longest] / longest, 4),
        "unit": f"predict RTF, {size} size, {longest:g} s file",
        "goal": "<= 0.05" if size == "paper" else "",
        "rtf": {f"{s:g}s": round(c / s, 4) for s, c in cost.items()},
        "growth_s_per_file": growth,
        "ratio_60s_10s": round(cost[60.0] / cost[10.0], 2) if 60.0 in cost else None,
        "parts_s_longest": parts,
        "model_load_s": round(load_s, 3),
        "params": predictor.acoustic.num_params(),
        "num_gauss": num_gauss,
        "input": "44.1 kHz stereo wav (downmix + resample)",
        "timing": f"best of {reps}, 1 thread, model loaded once",
    }


def run(quick: bool = False) -> dict:
    return measure("paper", quick)
