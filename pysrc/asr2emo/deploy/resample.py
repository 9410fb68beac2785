"""Polyphase resampling in numpy, equal to ``scipy.signal.resample_poly`` (Kaiser window, beta
5): what lhotse, and so the training features, use when torchaudio is absent."""

from __future__ import annotations

from math import gcd

import numpy as np


def _lowpass(up: int, down: int) -> tuple[np.ndarray, int]:
    """scipy's filter: ``firwin(2 * half_len + 1, 1 / max_rate, window=("kaiser", 5.0)) * up``."""
    max_rate = max(up, down)
    half_len = 10 * max_rate
    m = np.arange(2 * half_len + 1) - half_len
    h = np.sinc(m / max_rate) / max_rate * np.kaiser(2 * half_len + 1, 5.0)
    return h / h.sum() * up, half_len


def resample_poly(x: np.ndarray, source_rate: int, target_rate: int, chunk: int = 1 << 15):
    """``x`` (1-D) from ``source_rate`` to ``target_rate``; float64, scipy's output length."""
    x = np.asarray(x, dtype=np.float64)
    g = gcd(int(source_rate), int(target_rate))
    up, down = int(target_rate) // g, int(source_rate) // g
    if up == down:
        return x.copy()
    h, half_len = _lowpass(up, down)
    n_in = len(x)
    n_out = n_in * up // down + bool(n_in * up % down)
    n_pre_pad = down - half_len % down
    n_pre_remove = (half_len + n_pre_pad) // down
    h = np.concatenate([np.zeros(n_pre_pad), h])
    taps = -(-len(h) // up)  # input samples per output sample
    phases = np.zeros(taps * up)
    phases[: len(h)] = h
    phases = phases.reshape(taps, up)  # phases[q, p] = h[p + q * up]
    newest = (n_out - 1 + n_pre_remove) * down // up  # the last output's newest input index
    padded = np.concatenate([np.zeros(taps), x, np.zeros(max(newest - n_in, 0) + 1)])
    out = np.empty(n_out)
    back = np.arange(taps)
    for s in range(0, n_out, chunk):
        k = np.arange(s, min(s + chunk, n_out))
        pos = (k + n_pre_remove) * down  # position on the upsampled axis
        first = pos // up + taps  # padded index of the newest input sample
        out[k] = np.einsum("kq,qk->k", padded[first[:, None] - back[None, :]], phases[:, pos % up])
    return out
