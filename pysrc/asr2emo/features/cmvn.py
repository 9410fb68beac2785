"""Global cepstral mean and variance statistics of a training set (Kaldi ``compute-cmvn-stats``).

Stored next to the features as ``<corpus>_cmvn.json`` and applied by the model input pipeline;
sums are kept in float64 so the statistics of hundreds of hours are exact enough.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Union

import numpy as np

from asr2emo.utils.io import atomic_path

Pathlike = Union[str, Path]


class GlobalCmvn:
    """Accumulate ``sum``, ``sum of squares`` and frame count; give mean/std and normalize."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.count = 0
        self.sum = np.zeros(dim, dtype=np.float64)
        self.sumsq = np.zeros(dim, dtype=np.float64)

    def accumulate(self, feats: np.ndarray) -> None:
        """Add the frames of one ``(T, dim)`` matrix."""
        feats = np.asarray(feats, dtype=np.float64)
        if feats.ndim != 2 or feats.shape[1] != self.dim:
            raise ValueError(f"expected (T, {self.dim}) features, got {feats.shape}")
        self.count += feats.shape[0]
        self.sum += feats.sum(axis=0)
        self.sumsq += np.square(feats).sum(axis=0)

    def add(self, other: "GlobalCmvn") -> None:
        """Merge statistics accumulated elsewhere (e.g. in another job)."""
        self.count += other.count
        self.sum += other.sum
        self.sumsq += other.sumsq

    @property
    def mean(self) -> np.ndarray:
        if self.count == 0:
            raise ValueError("no frames accumulated")
        return self.sum / self.count

    @property
    def std(self) -> np.ndarray:
        var = self.sumsq / self.count - np.square(self.mean)
        return np.sqrt(np.maximum(var, 1e-10))

    def normalize(self, feats: np.ndarray) -> np.ndarray:
        """``(feats - mean) / std`` in float32."""
        return ((feats - self.mean) / self.std).astype(np.float32)

    def save(self, path: Pathlike) -> None:
        data = {
            "dim": self.dim,
            "count": self.count,
            "sum": self.sum.tolist(),
            "sumsq": self.sumsq.tolist(),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
        }
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(data, indent=1) + "\n")

    @classmethod
    def load(cls, path: Pathlike) -> "GlobalCmvn":
        data = json.loads(Path(path).read_text())
        cmvn = cls(int(data["dim"]))
        cmvn.count = int(data["count"])
        cmvn.sum = np.asarray(data["sum"], dtype=np.float64)
        cmvn.sumsq = np.asarray(data["sumsq"], dtype=np.float64)
        return cmvn
