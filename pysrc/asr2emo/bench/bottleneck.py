"""Benchmark: stage-7 bottleneck extraction (tdnnf12) x real time, paper and demo sizes, 1 thread.

The frozen TDNN-F (random weights, eval mode: the cost does not depend on the values) runs up to
``tdnnf12`` over 60 s of seeded random 40-dim features + i-vectors in chunks of 500 output
frames, as ``asr2emo extract-bottleneck`` does.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from asr2emo.model.tdnnf import TdnnfModel, read_model_config

REPO = Path(__file__).resolve().parents[3]


def measure(conf: Path, seconds: float) -> float:
    torch.manual_seed(0)
    model = TdnnfModel(read_model_config(conf), 40).eval()
    frames = int(seconds * 100)
    feats = torch.randn(1, frames, 40)
    ivecs = torch.randn(1, frames // 10 + 1, model.config.ivector_dim)
    model.extract(feats[:, :300], ivecs[:, :30], "tdnnf12")  # warm-up
    t0 = time.perf_counter()
    model.extract(feats, ivecs, "tdnnf12", chunk_size=500)
    return seconds / (time.perf_counter() - t0)


def run(quick: bool = False) -> dict:
    torch.set_num_threads(1)
    seconds = 20.0 if quick else 60.0
    paper = measure(REPO / "conf" / "tdnnf.conf", seconds)
    demo = measure(REPO / "conf" / "mini" / "tdnnf.conf", seconds)
    return {
        "figure": round(paper, 1),
        "unit": "x real time, tdnnf12 at paper size (1 thread)",
        "demo_x_real_time": round(demo, 1),
        "audio_seconds": seconds,
    }
