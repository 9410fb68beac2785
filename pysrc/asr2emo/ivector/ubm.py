"""Diagonal-covariance GMM (the UBM): log-likelihoods, Gaussian selection, EM training.

The log-likelihood of all Gaussians is one matrix product over ``[x^2, x, 1]``; EM statistics are
accumulated in float64 over frame batches, so no Python loop runs over frames or Gaussians.
"""

from __future__ import annotations

import logging
import math
from typing import Dict, List, Tuple

import torch


class DiagGmm:
    """Weights ``(C,)``, means ``(C, D)`` and variances ``(C, D)`` (float64)."""

    def __init__(self, weights: torch.Tensor, means: torch.Tensor, variances: torch.Tensor) -> None:
        self.weights = weights.double()
        self.means = means.double()
        self.variances = variances.double()
        self._cache: Dict[torch.dtype, Tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def num_gauss(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def _params(self, dtype: torch.dtype) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(2D, C)`` weights on ``[x^2, x]`` and ``(C,)`` constants of the log-likelihood."""
        if dtype not in self._cache:
            inv = 1.0 / self.variances
            lin = torch.cat([-0.5 * inv, self.means * inv], dim=1).T.contiguous()
            const = (
                torch.log(self.weights.clamp_min(1e-300))
                - 0.5 * (torch.log(2 * math.pi * self.variances).sum(1))
                - 0.5 * (self.means.square() * inv).sum(1)
            )
            self._cache[dtype] = (lin.to(dtype), const.to(dtype))
        return self._cache[dtype]

    def log_likelihoods(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, C)``: log of ``w_c N(x_t; m_c, diag(v_c))``."""
        lin, const = self._params(x.dtype)
        return torch.cat([x.square(), x], dim=1) @ lin + const

    def gselect_posteriors(
        self, x: torch.Tensor, num_gselect: int, min_post: float = 0.0
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Posteriors over the ``num_gselect`` best Gaussians of each frame: ``(T, k)`` ids and
        posteriors (renormalized after dropping those below ``min_post``, as Kaldi does)."""
        loglik = self.log_likelihoods(x)
        k = min(num_gselect, self.num_gauss)
        top, idx = torch.topk(loglik, k, dim=1)
        post = torch.softmax(top, dim=1)
        if min_post > 0:
            keep = post >= min_post
            keep[:, 0] = True
            post = post * keep
            post = post / post.sum(1, keepdim=True)
        return idx, post

    def state_dict(self) -> Dict[str, torch.Tensor]:
        return {"weights": self.weights, "means": self.means, "variances": self.variances}

    @classmethod
    def from_state_dict(cls, state: Dict[str, torch.Tensor]) -> "DiagGmm":
        return cls(state["weights"], state["means"], state["variances"])


def init_gmm(frames: torch.Tensor, num_gauss: int, generator: torch.Generator) -> DiagGmm:
    """Means at distinct random frames, global variance, uniform weights."""
    frames = frames.double()
    pick = torch.randperm(frames.shape[0], generator=generator)[:num_gauss]
    if len(pick) < num_gauss:
        raise ValueError(f"{frames.shape[0]} frames are too few for {num_gauss} Gaussians")
    var = frames.var(0, unbiased=False).expand(num_gauss, -1).clone()
    return DiagGmm(torch.full((num_gauss,), 1.0 / num_gauss), frames[pick].clone(), var)


def em_step(
    gmm: DiagGmm, frames: torch.Tensor, var_floor: torch.Tensor, batch: int = 20000
) -> Tuple[DiagGmm, float]:
    """One EM iteration; returns the new GMM and the average log-likelihood under the old one.

    Variances are floored at ``var_floor`` (the constrained maximum, so EM stays monotone);
    a Gaussian without data keeps its mean and variance and gets weight 0.
    """
    frames = frames.double()
    C, D = gmm.num_gauss, gmm.dim
    n = torch.zeros(C, dtype=torch.float64)
    s1 = torch.zeros(C, D, dtype=torch.float64)
    s2 = torch.zeros(C, D, dtype=torch.float64)
    total = 0.0
    for start in range(0, frames.shape[0], batch):
        x = frames[start : start + batch]
        loglik = gmm.log_likelihoods(x)
        norm = torch.logsumexp(loglik, dim=1, keepdim=True)
        total += float(norm.sum())
        post = torch.exp(loglik - norm)
        n += post.sum(0)
        s1 += post.T @ x
        s2 += post.T @ x.square()
    used = n > 1e-10
    safe = n.clamp_min(1e-10).unsqueeze(1)
    means = torch.where(used.unsqueeze(1), s1 / safe, gmm.means)
    var = torch.where(used.unsqueeze(1), s2 / safe - means.square(), gmm.variances)
    var = torch.maximum(var, var_floor.expand_as(var))
    weights = n / n.sum()
    return DiagGmm(weights, means, var), total / frames.shape[0]


def train_ubm(
    frames: torch.Tensor,
    num_gauss: int,
    num_iters: int,
    seed: int = 0,
    var_floor_scale: float = 0.001,
) -> Tuple[DiagGmm, List[float]]:
    """EM from :func:`init_gmm`; returns the UBM and the average log-likelihood per iteration
    (``objective[i]`` is that of the model before update ``i``, plus the final model's last)."""
    g = torch.Generator().manual_seed(seed)
    frames = frames.double()
    gmm = init_gmm(frames, num_gauss, g)
    var_floor = var_floor_scale * frames.var(0, unbiased=False)
    objective = []
    for it in range(num_iters):
        gmm, obj = em_step(gmm, frames, var_floor)
        objective.append(obj)
        logging.info(f"UBM iteration {it}: average log-likelihood per frame {obj:.5f}")
    final = average_loglik(gmm, frames)
    objective.append(final)
    logging.info(f"UBM final: average log-likelihood per frame {final:.5f}")
    return gmm, objective


def average_loglik(gmm: DiagGmm, frames: torch.Tensor, batch: int = 20000) -> float:
    frames = frames.double()
    total = 0.0
    for start in range(0, frames.shape[0], batch):
        total += float(torch.logsumexp(gmm.log_likelihoods(frames[start : start + batch]), 1).sum())
    return total / frames.shape[0]
