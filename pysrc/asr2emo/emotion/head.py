"""The emotion head: per-fold standardization and dense layer(s) + softmax over the classes.

With no hidden layer this is the paper's single dense layer + softmax (multinomial logistic
regression on the standardized bottleneck frames); hidden layers add ReLU + dropout.
"""

from __future__ import annotations

from typing import Dict, Sequence

import torch
from torch import nn


class Standardizer(nn.Module):
    """``(x - mean) / std`` with statistics from training frames only (stored as buffers)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    @torch.no_grad()
    def fit(
        self, x: torch.Tensor, rows=None, floor: float = 1e-5, chunk: int = 1 << 13
    ) -> "Standardizer":
        """Mean and standard deviation of ``x`` (or of its ``rows``), accumulated in float64 over
        chunks of ``chunk`` rows (two passes: the mean, then the squares around it), so that no
        float64 copy of the frame matrix is ever made (~6 GB per layer at paper scale); 8k rows
        keep the transient at 64 MB for 1024 dims."""
        n = x.shape[0] if rows is None else len(rows)

        def chunks():
            for s in range(0, n, chunk):
                yield (x[s : s + chunk] if rows is None else x[rows[s : s + chunk]]).double()

        total = torch.zeros(x.shape[1], dtype=torch.float64)
        for c in chunks():
            total += c.sum(dim=0)
        mean = total / max(n, 1)
        sq = torch.zeros_like(mean)
        for c in chunks():
            sq += ((c - mean) ** 2).sum(dim=0)
        self.mean.copy_(mean.float())
        self.std.copy_((sq / max(n, 1)).sqrt().clamp(min=floor).float())
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class EmotionHead(nn.Module):
    """Standardizer -> [Linear -> ReLU -> Dropout]* -> Dropout -> Linear; returns log-softmax."""

    def __init__(
        self,
        input_dim: int,
        num_classes: int,
        hidden_dims: Sequence[int] = (),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.config: Dict = {
            "input_dim": int(input_dim),
            "num_classes": int(num_classes),
            "hidden_dims": [int(h) for h in hidden_dims],
            "dropout": float(dropout),
        }
        self.standardizer = Standardizer(input_dim)
        layers: list[nn.Module] = []
        dim = input_dim
        for h in hidden_dims:
            layers += [nn.Linear(dim, h), nn.ReLU(), nn.Dropout(dropout)]
            dim = h
        if not hidden_dims and dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(dim, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, input_dim)`` raw bottleneck frames -> ``(N, num_classes)`` log-probabilities."""
        return torch.log_softmax(self.net(self.standardizer(x)), dim=-1)


def save_head(head: EmotionHead, path, classes: Sequence[str], extra: Dict | None = None) -> None:
    """Write the head's weights, its constructor config and the class names to one file."""
    torch.save(
        {
            "config": head.config,
            "classes": list(classes),
            "state_dict": head.state_dict(),
            **(extra or {}),
        },
        path,
    )


def load_head(path) -> tuple[EmotionHead, list[str]]:
    """Inverse of :func:`save_head`; the head is returned in eval mode."""
    ckpt = torch.load(path, map_location="cpu")
    head = EmotionHead(**ckpt["config"])
    head.load_state_dict(ckpt["state_dict"])
    head.eval()
    return head, list(ckpt["classes"])
