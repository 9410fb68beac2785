"""Training of the i-vector extractor (Kaldi ``steps/online/nnet2/train_ivector_extractor.sh``).

Splice +-3 and PCA to 40 dims, a diagonal UBM by EM, then the total-variability matrix by EM on
pseudo-speakers of 2 utterances (Kaldi ``modify_speaker_info.sh --utts-per-spk-max 2``) with
posteriors scaled by 0.1 over the Gaussian-selected components. The EM objective of the
T-matrix is the exact log-likelihood (per frame, up to a constant) of the centered first-order
statistics under the factor-analysis model, ``sum_s 1/2 b_s' L_s^-1 b_s - 1/2 log |L_s|``, which
EM never decreases.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterable, List, Sequence, Tuple

import numpy as np
import torch

from asr2emo.ivector.extractor import IvectorExtractor, IvectorOptions, pack_index, unpack
from asr2emo.ivector.pca import Pca, splice
from asr2emo.ivector.ubm import train_ubm


@dataclass
class TrainOptions:
    """Sizes and iteration counts (``conf/ivector.conf``)."""

    pca_dim: int = 40
    num_gauss: int = 512
    num_iters_ubm: int = 8
    ubm_max_frames: int = 700000
    ivector_dim: int = 100
    num_iters: int = 10
    utts_per_spk: int = 2
    subsample: int = 2
    max_utts: int = 0
    min_frames: int = 10
    seed: int = 0


def pseudo_speakers(speakers: Sequence[str], utts_per_spk: int) -> List[List[int]]:
    """Groups of at most ``utts_per_spk`` utterance indices, never mixing real speakers."""
    order = sorted(range(len(speakers)), key=lambda i: (speakers[i], i))
    groups: List[List[int]] = []
    for i in order:
        if groups and len(groups[-1]) < utts_per_spk and speakers[groups[-1][0]] == speakers[i]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def ubm_frames(
    feats: Sequence[np.ndarray], splice_context: int, opts: TrainOptions
) -> torch.Tensor:
    """The spliced frames PCA and the UBM are estimated on, float64 ``(n, (2c+1) D)``: every
    ``subsample``-th frame, and when there are more than ``ubm_max_frames`` a seeded random
    subset of them (Kaldi ``train_diag_ubm.sh --num-frames``).

    Only the kept frames are ever spliced: each utterance is spliced on its own (in its input
    type) and its chosen rows copied out, so memory is the kept frames plus one utterance,
    not every frame of the training set spliced to float64 (~1.2 GB per hour of audio).
    """
    g = torch.Generator().manual_seed(opts.seed)
    counts = [len(range(0, len(f), opts.subsample)) for f in feats]
    total = int(sum(counts))
    dim = (2 * splice_context + 1) * (feats[0].shape[1] if len(feats) else 0)
    if total > opts.ubm_max_frames:
        chosen = torch.randperm(total, generator=g)[: opts.ubm_max_frames]
    else:
        chosen = torch.arange(total)
    out = torch.empty(len(chosen), dim, dtype=torch.float64)
    # rows of ``out`` sorted by the (global) frame they take, walked utterance by utterance
    order = torch.argsort(chosen)
    sorted_frames = chosen[order]
    bounds = np.concatenate([[0], np.cumsum(counts)])
    pos = torch.searchsorted(sorted_frames, torch.as_tensor(bounds, dtype=chosen.dtype))
    for i, f in enumerate(feats):
        lo, hi = int(pos[i]), int(pos[i + 1])
        if lo == hi:
            continue
        local = sorted_frames[lo:hi] - int(bounds[i])
        spliced = splice(torch.as_tensor(f), splice_context)[:: opts.subsample]
        out[order[lo:hi]] = spliced[local].double()
    return out


def estimate_pca_and_ubm(
    feats: Sequence[np.ndarray], splice_context: int, opts: TrainOptions
) -> Tuple[Pca, "object", List[float]]:
    """PCA on spliced frames, then the UBM on up to ``ubm_max_frames`` projected frames."""
    spliced = ubm_frames(feats, splice_context, opts)
    pca = Pca.estimate(spliced, opts.pca_dim)
    frames = pca(spliced)
    del spliced
    logging.info(
        f"UBM: {opts.num_gauss} diagonal Gaussians, {frames.shape[0]} frames, dim {frames.shape[1]}"
    )
    ubm, objective = train_ubm(frames, opts.num_gauss, opts.num_iters_ubm, seed=opts.seed)
    return pca, ubm, objective


def accumulate_speaker_stats(
    extractor: IvectorExtractor,
    feats: Sequence[np.ndarray],
    groups: Sequence[Sequence[int]],
    subsample: int,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per pseudo-speaker counts ``(S, C)`` and centered first-order stats ``(S, C, D)``, summed
    in float64 per utterance and kept in float32 (``S*C*D`` values is the memory bound)."""
    C, D = extractor.ubm.num_gauss, extractor.ubm.dim
    N = torch.zeros(len(groups), C, dtype=torch.float32)
    F = torch.zeros(len(groups), C, D, dtype=torch.float32)
    for s, group in enumerate(groups):
        for i in group:
            n, f = extractor.utterance_stats(feats[i], subsample)
            N[s] += n
            F[s] += f
    return N, F


