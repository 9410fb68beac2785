"""Frame splicing (Kaldi ``splice-feats``) and a mean-normalizing PCA (Kaldi ``est-pca``)."""

from __future__ import annotations

from typing import Dict

import torch

from asr2emo.utils.errors import UserError


def splice(feats: torch.Tensor, context: int) -> torch.Tensor:
    """``(T, D) -> (T, (2*context+1)*D)``; edges repeat the first/last frame, as Kaldi does."""
    if context == 0:
        return feats
    T = feats.shape[0]
    idx = torch.arange(-context, context + 1).unsqueeze(0) + torch.arange(T).unsqueeze(1)
    return feats[idx.clamp_(0, T - 1)].reshape(T, -1)


class Pca:
    """``y = W (x - mean)`` with the rows of ``W`` the top eigenvectors of the covariance."""

    def __init__(self, mean: torch.Tensor, transform: torch.Tensor) -> None:
        self.mean = mean.double()
        self.transform = transform.double()

    @classmethod
    def estimate(cls, frames: torch.Tensor, dim: int) -> "Pca":
        frames = frames.double()
        if dim > frames.shape[1]:
            raise UserError(
                f"--pca-dim={dim} exceeds the spliced feature dim {frames.shape[1]}; "
                "lower --pca-dim or raise --splice-context"
            )
        mean = frames.mean(0)
        centered = frames - mean
        cov = centered.T @ centered / max(1, frames.shape[0] - 1)
        evals, evecs = torch.linalg.eigh(cov)
        order = torch.argsort(evals, descending=True)[:dim]
        return cls(mean, evecs[:, order].T.contiguous())

    @property
    def dim(self) -> int:
        return self.transform.shape[0]

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        W = self.transform.to(frames.dtype)
        return (frames - self.mean.to(frames.dtype)) @ W.T

    def state_dict(self) -> Dict[str, torch.Tensor]:
        return {"mean": self.mean, "transform": self.transform}

    @classmethod
    def from_state_dict(cls, state: Dict[str, torch.Tensor]) -> "Pca":
        return cls(state["mean"], state["transform"])
