"""Attentive statistics pooling of bottleneck frames and per-layer utterance statistics.

:class:`AttentiveStatsPooling` follows Okabe et al. (2018), "Attentive Statistics Pooling for
Deep Speaker Embedding": a small MLP scores every frame, the softmax of the scores over the
utterance's valid frames weights the mean and the standard deviation, which are concatenated.
:func:`layer_statistics` gives every utterance's plain (unweighted) mean and standard deviation
per layer, the input of the layer-mixing head; :func:`layer_frames` every layer's frames side by
side, the input of the frame-level layer mixture.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
import torch
from torch import nn

from asr2emo.emotion.data import ARRAY_KEY, FrameData, load_frames, open_cuts
from asr2emo.utils.errors import UserError


class AttentiveStatsPooling(nn.Module):
    """``(B, T, D)`` frames + ``(B, T)`` mask -> ``(B, 2 D)`` attention-weighted mean and std."""

    def __init__(self, dim: int, attention_dim: int = 128, eps: float = 1e-5) -> None:
        super().__init__()
        self.score = nn.Sequential(nn.Linear(dim, attention_dim), nn.Tanh())
        self.v = nn.Linear(attention_dim, 1)
        self.eps = eps

    def weights(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` attention weights, zero on padded frames, summing to 1 per utterance."""
        e = self.v(self.score(x)).squeeze(-1)
        e = e.masked_fill(~mask, float("-inf"))
        return torch.softmax(e, dim=1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        a = self.weights(x, mask).unsqueeze(-1)
        mean = (a * x).sum(dim=1)
        var = (a * x * x).sum(dim=1) - mean * mean
        return torch.cat([mean, var.clamp(min=self.eps).sqrt()], dim=1)


def utterance_stats(frames: np.ndarray) -> np.ndarray:
    """``(2 D,)`` mean and standard deviation over the frames of one utterance (float64 sums)."""
    x = np.asarray(frames, dtype=np.float64)
    mean = x.mean(axis=0)
    std = np.sqrt(np.maximum((x * x).mean(axis=0) - mean * mean, 0.0))
    return np.concatenate([mean, std]).astype(np.float32)


def layer_statistics(
    bottleneck_dir: Path, layers: Sequence[str], ids: List[str]
) -> Dict[str, np.ndarray]:
    """``{layer: (U, 2 D) float32}``: the statistics of the utterances ``ids`` (in that order)
    from ``<bottleneck_dir>/<layer>/cuts.jsonl.gz``, one utterance in memory at a time."""
    out = {}
    for layer in layers:
        path = Path(bottleneck_dir) / layer / "cuts.jsonl.gz"
        cuts = open_cuts(path, f"{layer} bottleneck cuts", " (run the layer sweep's extraction)")
        row = {u: i for i, u in enumerate(ids)}
        stats: List[np.ndarray] = [None] * len(ids)  # type: ignore[list-item]
        for cut in cuts:
            if cut.id in row and cut.has_custom(ARRAY_KEY):
                stats[row[cut.id]] = utterance_stats(cut.load_custom(ARRAY_KEY))
        missing = [u for u, s in zip(ids, stats) if s is None]
        if missing:
            raise UserError(
                f"{path}: {len(missing)} of the {len(ids)} utterances have no bottleneck "
                f"(e.g. {missing[0]}); extract every layer from the same cuts as stage 7"
            )
        out[layer] = np.stack(stats)
    return out


def layer_frames(
    bottleneck_dir: Path, layers: Sequence[str], data: FrameData, dtype: str = "float32"
) -> FrameData:
    """``data`` with ``feats`` ``(N, L, D)``: the frames of every layer in ``layers`` (from
    ``<bottleneck_dir>/<layer>/cuts.jsonl.gz``), row for row aligned with ``data``'s frames.

    Filled layer by layer into one allocation (``dtype``; float16 halves it: at paper scale
    13 layers of IEMOCAP are about 19 GB in float16). A layer whose utterances or frame counts
    differ from ``data``'s is a UserError.
    """
    feats = None
    for j, layer in enumerate(layers):
        path = Path(bottleneck_dir) / layer / "cuts.jsonl.gz"
        one = load_frames(
            open_cuts(path, f"{layer} bottleneck cuts", " (run the layer sweep's extraction)"),
            data.classes,
            dtype=dtype,
        )
        if one.ids != data.ids or not np.array_equal(one.offsets, data.offsets):
            raise UserError(
                f"{path}: utterances or frame counts differ from the paper layer's; extract "
                "every layer from the same cuts and model"
            )
        if feats is None:
            feats = torch.empty((len(one.feats), len(layers), one.dim), dtype=one.feats.dtype)
        elif one.dim != feats.shape[2]:
            raise UserError(f"layers {list(layers)} have different dimensions: mix only equals")
        feats[:, j] = one.feats
    return dataclasses.replace(data, feats=feats)
