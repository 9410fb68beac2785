"""The i-vector extractor: model files, statistics, and online/offline extraction.

Model (Kaldi ``src/ivector/ivector-extractor.{h,cc}``): for Gaussian ``c`` of the UBM the
supervector mean is ``T_c w`` (Kaldi's ``M_c``), with prior ``w ~ N(p e_0, I)``: the prior mean
is the offset ``p`` (Kaldi's ``prior_offset``, 100 at initialization) in the first dimension, so
the first column of ``T`` carries the mean and no UBM mean is subtracted. Given zeroth/first
order statistics ``N_c, F_c`` (posteriors scaled by ``posterior_scale``) the posterior of ``w``
has precision ``L = I + sum_c N_c T_c' S_c^-1 T_c`` and mean ``L^-1 (sum_c T_c' S_c^-1 F_c + p
e_0)``; the i-vector written out is that mean minus ``p e_0`` (Kaldi ``OnlineIvectorFeature::
GetFrame``), so a frame-less one is zero.

Posteriors come from the diagonal UBM on online-CMVN'd, spliced, PCA-projected features; the
statistics use the same frames without CMVN (``steps/online/nnet2/train_ivector_extractor.sh``:
``gmm_feats`` vs ``feats``; ``OnlineIvectorFeature``: ``lda_normalized_`` vs ``lda_``).

Online mode (Kaldi ``OnlineIvectorFeature``): the i-vector of period ``p`` (frames
``10p .. 10p+9``) uses the statistics of frames ``0 .. 10p``. All periods of an utterance are
solved at once: per-period statistics, a cumulative sum, one batched matrix product for every
``L``, one batched Cholesky solve.

Simplifications with respect to Kaldi, documented here once: the UBM is diagonal (Kaldi's
i-vector extractor uses a full-covariance UBM for the statistics and the diagonal one only for
Gaussian selection); covariances are those of the UBM and are not re-estimated; exact solves
instead of Kaldi's conjugate gradient (``--num-cg-iters``). ``max_count`` is Kaldi's
``--max-count``: past that many (scaled) frames the statistics are scaled down so the prior
keeps its weight (Kaldi scales the prior up instead: the same solution).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch

from asr2emo.ivector.cmvn import OnlineCmvnOptions, online_cmvn
from asr2emo.ivector.pca import Pca, splice
from asr2emo.ivector.ubm import DiagGmm
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path

Pathlike = Union[str, Path]
PRIOR_OFFSET = 100.0  # Kaldi IvectorExtractor(opts, fgmm): "hardwired for now.  Must be nonzero."


@dataclass
class IvectorOptions:
    """Extraction settings saved with the model (``ivector.json``); Kaldi's defaults
    (``OnlineIvectorExtractionConfig``, ``OnlineCmvnOptions``, ``train_ivector_extractor.sh``)."""

    splice_context: int = 3
    num_gselect: int = 5
    min_post: float = 0.025
    posterior_scale: float = 0.1
    ivector_period: int = 10
    max_count: float = 0.0
    cmn_window: int = 600
    global_frames: int = 200

    @property
    def cmvn(self) -> OnlineCmvnOptions:
        return OnlineCmvnOptions(self.cmn_window, self.global_frames)


def pack_index(dim: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Row/column indices of the upper triangle (symmetric matrices stored packed)."""
    iu = torch.triu_indices(dim, dim)
    return iu[0], iu[1]


def unpack(packed: torch.Tensor, dim: int) -> torch.Tensor:
    """``(..., dim*(dim+1)/2) -> (..., dim, dim)`` symmetric."""
    r, c = pack_index(dim)
    full = packed.new_zeros(packed.shape[:-1] + (dim, dim))
    full[..., r, c] = packed
    full[..., c, r] = packed
    return full


