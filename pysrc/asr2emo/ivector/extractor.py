"""The i-vector extractor: model files, statistics, and online/offline extraction.

Model: for Gaussian ``c`` of the UBM, the supervector mean is ``m_c + T_c w`` with ``w ~ N(0, I)``
(total variability). Given zeroth/first order statistics ``N_c, F_c`` (posteriors scaled by
``posterior_scale``) the posterior of ``w`` has precision ``L = I + sum_c N_c T_c' S_c^-1 T_c``
and mean ``L^-1 sum_c T_c' S_c^-1 (F_c - N_c m_c)``.

Online mode (Kaldi ``OnlineIvectorFeature``): the i-vector of period ``p`` (frames
``10p .. 10p+9``) uses the statistics of frames ``0 .. 10p``. All periods of an utterance are
solved at once: per-period statistics, a cumulative sum, one batched matrix product for every
``L``, one batched Cholesky solve.

Simplifications with respect to Kaldi, documented here once: the UBM is diagonal (Kaldi's
i-vector extractor uses a full-covariance UBM for the statistics and the diagonal one only for
Gaussian selection); the prior is zero-mean (Kaldi's ``prior_offset`` shifts the first
dimension and is subtracted again); covariances are those of the UBM and are not re-estimated;
no minimum-divergence rescaling of ``T``; exact solves instead of Kaldi's conjugate gradient.
``max_count`` is Kaldi's ``--max-count``: past that many (scaled) frames the statistics are scaled
down so the prior keeps its weight.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Tuple, Union

import numpy as np
import torch

from asr2emo.ivector.pca import Pca, splice
from asr2emo.ivector.ubm import DiagGmm
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path

Pathlike = Union[str, Path]


@dataclass
class IvectorOptions:
    """Extraction settings saved with the model (``ivector.json``)."""

    splice_context: int = 3
    num_gselect: int = 5
    min_post: float = 0.025
    posterior_scale: float = 0.1
    ivector_period: int = 10
    max_count: float = 0.0


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
    """PCA + diagonal UBM + total-variability matrix ``T`` of shape ``(C, D, R)``."""

    def __init__(self, pca: Pca, ubm: DiagGmm, T: torch.Tensor, opts: IvectorOptions) -> None:
        self.pca = pca
        self.ubm = ubm
        self.T = T.double()
        self.opts = opts
        self._cache: Dict[torch.dtype, Dict[str, torch.Tensor]] = {}

    @property
    def ivector_dim(self) -> int:
        return self.T.shape[2]

    # ---- derived quantities -------------------------------------------------------------
    def derived(self, dtype: torch.dtype = torch.float32) -> Dict[str, torch.Tensor]:
        """``M (C*D, R)``: T'S^-1 stacked; ``Pm (C, R)``: T_c'S_c^-1 m_c; ``U (C, K)``: packed
        T_c'S_c^-1 T_c."""
        if dtype not in self._cache:
            inv = 1.0 / self.ubm.variances
            TS = self.T * inv.unsqueeze(2)  # (C, D, R)
            C, D, R = self.T.shape
            r, c = pack_index(R)
            U = torch.einsum("cdr,cds->crs", TS, self.T)[:, r, c]
            Pm = torch.einsum("cdr,cd->cr", TS, self.ubm.means)
            self._cache[dtype] = {
                "M": TS.reshape(C * D, R).to(dtype).contiguous(),
                "Pm": Pm.to(dtype).contiguous(),
                "U": U.to(dtype).contiguous(),
            }
        return self._cache[dtype]

    def invalidate(self) -> None:
        self._cache.clear()

    # ---- features -> posteriors -----------------------------------------------------------
    def transform(self, feats: torch.Tensor) -> torch.Tensor:
        """MFCC ``(T, 40)`` -> spliced, PCA-projected frames ``(T, D)``."""
        return self.pca(splice(feats, self.opts.splice_context))

    def posteriors(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Gaussian-selected posteriors ``(T, k)`` ids and scaled posteriors."""
        idx, post = self.ubm.gselect_posteriors(x, self.opts.num_gselect, self.opts.min_post)
        return idx, post * self.opts.posterior_scale

    # ---- statistics -> i-vectors ------------------------------------------------------------
    def solve(self, N: torch.Tensor, Lp: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """I-vectors ``(P, R)`` from counts ``N (P, C)``, packed ``sum_c N_c T_c'S_c^-1 T_c``
        ``Lp (P, K)`` and linear terms ``b (P, R)``."""
        if self.opts.max_count > 0:
            total = N.sum(1, keepdim=True)
            scale = torch.where(
                total > self.opts.max_count, self.opts.max_count / total.clamp_min(1e-30), 1.0
            )
            Lp, b = Lp * scale, b * scale
        R = self.ivector_dim
        L = unpack(Lp.double(), R) + torch.eye(R, dtype=torch.float64)
        chol = torch.linalg.cholesky(L)
        return torch.cholesky_solve(b.double().unsqueeze(2), chol).squeeze(2)

    def _period_terms(
        self, x: torch.Tensor, idx: torch.Tensor, post: torch.Tensor, group: torch.Tensor, G: int
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per group of frames: counts ``(G, C)``, packed precision terms ``(G, K)`` and linear
        terms ``(G, R)``. Only the selected (frame, Gaussian) pairs are touched: sparse products
        with the precomputed ``U``, ``M``, ``Pm``."""
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
        b = torch.sparse.mm(first, d["M"]) - torch.sparse.mm(counts, d["Pm"])
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

    def _prepare(self, feats: np.ndarray) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        feats_t = torch.as_tensor(np.asarray(feats), dtype=torch.float32)
        if feats_t.ndim != 2 or feats_t.shape[0] == 0:
            raise ValueError(f"expected a non-empty (T, dim) feature matrix, got {feats_t.shape}")
        x = self.transform(feats_t)
        idx, post = self.posteriors(x)
        return x, idx, post

    def _grouped_stats(
        self,
        x: torch.Tensor,
        idx: torch.Tensor,
        post: torch.Tensor,
        group: torch.Tensor,
        num_groups: int,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Counts ``(G, C)`` and first-order stats ``(G, C, D)`` of frames grouped by ``group``."""
        C, D = self.ubm.num_gauss, self.ubm.dim
        flat = (group.unsqueeze(1) * C + idx).reshape(-1)
        N = torch.zeros(num_groups * C, dtype=x.dtype)
        N.index_add_(0, flat, post.reshape(-1).to(x.dtype))
        F = torch.zeros(num_groups * C, D, dtype=x.dtype)
        weighted = (post.to(x.dtype).unsqueeze(2) * x.unsqueeze(1)).reshape(-1, D)
        F.index_add_(0, flat, weighted)
        return N.reshape(num_groups, C), F.reshape(num_groups, C, D)

    def utterance_stats(self, feats: np.ndarray, subsample: int = 1) -> Tuple[torch.Tensor, ...]:
        """Float64 ``N (C,)`` and centered ``F - N m`` ``(C, D)`` of one utterance (training)."""
        x, idx, post = self._prepare(feats)
        x, idx, post = x[::subsample].double(), idx[::subsample], post[::subsample].double()
        group = torch.zeros(x.shape[0], dtype=torch.long)
        N, F = self._grouped_stats(x, idx, post, group, 1)
        N, F = N[0], F[0]
        return N, F - N.unsqueeze(1) * self.ubm.means

    # ---- files ------------------------------------------------------------------------------
    def save(self, directory: Pathlike) -> None:
        """``final.pca``, ``final.ubm``, ``final.ie`` (torch) and ``ivector.json`` (options)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, obj in (
            ("final.pca", self.pca.state_dict()),
            ("final.ubm", self.ubm.state_dict()),
            ("final.ie", {"T": self.T}),
        ):
            with atomic_path(directory / name) as tmp:
                torch.save(obj, tmp)
        with atomic_path(directory / "ivector.json") as tmp:
            tmp.write_text(json.dumps(asdict(self.opts), indent=1) + "\n")

    @classmethod
    def load(cls, directory: Pathlike) -> "IvectorExtractor":
        directory = Path(directory)
        missing = [
            n
            for n in ("final.pca", "final.ubm", "final.ie", "ivector.json")
            if not (directory / n).is_file()
        ]
        if missing:
            raise UserError(
                f"i-vector extractor '{directory}' lacks {', '.join(missing)} (run stage 3)"
            )
        pca = Pca.from_state_dict(torch.load(directory / "final.pca"))
        ubm = DiagGmm.from_state_dict(torch.load(directory / "final.ubm"))
        T = torch.load(directory / "final.ie")["T"]
        opts = IvectorOptions(**json.loads((directory / "ivector.json").read_text()))
        return cls(pca, ubm, T, opts)
