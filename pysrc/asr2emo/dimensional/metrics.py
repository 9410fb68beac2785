"""Concordance correlation coefficient (Lin 1989), Pearson r and MSE; the CCC training loss.

``CCC = 2 cov(x, y) / (var(x) + var(y) + (mean(x) - mean(y))^2)`` with population (1/N)
moments. Unlike Pearson r it penalizes shifts and scale differences, so ``CCC(x, x + c) < r``
for ``c != 0`` while ``r = 1``. Undefined values (constant inputs) are returned as NaN.
"""

from __future__ import annotations

from typing import Dict

import numpy as np
import torch


def ccc(pred: np.ndarray, gold: np.ndarray) -> float:
    x, y = np.asarray(pred, dtype=np.float64), np.asarray(gold, dtype=np.float64)
    mx, my = x.mean(), y.mean()
    vx, vy = ((x - mx) ** 2).mean(), ((y - my) ** 2).mean()
    cov = ((x - mx) * (y - my)).mean()
    denom = vx + vy + (mx - my) ** 2
    return float(2 * cov / denom) if denom > 0 else float("nan")


def pearson(pred: np.ndarray, gold: np.ndarray) -> float:
    x, y = np.asarray(pred, dtype=np.float64), np.asarray(gold, dtype=np.float64)
    sx, sy = x.std(), y.std()
    if sx == 0 or sy == 0:
        return float("nan")
    return float(((x - x.mean()) * (y - y.mean())).mean() / (sx * sy))


def mse(pred: np.ndarray, gold: np.ndarray) -> float:
    x, y = np.asarray(pred, dtype=np.float64), np.asarray(gold, dtype=np.float64)
    return float(((x - y) ** 2).mean())


def scores(pred: np.ndarray, gold: np.ndarray) -> Dict[str, float]:
    return {"ccc": ccc(pred, gold), "pearson": pearson(pred, gold), "mse": mse(pred, gold)}


def ccc_loss(pred: torch.Tensor, gold: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``1 - mean over columns of CCC`` for ``(N, D)`` tensors (differentiable)."""
    mx, my = pred.mean(dim=0), gold.mean(dim=0)
    vx = ((pred - mx) ** 2).mean(dim=0)
    vy = ((gold - my) ** 2).mean(dim=0)
    cov = ((pred - mx) * (gold - my)).mean(dim=0)
    c = 2 * cov / (vx + vy + (mx - my) ** 2 + eps)
    return 1.0 - c.mean()