class IvectorExtractor:
    """PCA + diagonal UBM + ``T (C, D, R)`` + prior offset + the global mean of the raw MFCC
    (online CMVN's prior, Kaldi's ``global_cmvn.stats``)."""

    def __init__(
        self,
        pca: Pca,
        ubm: DiagGmm,
        T: torch.Tensor,
        opts: IvectorOptions,
        prior_offset: float = PRIOR_OFFSET,
        cmvn_mean: Optional[torch.Tensor] = None,
    ) -> None:
        self.pca = pca
        self.ubm = ubm
        self.T = T.double()
        self.opts = opts
        self.prior_offset = float(prior_offset)
        feat_dim = pca.mean.shape[0] // (2 * opts.splice_context + 1)
        self.cmvn_mean = (
            torch.zeros(feat_dim, dtype=torch.float64) if cmvn_mean is None else cmvn_mean.double()
        )
        self._cache: Dict[torch.dtype, Dict[str, torch.Tensor]] = {}

    @property
    def ivector_dim(self) -> int:
        return self.T.shape[2]

    # ---- derived quantities -------------------------------------------------------------
    def derived(self, dtype: torch.dtype = torch.float32) -> Dict[str, torch.Tensor]:
        """``M (C*D, R)``: T'S^-1 stacked (Kaldi ``Sigma_inv_M_``); ``U (C, K)``: packed
        T_c'S_c^-1 T_c (Kaldi ``U_``)."""
        if dtype not in self._cache:
            inv = 1.0 / self.ubm.variances
            TS = self.T * inv.unsqueeze(2)  # (C, D, R)
            C, D, R = self.T.shape
            r, c = pack_index(R)
            U = torch.einsum("cdr,cds->crs", TS, self.T)[:, r, c]
            self._cache[dtype] = {
                "M": TS.reshape(C * D, R).to(dtype).contiguous(),
                "U": U.to(dtype).contiguous(),
            }
        return self._cache[dtype]

    def invalidate(self) -> None:
        self._cache.clear()

    # ---- features -> posteriors -----------------------------------------------------------
    def transform(self, feats: torch.Tensor) -> torch.Tensor:
        """MFCC ``(T, 40)`` -> spliced, PCA-projected frames ``(T, D)`` (the statistics' input)."""
        return self.pca(splice(feats, self.opts.splice_context))

    def gselect_features(self, feats: torch.Tensor) -> torch.Tensor:
        """MFCC ``(T, 40)`` -> online CMVN, splice, PCA: the UBM's input."""
        normed = online_cmvn(feats, self.cmvn_mean, self.opts.cmvn)
        return self.pca(splice(normed, self.opts.splice_context))

    def posteriors(self, xg: torch.Tensor, scale: float) -> Tuple[torch.Tensor, torch.Tensor]:
        """Gaussian-selected posteriors of the UBM features ``xg``: ``(T, k)`` ids and
        posteriors times ``scale``."""
        idx, post = self.ubm.gselect_posteriors(xg, self.opts.num_gselect, self.opts.min_post)
        return idx, post * scale

    # ---- statistics -> i-vectors ------------------------------------------------------------
    def solve(self, N: torch.Tensor, Lp: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """I-vectors ``(P, R)`` (prior offset removed) from counts ``N (P, C)``, packed
        ``sum_c N_c T_c'S_c^-1 T_c`` ``Lp (P, K)`` and linear terms ``b (P, R)``."""
        if self.opts.max_count > 0:
            total = N.sum(1, keepdim=True)
            scale = torch.where(
                total > self.opts.max_count, self.opts.max_count / total.clamp_min(1e-30), 1.0
            )
            Lp, b = Lp * scale, b * scale
        R = self.ivector_dim
        L = unpack(Lp.double(), R) + torch.eye(R, dtype=torch.float64)
        b = b.double().clone()
        b[:, 0] += self.prior_offset
        chol = torch.linalg.cholesky(L)
        w = torch.cholesky_solve(b.unsqueeze(2), chol).squeeze(2)
        w[:, 0] -= self.prior_offset
        return w

    def _period_terms(
        self, x: torch.Tensor, idx: torch.Tensor, post: torch.Tensor, group: torch.Tensor, G: int
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per group of frames: counts ``(G, C)``, packed precision terms ``(G, K)`` and linear
        terms ``(G, R)``. Only the selected (frame, Gaussian) pairs are touched: sparse products
        with the precomputed ``U`` and ``M``."""
        C, D = self.ubm.num_gauss, self.ubm.dim
        d = self.derived(x.dtype)
        keep = post > 0
        frame = torch.arange(x.shape[0]).unsqueeze(1).expand_as(idx)[keep]
        g, c, p = group.unsqueeze(1).expand_as(idx)[keep], idx[keep], post[keep].to(x.dtype)
        N = torch.zeros(G * C, dtype=x.dtype).index_add_(0, g * C + c, p).view(G, C)
        counts = torch.sparse_coo_tensor(torch.stack([g, c]), p, (G, C))
        Lp = torch.sparse.mm(counts, d["U"])
        rows = g.repeat_interleave(D)
        cols = ((c * D).unsqueeze(1) + torch.arange(D)).reshape(-1)
        vals = (p.unsqueeze(1) * x[frame]).reshape(-1)
        first = torch.sparse_coo_tensor(torch.stack([rows, cols]), vals, (G, C * D))
        b = torch.sparse.mm(first, d["M"])
        return N, Lp, b

    def extract_online(self, feats: np.ndarray) -> np.ndarray:
        """Online i-vectors ``(ceil(T / period), R)``: row ``p`` from frames ``0 .. p*period``."""
        x, idx, post = self._prepare(feats)
        period = self.opts.ivector_period
        num = math.ceil(x.shape[0] / period)
        last = (num - 1) * period + 1  # frames after 10*(num-1) belong to no period
        x, idx, post = x[:last], idx[:last], post[:last]
        group = torch.div(torch.arange(last) + period - 1, period, rounding_mode="floor")
        N, Lp, b = self._period_terms(x, idx, post, group, num)
        return self.solve(N.cumsum(0), Lp.cumsum(0), b.cumsum(0)).float().numpy()

    def extract_offline(self, feats: np.ndarray) -> np.ndarray:
        """One i-vector ``(R,)`` from all frames of the utterance."""
        x, idx, post = self._prepare(feats)
        group = torch.zeros(x.shape[0], dtype=torch.long)
        N, Lp, b = self._period_terms(x.double(), idx, post.double(), group, 1)
        return self.solve(N, Lp, b)[0].float().numpy()

    def _prepare(
        self, feats: np.ndarray, scale: Optional[float] = None
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Raw PCA frames ``(T, D)`` and the ids and scaled posteriors of their Gaussians."""
        feats_t = torch.as_tensor(np.asarray(feats), dtype=torch.float32)
        if feats_t.ndim != 2 or feats_t.shape[0] == 0:
            raise ValueError(f"expected a non-empty (T, dim) feature matrix, got {feats_t.shape}")
        scale = self.opts.posterior_scale if scale is None else scale
        idx, post = self.posteriors(self.gselect_features(feats_t), scale)
        return self.transform(feats_t), idx, post

    def utterance_stats(self, feats: np.ndarray, subsample: int = 1) -> Tuple[torch.Tensor, ...]:
        """Float64 ``N (C,)`` and raw first-order stats ``F (C, D)`` of one utterance for
        training: every ``subsample``-th frame, posteriors scaled by ``posterior_scale *
        subsample`` (Kaldi ``train_ivector_extractor.sh``: ``modified_posterior_scale``, so the
        subsampled frames weigh as all frames would)."""
        x, idx, post = self._prepare(feats, self.opts.posterior_scale * subsample)
        x, idx, post = x[::subsample].double(), idx[::subsample], post[::subsample].double()
        C, D = self.ubm.num_gauss, self.ubm.dim
        flat = idx.reshape(-1)
        N = torch.zeros(C, dtype=torch.float64).index_add_(0, flat, post.reshape(-1))
        weighted = (post.unsqueeze(2) * x.unsqueeze(1)).reshape(-1, D)
        F = torch.zeros(C, D, dtype=torch.float64).index_add_(0, flat, weighted)
        return N, F

    # ---- files ------------------------------------------------------------------------------
    def save(self, directory: Pathlike) -> None:
        """``final.pca``, ``final.ubm``, ``final.ie`` (T and prior offset), ``global_cmvn.stats``
        (torch) and ``ivector.json`` (options)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, obj in (
            ("final.pca", self.pca.state_dict()),
            ("final.ubm", self.ubm.state_dict()),
            ("final.ie", {"T": self.T, "prior_offset": self.prior_offset}),
            ("global_cmvn.stats", {"mean": self.cmvn_mean}),
        ):
            with atomic_path(directory / name) as tmp:
                torch.save(obj, tmp)
        with atomic_path(directory / "ivector.json") as tmp:
            tmp.write_text(json.dumps(asdict(self.opts), indent=1) + "\n")

    @classmethod
    def load(cls, directory: Pathlike) -> "IvectorExtractor":
        directory = Path(directory)
        missing = [n for n in FILES if not (directory / n).is_file()]
        if missing:
            raise UserError(
                f"i-vector extractor '{directory}' lacks {', '.join(missing)} (run stage 3)"
            )
        pca = Pca.from_state_dict(torch.load(directory / "final.pca"))
        ubm = DiagGmm.from_state_dict(torch.load(directory / "final.ubm"))
        ie = torch.load(directory / "final.ie")
        if "prior_offset" not in ie:
            raise UserError(
                f"i-vector extractor '{directory}' predates the prior offset (rerun stage 3)"
            )
        cmvn_mean = torch.load(directory / "global_cmvn.stats")["mean"]
        opts = IvectorOptions(**json.loads((directory / "ivector.json").read_text()))
        return cls(pca, ubm, ie["T"], opts, ie["prior_offset"], cmvn_mean)


FILES = ("final.pca", "final.ubm", "final.ie", "global_cmvn.stats", "ivector.json")
