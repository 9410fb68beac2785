"""Training of the i-vector extractor (Kaldi ``steps/online/nnet2/{get_pca_transform,
train_diag_ubm,train_ivector_extractor}.sh``).

Splice +-3 and PCA to 40 dims, then a diagonal UBM by EM, both on online-CMVN'd features of a
subset (``max_utts`` utterances, ``ubm_max_frames`` frames; Kaldi trains them on a subset too).
Then the total-variability matrix by EM on every training utterance, each its own "speaker"
(``ivector-extractor-acc-stats`` accumulates per utterance), from raw-feature statistics with
posteriors scaled by ``posterior_scale * subsample`` over the Gaussian-selected components.

One T-matrix iteration is Kaldi's ``ivector-extractor-est`` (``IvectorExtractorStats::Update`` in
``src/ivector/ivector-extractor.cc``): the projections ``T_c = Y_c R_c^-1`` for Gaussians with
at least ``gaussian_min_count`` frames, then the minimum-divergence prior update
(``UpdatePrior``): the i-vector space is transformed so that the training i-vectors' mean is
``[p', 0, ...]`` and their covariance the unit matrix, and ``p'`` becomes the prior offset;
with ``diagonalize`` the dimensions after the first are rotated to diagonalize the average
quadratic term (``GetOrthogonalIvectorTransform``). The objective is the exact log-likelihood
(per frame, up to a constant) of the first-order statistics under the factor-analysis model,
``sum_u 1/2 b_u' L_u^-1 b_u - 1/2 p^2 - 1/2 log |L_u|``, which this EM never decreases.
The statistics are recomputed from the features each pass, as Kaldi's passes do, so memory does
not grow with the number of utterances.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from asr2emo.ivector.cmvn import OnlineCmvnOptions, online_cmvn
from asr2emo.ivector.extractor import (
    PRIOR_OFFSET,
    IvectorExtractor,
    IvectorOptions,
    pack_index,
    unpack,
)
from asr2emo.ivector.pca import Pca, splice
from asr2emo.ivector.ubm import DiagGmm, train_ubm

StatsBatches = Callable[[], Iterable[Tuple[torch.Tensor, torch.Tensor]]]


@dataclass
class TrainOptions:
    """Sizes and iteration counts (``conf/ivector.conf``); Kaldi's defaults where Kaldi has the
    option (``ivector-extractor-est``: ``--gaussian-min-count``, ``--diagonalize``)."""

    pca_dim: int = 40
    num_gauss: int = 512
    num_iters_ubm: int = 8
    ubm_max_frames: int = 700000
    ivector_dim: int = 100
    num_iters: int = 10
    subsample: int = 2
    max_utts: int = 0
    min_frames: int = 10
    gaussian_min_count: float = 100.0
    diagonalize: bool = True
    seed: int = 0


def ubm_subset(num_utts: int, max_utts: int, seed: int) -> List[int]:
    """Sorted indices of the utterances PCA, the UBM and the global CMVN stats are estimated
    on: a seeded random ``max_utts`` of them (all when ``max_utts`` is 0 or larger)."""
    if max_utts <= 0 or max_utts >= num_utts:
        return list(range(num_utts))
    g = torch.Generator().manual_seed(seed)
    return sorted(torch.randperm(num_utts, generator=g)[:max_utts].tolist())


def global_cmvn_mean(feats: Sequence[np.ndarray]) -> torch.Tensor:
    """The mean of every frame (float64), what Kaldi's ``global_cmvn.stats`` (the summed
    per-speaker CMVN stats) gives online CMVN."""
    total, count = None, 0
    for f in feats:
        s = torch.as_tensor(np.asarray(f)).double().sum(0)
        total = s if total is None else total + s
        count += len(f)
    return total / count


def ubm_frames(
    feats: Sequence[np.ndarray],
    splice_context: int,
    opts: TrainOptions,
    normalize: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
) -> torch.Tensor:
    """The spliced frames PCA and the UBM are estimated on, float64 ``(n, (2c+1) D)``: every
    ``subsample``-th frame, and when there are more than ``ubm_max_frames`` a seeded random
    subset of them (Kaldi ``train_diag_ubm.sh --num-frames``). ``normalize`` (online CMVN) is
    applied to each utterance before splicing.

    Only the kept frames are ever spliced: each utterance is spliced on its own (in its input
    type) and its chosen rows copied out, so memory is the kept frames plus one utterance,
    not every frame of the training set spliced to float64 (~1.2 GB per hour of audio).
    """
    g = torch.Generator().manual_seed(opts.seed)
    lengths = getattr(feats, "num_frames", None) or [len(f) for f in feats]
    counts = [len(range(0, n, opts.subsample)) for n in lengths]
    total = int(sum(counts))
    if total > opts.ubm_max_frames:
        chosen = torch.randperm(total, generator=g)[: opts.ubm_max_frames]
    else:
        chosen = torch.arange(total)
    out: Optional[torch.Tensor] = None
    # rows of ``out`` sorted by the (global) frame they take, walked utterance by utterance
    order = torch.argsort(chosen)
    sorted_frames = chosen[order]
    bounds = np.concatenate([[0], np.cumsum(counts)])
    pos = torch.searchsorted(sorted_frames, torch.as_tensor(bounds, dtype=chosen.dtype))
    for i in range(len(counts)):
        lo, hi = int(pos[i]), int(pos[i + 1])
        if lo == hi:
            continue
        f = torch.as_tensor(feats[i])
        if normalize is not None:
            f = normalize(f)
        spliced = splice(f, splice_context)[:: opts.subsample]
        if out is None:
            out = torch.empty(len(chosen), spliced.shape[1], dtype=torch.float64)
        local = sorted_frames[lo:hi] - int(bounds[i])
        out[order[lo:hi]] = spliced[local].double()
    return out if out is not None else torch.empty(0, 0, dtype=torch.float64)


def estimate_pca_and_ubm(
    feats: Sequence[np.ndarray],
    splice_context: int,
    opts: TrainOptions,
    cmvn_mean: torch.Tensor,
    cmvn_opts: OnlineCmvnOptions,
) -> Tuple[Pca, DiagGmm, List[float]]:
    """PCA on spliced online-CMVN'd frames, then the UBM on up to ``ubm_max_frames`` projected
    frames (Kaldi ``get_pca_transform.sh``, ``train_diag_ubm.sh``: ``apply-cmvn-online`` first)."""
    spliced = ubm_frames(
        feats, splice_context, opts, lambda f: online_cmvn(f, cmvn_mean, cmvn_opts)
    )
    pca = Pca.estimate(spliced, opts.pca_dim)
    frames = pca(spliced)
    del spliced
    logging.info(
        f"UBM: {opts.num_gauss} diagonal Gaussians, {frames.shape[0]} frames, dim {frames.shape[1]}"
    )
    ubm, objective = train_ubm(frames, opts.num_gauss, opts.num_iters_ubm, seed=opts.seed)
    return pca, ubm, objective


def init_T(ubm: DiagGmm, ivector_dim: int, prior_offset: float, seed: int) -> torch.Tensor:
    """Kaldi ``IvectorExtractor(opts, fgmm)``: standard normal ``T_c``, its first column the
    UBM mean over the prior offset (so the prior mean ``p e_0`` maps to the UBM means)."""
    g = torch.Generator().manual_seed(seed)
    T = torch.randn(ubm.num_gauss, ubm.dim, ivector_dim, generator=g, dtype=torch.float64)
    T[:, :, 0] = ubm.means / prior_offset
    return T


def utterance_batches(
    extractor: IvectorExtractor, feats: Sequence[np.ndarray], subsample: int, batch: int = 64
) -> StatsBatches:
    """A pass over the training utterances: ``(N (B, C), F (B, C, D))`` float64 batches of
    :meth:`IvectorExtractor.utterance_stats`, recomputed from the features on each call."""

    def batches() -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, len(feats), batch):
            stats = [
                extractor.utterance_stats(feats[i], subsample)
                for i in range(start, min(start + batch, len(feats)))
            ]
            yield torch.stack([n for n, _ in stats]), torch.stack([f for _, f in stats])

    return batches


@dataclass
class TvStats:
    """Kaldi ``IvectorExtractorStats`` without weights and variances: ``gamma (C,)``,
    ``Y (C, D, R)``, packed ``R (C, K)``, and the i-vector count, sum and scatter for the prior;
    ``objective`` summed over utterances and ``frames`` (scaled)."""

    gamma: torch.Tensor
    Y: torch.Tensor
    R: torch.Tensor
    ivector_sum: torch.Tensor
    ivector_scatter: torch.Tensor
    num_ivectors: float = 0.0
    objective: float = 0.0
    frames: float = 0.0


def accumulate(
    T: torch.Tensor, prior_offset: float, variances: torch.Tensor, batches: StatsBatches
) -> TvStats:
    """The E-step of one pass (Kaldi ``IvectorExtractorStats::CommitStatsForUtterance``): each
    utterance's i-vector posterior ``N(w, L^-1)`` under the current model, committed to the
    statistics of ``T`` and of the prior."""
    C, D, R = T.shape
    TS = T / variances.unsqueeze(2)
    M = TS.reshape(C * D, R)
    r, c = pack_index(R)
    U = torch.einsum("cdr,cds->crs", TS, T)[:, r, c]
    eye = torch.eye(R, dtype=torch.float64)
    s = TvStats(
        gamma=torch.zeros(C, dtype=torch.float64),
        Y=torch.zeros(C * D, R, dtype=torch.float64),
        R=torch.zeros(C, len(r), dtype=torch.float64),
        ivector_sum=torch.zeros(R, dtype=torch.float64),
        ivector_scatter=torch.zeros(R, R, dtype=torch.float64),
    )
    for N, F in batches():
        N, F = N.double(), F.reshape(-1, C * D).double()
        b = F @ M
        b[:, 0] += prior_offset
        chol = torch.linalg.cholesky(unpack(N @ U, R) + eye)
        w = torch.cholesky_solve(b.unsqueeze(2), chol).squeeze(2)
        logdet = 2 * torch.log(torch.diagonal(chol, 0, 1, 2)).sum()
        s.objective += float(0.5 * (b * w).sum() - 0.5 * logdet) - 0.5 * prior_offset**2 * len(N)
        Eww = torch.cholesky_inverse(chol) + w.unsqueeze(2) * w.unsqueeze(1)
        s.gamma += N.sum(0)
        s.R += N.T @ Eww[:, r, c]
        s.Y += F.T @ w
        s.num_ivectors += len(N)
        s.ivector_sum += w.sum(0)
        s.ivector_scatter += Eww.sum(0)
        s.frames += float(N.sum())
    s.Y = s.Y.reshape(C, D, R)
    return s


def update_projections(T: torch.Tensor, s: TvStats, gaussian_min_count: float) -> torch.Tensor:
    """Kaldi ``UpdateProjection``: ``T_c = Y_c R_c^-1``; a Gaussian with fewer than
    ``gaussian_min_count`` frames keeps its ``T_c``."""
    R = T.shape[2]
    used = s.gamma >= gaussian_min_count
    skipped = int((~used).sum())
    if skipped:
        logging.warning(
            f"T-matrix: {skipped} Gaussian(s) below --gaussian-min-count={gaussian_min_count:g}"
            " frames keep their projection"
        )
    T_new = T.clone()
    if used.any():
        Tt = torch.linalg.solve(unpack(s.R[used], R), s.Y[used].transpose(1, 2))
        T_new[used] = Tt.transpose(1, 2)
    return T_new


def prior_transform(
    s: TvStats,
    T: torch.Tensor,
    variances: torch.Tensor,
    weights: torch.Tensor,
    diagonalize: bool,
) -> Tuple[torch.Tensor, float]:
    """Kaldi ``UpdatePrior``: ``V (R, R)`` taking the i-vectors' mean to ``[p', 0, ...]`` with
    ``p' > 0`` and their covariance to the unit matrix, and ``p'``. ``T`` (after
    :func:`update_projections`), ``variances`` and the UBM ``weights`` serve ``diagonalize``."""
    R = s.ivector_sum.shape[0]
    mean = s.ivector_sum / s.num_ivectors
    covar = s.ivector_scatter / s.num_ivectors - torch.outer(mean, mean)
    evals, P = torch.linalg.eigh(covar)
    floored = int((evals < 1e-7).sum())
    if floored:
        logging.warning(f"T-matrix prior: floored {floored} eigenvalue(s) of the i-vector covar")
    whiten = P.T * evals.clamp_min(1e-7).rsqrt().unsqueeze(1)  # makes covar unit
    x = whiten @ mean
    x = x / x.norm()
    if 1.0 - float(x[0]) > 1e-12:
        # Householder reflection I - 2 a a' taking x to e_0 (Kaldi: alpha = 1/(sqrt2 sqrt(1-x0)))
        alpha = 1.0 / (math.sqrt(2.0) * math.sqrt(1.0 - float(x[0])))
        a = alpha * x
        a[0] -= alpha
        V = whiten - 2.0 * torch.outer(a, a @ whiten)
    else:
        V = whiten
    if diagonalize and R > 1:
        V = V.clone()
        V[1:] = _diagonalizing_rotation(V[1:, 1:], T, variances, weights) @ V[1:]
    return V, float(V[0] @ mean)


def _diagonalizing_rotation(
    Tsub: torch.Tensor, T: torch.Tensor, variances: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Kaldi ``GetOrthogonalIvectorTransform``: the orthogonal ``A`` whose rows are the
    eigenvectors (largest first) of ``Tsub^-T Uavg[1:, 1:] Tsub^-1``, ``Uavg = sum_c w_c
    T_c' S_c^-1 T_c``."""
    Uavg = torch.einsum("c,cdr,cds->rs", weights, T / variances.unsqueeze(2), T)
    Tinv = torch.linalg.inv(Tsub)
    Vavg = Tinv.T @ Uavg[1:, 1:] @ Tinv
    evals, P = torch.linalg.eigh(0.5 * (Vavg + Vavg.T))
    return P[:, torch.argsort(evals, descending=True)].T


