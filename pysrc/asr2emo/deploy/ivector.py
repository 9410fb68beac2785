"""Online i-vectors in numpy, in blocks: the computation of
:meth:`asr2emo.ivector.extractor.IvectorExtractor.extract_online` without torch.

Per frame: online CMVN (Kaldi ``OnlineCmvn``: the causal ``cmn_window`` mean, topped up by
``global_frames`` of the global mean) for the Gaussian selection only; splice +-``splice_context``
(edges repeat the first/last frame) and PCA of both the normalized and the raw frames; the
``num_gselect`` best Gaussians of the diagonal UBM on the normalized ones, posteriors pruned below
``min_post`` and scaled by ``posterior_scale``; statistics of the raw ones. I-vector ``p`` is the
posterior mean of ``w`` (prior ``N(prior_offset e_0, I)``) given the statistics of frames
``0 .. p * period``, minus ``prior_offset e_0``; statistics are carried from block to block, so a
recording of any length is processed in bounded memory and gives the same i-vectors as one whole
call. Everything is float64 (the torch extractor accumulates in float32 and solves in float64).
"""

from __future__ import annotations

import math
from typing import Dict, Tuple

import numpy as np


class IvectorModel:
    """The arrays of ``ivector.npz`` with the options of ``ivector.json``, and derived terms."""

    def __init__(self, arrays: Dict[str, np.ndarray], options: Dict) -> None:
        f64 = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
        self.pca_mean, self.pca_transform = f64["pca_mean"], f64["pca_transform"]
        self.weights, self.means, self.variances = (
            f64["ubm_weights"],
            f64["ubm_means"],
            f64["ubm_variances"],
        )
        T = f64["T"]  # (C, D, R)
        self.prior_offset = float(f64["prior_offset"])
        self.cmvn_mean = f64["global_cmvn_mean"]
        self.num_gauss, self.dim, self.ivector_dim = T.shape
        self.context = int(options["splice_context"])
        self.num_gselect = int(options["num_gselect"])
        self.min_post = float(options["min_post"])
        self.posterior_scale = float(options["posterior_scale"])
        self.period = int(options["ivector_period"])
        self.max_count = float(options.get("max_count", 0.0))
        self.cmn_window = int(options["cmn_window"])
        self.global_frames = int(options["global_frames"])
        inv = 1.0 / self.variances
        # log w_c N(x; m_c, v_c) = [x^2, x] @ lin + const
        self.lin = np.concatenate([-0.5 * inv, self.means * inv], axis=1).T
        self.const = (
            np.log(np.maximum(self.weights, 1e-300))
            - 0.5 * np.log(2 * math.pi * self.variances).sum(1)
            - 0.5 * (self.means**2 * inv).sum(1)
        )
        TS = T * inv[:, :, None]
        self.triu = np.triu_indices(self.ivector_dim)
        self.U = np.einsum("cdr,cds->crs", TS, T)[:, self.triu[0], self.triu[1]]  # (C, K)
        self.M = TS.reshape(-1, self.ivector_dim)  # (C*D, R)

    def project(self, spliced: np.ndarray) -> np.ndarray:
        """Spliced MFCC ``(n, (2c+1)*40)`` -> PCA frames ``(n, D)``."""
        return (np.asarray(spliced, dtype=np.float64) - self.pca_mean) @ self.pca_transform.T

    def gselect(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Ids ``(n, k)`` of the best Gaussians (best first) of normalized PCA frames ``x`` and
        their scaled posteriors."""
        loglik = np.concatenate([x**2, x], axis=1) @ self.lin + self.const
        k = min(self.num_gselect, self.num_gauss)
        idx = np.argsort(-loglik, axis=1, kind="stable")[:, :k]
        top = np.take_along_axis(loglik, idx, axis=1)
        post = np.exp(top - top[:, :1])
        post /= post.sum(1, keepdims=True)
        if self.min_post > 0:
            keep = post >= self.min_post
            keep[:, 0] = True
            post = post * keep
            post /= post.sum(1, keepdims=True)
        return idx, post * self.posterior_scale

    def solve(self, N: np.ndarray, Lp: np.ndarray, b: np.ndarray) -> np.ndarray:
        """I-vectors ``(P, R)`` (prior offset removed) from cumulative counts ``(P, C)``, packed
        precision terms ``(P, K)`` and linear terms ``(P, R)`` (max-count scaling as Kaldi's
        --max-count)."""
        if self.max_count > 0:
            total = N.sum(1, keepdims=True)
            scale = np.where(total > self.max_count, self.max_count / np.maximum(total, 1e-30), 1)
            Lp, b = Lp * scale, b * scale
        R = self.ivector_dim
        L = np.zeros((len(b), R, R))
        r, c = self.triu
        L[:, r, c] = Lp
        L[:, c, r] = Lp
        L += np.eye(R)
        b = b.copy()
        b[:, 0] += self.prior_offset
        w = np.linalg.solve(L, b[:, :, None])[:, :, 0]
        w[:, 0] -= self.prior_offset
        return w


class OnlineCmvn:
    """Kaldi ``OnlineCmvn`` (mean only, no speaker stats) over blocks: frame ``t`` minus the mean
    of frames ``max(0, t - W + 1) .. t`` and ``min(W - n, global_frames)`` global-mean frames."""

    def __init__(self, global_mean: np.ndarray, cmn_window: int, global_frames: int) -> None:
        self.mean, self.W, self.G = global_mean, cmn_window, global_frames
        self._hist = np.zeros((0, len(global_mean)))  # the last min(W, seen) raw frames
        self._seen = 0

    def accept(self, feats: np.ndarray) -> np.ndarray:
        ext = np.concatenate([self._hist, feats])
        h, n = len(self._hist), len(feats)
        csum = np.concatenate([np.zeros((1, ext.shape[1])), np.cumsum(ext, axis=0)])
        t = self._seen + np.arange(n)  # global frame index
        start = np.maximum(0, t - self.W + 1) - (self._seen - h)  # index into ext
        window = csum[h + np.arange(n) + 1] - csum[start]
        count = (t + 1 - np.maximum(0, t - self.W + 1)).astype(np.float64)
        extra = np.clip(self.W - count, 0, self.G)
        mean = (window + extra[:, None] * self.mean) / (count + extra)[:, None]
        self._seen += n
        self._hist = ext[-min(self.W, self._seen) :]
        return feats - mean


class OnlineIvectors:
    """Feed MFCC blocks with :meth:`accept`, then :meth:`finish`; each returns the i-vectors
    ``(n, R)`` (float32) that became known. In all, ``ceil(T / period)`` of them for T frames."""

    def __init__(self, model: IvectorModel) -> None:
        self.model = model
        c = model.context
        # [raw | online-CMVN'd] MFCC: c frames of left context + frames not yet spliced
        self._buf = np.zeros((0, 0))
        self._cmvn = OnlineCmvn(model.cmvn_mean, model.cmn_window, model.global_frames)
        self._started = False
        self.num_frames = 0  # frames whose statistics are accumulated
        self._N = np.zeros(model.num_gauss)
        self._Lp = np.zeros(model.U.shape[1])
        self._b = np.zeros(model.ivector_dim)
        self._c = c

    def _splice(self, final: bool) -> Tuple[np.ndarray, np.ndarray]:
        """Raw and normalized PCA frames of every buffered frame whose right context is known
        (all when final)."""
        c = self._c
        if final:
            self._buf = np.concatenate([self._buf, np.repeat(self._buf[-1:], c, axis=0)])
        n = len(self._buf) - 2 * c
        if n <= 0:
            return np.zeros((0, self.model.dim)), np.zeros((0, self.model.dim))
        win = np.lib.stride_tricks.sliding_window_view(self._buf[: n + 2 * c], 2 * c + 1, axis=0)
        win = win.transpose(0, 2, 1)  # (n, 2c+1, 2 * 40): [f(t-c), ..., f(t+c)]
        half = win.shape[2] // 2
        raw, normed = (win[:, :, sl].reshape(n, -1) for sl in (slice(half), slice(half, None)))
        self._buf = self._buf[n:]
        return self.model.project(raw), self.model.project(normed)

    def _accumulate(self, x: np.ndarray, xg: np.ndarray) -> np.ndarray:
        """Add frames ``num_frames ..`` (raw ``x``, normalized ``xg``); i-vectors of the periods
        completed by them."""
        m = self.model
        n = len(x)
        if n == 0:
            return np.zeros((0, m.ivector_dim), dtype=np.float32)
        idx, post = m.gselect(xg)
        t = self.num_frames + np.arange(n)
        group = (t + m.period - 1) // m.period  # period p ends with frame p * period
        g0 = int(group[0])
        G = int(group[-1]) - g0 + 1
        C, D = m.num_gauss, m.dim
        flat = ((group - g0)[:, None] * C + idx).reshape(-1)
        N = np.zeros(G * C)
        np.add.at(N, flat, post.reshape(-1))
        F = np.zeros((G * C, D))
        np.add.at(F, flat, (post[:, :, None] * x[:, None, :]).reshape(-1, D))
        N = N.reshape(G, C)
        Lp = N @ m.U
        b = F.reshape(G, C * D) @ m.M
        N, Lp, b = (
            np.cumsum(a, axis=0) + s for a, s in ((N, self._N), (Lp, self._Lp), (b, self._b))
        )
        self._N, self._Lp, self._b = N[-1], Lp[-1], b[-1]
        self.num_frames += n
        done = (self.num_frames - 1) // m.period - g0 + 1  # groups whose last frame is in
        if done <= 0:
            return np.zeros((0, m.ivector_dim), dtype=np.float32)
        return m.solve(N[:done], Lp[:done], b[:done]).astype(np.float32)

    def accept(self, feats: np.ndarray) -> np.ndarray:
        """Feed raw MFCC ``(n, 40)``; the i-vectors completed (they lag by ``context`` frames)."""
        feats = np.asarray(feats, dtype=np.float64)
        if len(feats) == 0:
            return np.zeros((0, self.model.ivector_dim), dtype=np.float32)
        both = np.concatenate([feats, self._cmvn.accept(feats)], axis=1)
        if not self._started:
            self._buf = np.repeat(both[:1], self._c, axis=0)
            self._started = True
        self._buf = np.concatenate([self._buf, both])
        return self._accumulate(*self._splice(final=False))

    def finish(self) -> np.ndarray:
        """The i-vectors of the last frames (right edge: the last frame repeated)."""
        if not self._started:
            return np.zeros((0, self.model.ivector_dim), dtype=np.float32)
        return self._accumulate(*self._splice(final=True))


def extract_online(model: IvectorModel, feats: np.ndarray) -> np.ndarray:
    """Online i-vectors ``(ceil(T / period), R)`` of a whole utterance's MFCC ``(T, 40)``."""
    online = OnlineIvectors(model)
    return np.concatenate([online.accept(feats), online.finish()])