def tv_em_step(
    T: torch.Tensor, variances: torch.Tensor, N: torch.Tensor, F: torch.Tensor, batch: int = 256
) -> Tuple[torch.Tensor, float]:
    """One EM iteration for ``T (C, D, R)``; returns the new ``T`` and the objective per frame
    of the old one. Float64 throughout; speakers are processed in batches."""
    C, D, R = T.shape
    TS = T / variances.unsqueeze(2)
    M = TS.reshape(C * D, R)
    r, c = pack_index(R)
    U = torch.einsum("cdr,cds->crs", TS, T)[:, r, c]
    A = torch.zeros(C, len(r), dtype=torch.float64)
    Cacc = torch.zeros(C * D, R, dtype=torch.float64)
    eye = torch.eye(R, dtype=torch.float64)
    objective = 0.0
    for start in range(0, N.shape[0], batch):
        Nb = N[start : start + batch].double()
        Fb = F[start : start + batch].reshape(-1, C * D).double()
        b = Fb @ M
        chol = torch.linalg.cholesky(unpack(Nb @ U, R) + eye)
        w = torch.cholesky_solve(b.unsqueeze(2), chol).squeeze(2)
        objective += float(0.5 * (b * w).sum() - torch.log(torch.diagonal(chol, 0, 1, 2)).sum())
        Eww = torch.cholesky_inverse(chol) + w.unsqueeze(2) * w.unsqueeze(1)
        A += Nb.T @ Eww[:, r, c]
        Cacc += Fb.T @ w
    used = N.double().sum(0) > 1e-8
    Tt = torch.linalg.solve(unpack(A[used], R), Cacc.reshape(C, D, R)[used].transpose(1, 2))
    T_new = T.clone()
    T_new[used] = Tt.transpose(1, 2)
    return T_new, objective / float(N.double().sum())


def tv_objective(
    T: torch.Tensor, variances: torch.Tensor, N: torch.Tensor, F: torch.Tensor
) -> float:
    """The objective of :func:`tv_em_step` without updating."""
    return tv_em_step(T, variances, N, F)[1]


def train_extractor(
    feats: Sequence[np.ndarray],
    speakers: Sequence[str],
    opts: TrainOptions,
    ivector_opts: IvectorOptions,
    progress: Callable[[Iterable], Iterable] = lambda x: x,
) -> Tuple[IvectorExtractor, dict]:
    """Train PCA, UBM and T on in-memory features; returns the extractor and the objectives."""
    pca, ubm, ubm_obj = estimate_pca_and_ubm(feats, ivector_opts.splice_context, opts)
    g = torch.Generator().manual_seed(opts.seed + 1)
    T0 = torch.randn(ubm.num_gauss, ubm.dim, opts.ivector_dim, generator=g, dtype=torch.float64)
    T0 = T0 * ubm.variances.sqrt().unsqueeze(2) * 0.1
    extractor = IvectorExtractor(pca, ubm, T0, ivector_opts)
    groups = pseudo_speakers(speakers, opts.utts_per_spk)
    N, F = accumulate_speaker_stats(extractor, feats, groups, opts.subsample)
    logging.info(
        f"T-matrix: dim {opts.ivector_dim}, {len(groups)} pseudo-speakers of <= {opts.utts_per_spk}"
        f" utterances, {float(N.sum()):.0f} scaled frames"
    )
    T = extractor.T
    tv_obj = []
    for it in progress(range(opts.num_iters)):
        T, obj = tv_em_step(T, ubm.variances, N, F)
        tv_obj.append(obj)
        logging.info(f"T-matrix iteration {it}: objective per frame {obj:.5f}")
    final = tv_objective(T, ubm.variances, N, F)
    tv_obj.append(final)
    logging.info(f"T-matrix final: objective per frame {final:.5f}")
    extractor = IvectorExtractor(pca, ubm, T, ivector_opts)
    return extractor, {"ubm": ubm_obj, "tv": tv_obj}