def tv_em_step(
    T: torch.Tensor,
    prior_offset: float,
    ubm: DiagGmm,
    batches: StatsBatches,
    opts: TrainOptions,
) -> Tuple[torch.Tensor, float, float]:
    """One EM iteration: the new ``T`` and prior offset, and the objective per frame of the
    old model."""
    s = accumulate(T, prior_offset, ubm.variances, batches)
    T_new = update_projections(T, s, opts.gaussian_min_count)
    V, offset = prior_transform(s, T_new, ubm.variances, ubm.weights, opts.diagonalize)
    T_new = torch.linalg.solve(V.T, T_new.transpose(1, 2)).transpose(1, 2)  # T_c V^-1
    return T_new, offset, s.objective / s.frames


def tv_objective(
    T: torch.Tensor, prior_offset: float, variances: torch.Tensor, batches: StatsBatches
) -> float:
    """The objective per frame of :func:`tv_em_step` without updating."""
    s = accumulate(T, prior_offset, variances, batches)
    return s.objective / s.frames


def train_extractor(
    feats: Sequence[np.ndarray],
    opts: TrainOptions,
    ivector_opts: IvectorOptions,
    progress: Callable[[Iterable], Iterable] = lambda x: x,
) -> Tuple[IvectorExtractor, dict]:
    """Train PCA, UBM and T on ``feats`` (a sequence; loaded on access if it is lazy); returns
    the extractor and the objectives (``frames``: the scaled frame count of the T-matrix)."""
    subset = ubm_subset(len(feats), opts.max_utts, opts.seed)
    sub_feats = _Subset(feats, subset)
    cmvn_mean = global_cmvn_mean(sub_feats)
    pca, ubm, ubm_obj = estimate_pca_and_ubm(
        sub_feats, ivector_opts.splice_context, opts, cmvn_mean, ivector_opts.cmvn
    )
    T = init_T(ubm, opts.ivector_dim, PRIOR_OFFSET, opts.seed + 1)
    offset = PRIOR_OFFSET
    extractor = IvectorExtractor(pca, ubm, T, ivector_opts, offset, cmvn_mean)
    batches = utterance_batches(extractor, feats, opts.subsample)
    logging.info(
        f"T-matrix: dim {opts.ivector_dim}, {len(feats)} utterances (PCA/UBM: {len(subset)})"
    )
    tv_obj = []
    for it in progress(range(opts.num_iters)):
        T, offset, obj = tv_em_step(T, offset, ubm, batches, opts)
        tv_obj.append(obj)
        logging.info(
            f"T-matrix iteration {it}: objective per frame {obj:.5f}, prior offset {offset:.3f}"
        )
    final = accumulate(T, offset, ubm.variances, batches)
    tv_obj.append(final.objective / final.frames)
    logging.info(f"T-matrix final: objective per frame {tv_obj[-1]:.5f}")
    extractor = IvectorExtractor(pca, ubm, T, ivector_opts, offset, cmvn_mean)
    return extractor, {"ubm": ubm_obj, "tv": tv_obj, "frames": final.frames}


class _Subset(Sequence):
    """``feats[indices]`` without loading (for lazy sequences)."""

    def __init__(self, feats: Sequence[np.ndarray], indices: List[int]) -> None:
        self.feats, self.indices = feats, indices
        lengths = getattr(feats, "num_frames", None)
        self.num_frames = [lengths[i] for i in indices] if lengths else None

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i):  # type: ignore[override]
        return self.feats[self.indices[i]]
