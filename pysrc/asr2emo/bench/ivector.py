"""Benchmark: online i-vector extraction x real-time on one core at paper sizes.

A model of the paper's size (splice +-3 of 40-dim MFCC, PCA to 40, UBM of 512 diagonal
Gaussians, i-vector dim 100, 5 Gaussians selected per frame, one i-vector per 10 frames) with
random parameters: the cost does not depend on the values. Input: MFCC of ../shared/data/urdu
when present (else seeded noise), cut into 10 s utterances, 100 frames per second.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import List

import numpy as np
import torch

from asr2emo.ivector.extractor import IvectorExtractor, IvectorOptions
from asr2emo.ivector.pca import Pca
from asr2emo.ivector.ubm import DiagGmm

URDU = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "urdu"


def random_extractor(
    num_gauss: int = 512, ivector_dim: int = 100, feat_dim: int = 40, seed: int = 0
) -> IvectorExtractor:
    """A paper-sized extractor with seeded random parameters."""
    g = torch.Generator().manual_seed(seed)
    opts = IvectorOptions()
    in_dim = feat_dim * (2 * opts.splice_context + 1)
    q, _ = torch.linalg.qr(torch.randn(in_dim, feat_dim, generator=g, dtype=torch.float64))
    pca = Pca(torch.zeros(in_dim, dtype=torch.float64), q.T.contiguous() * 0.1)
    ubm = DiagGmm(
        torch.full((num_gauss,), 1.0 / num_gauss, dtype=torch.float64),
        torch.randn(num_gauss, feat_dim, generator=g, dtype=torch.float64),
        torch.rand(num_gauss, feat_dim, generator=g, dtype=torch.float64) + 0.5,
    )
    T = 0.1 * torch.randn(num_gauss, feat_dim, ivector_dim, generator=g, dtype=torch.float64)
    return IvectorExtractor(pca, ubm, T, opts)


def utterances(seconds: float, utt_seconds: float = 10.0) -> List[np.ndarray]:
    """MFCC matrices of ``utt_seconds`` each, about ``seconds`` in total."""
    frames_needed = int(seconds * 100)
    chunks: List[np.ndarray] = []
    if URDU.is_dir():
        from lhotse import Recording

        from asr2emo.features.mfcc import compute_mfcc

        for wav in sorted(URDU.glob("*/*.wav")):
            rec = Recording.from_file(wav)
            chunks.append(compute_mfcc(rec.load_audio()[0], rec.sampling_rate))
            if sum(len(c) for c in chunks) >= min(frames_needed, 6000):
                break
        feats = np.concatenate(chunks)
    else:
        feats = np.random.default_rng(0).standard_normal((6000, 40)).astype(np.float32)
    feats = np.resize(feats, (frames_needed, feats.shape[1]))
    step = int(utt_seconds * 100)
    return [feats[i : i + step] for i in range(0, frames_needed, step)]


def run(quick: bool = False) -> dict:
    torch.set_num_threads(1)
    seconds = 60.0 if quick else 600.0
    extractor = random_extractor()
    utts = utterances(seconds)
    extractor.extract_online(utts[0])  # warm-up: derived matrices, allocator
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for u in utts:
            extractor.extract_online(u)
        best = min(best, time.perf_counter() - t)
    audio = sum(len(u) for u in utts) / 100.0
    return {
        "figure": round(audio / best, 1),
        "unit": "x real-time",
        "goal": ">= 200",
        "audio_seconds": audio,
        "utterance_seconds": 10.0,
        "num_gauss": 512,
        "ivector_dim": 100,
        "ivector_period": 10,
        "threads": torch.get_num_threads(),
        "timing": "best of 3, online extraction incl. splice, PCA, Gaussian selection",
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv)))
