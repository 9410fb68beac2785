"""Polyphase resampling in numpy, equal to ``scipy.signal.resample_poly`` (Kaiser window, beta
5): what lhotse, and so the training features, use when torchaudio is absent. Streaming: a
signal fed in blocks gives the same samples as the whole signal at once."""

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


class StreamingResampler:
    """:meth:`accept` blocks of samples, then :meth:`finish`; each returns the output samples
    that became computable (float64). Memory: one filter length of input is kept."""

    def __init__(self, source_rate: int, target_rate: int, chunk: int = 1 << 15) -> None:
        g = gcd(int(source_rate), int(target_rate))
        self.up, self.down = int(target_rate) // g, int(source_rate) // g
        h, half_len = _lowpass(self.up, self.down)
        n_pre_pad = self.down - half_len % self.down
        self.n_pre_remove = (half_len + n_pre_pad) // self.down
        h = np.concatenate([np.zeros(n_pre_pad), h])
        self.taps = -(-len(h) // self.up)  # input samples per output sample
        phases = np.zeros(self.taps * self.up)
        phases[: len(h)] = h
        self.phases = phases.reshape(self.taps, self.up)  # phases[q, p] = h[p + q * up]
        self.chunk = chunk
        self.num_in = 0
        self.num_out = 0
        self._buf = np.zeros(self.taps)  # input from global index _buf_start on (zeros before 0)
        self._buf_start = -self.taps

    def _newest(self, k: np.ndarray | int):
        """Global index of the newest input sample output ``k`` depends on."""
        return (k + self.n_pre_remove) * self.down // self.up

    def _compute(self, k_end: int) -> np.ndarray:
        out = []
        back = np.arange(self.taps)
        for s in range(self.num_out, k_end, self.chunk):
            k = np.arange(s, min(s + self.chunk, k_end))
            pos = (k + self.n_pre_remove) * self.down
            newest = pos // self.up - self._buf_start
            window = self._buf[newest[:, None] - back[None, :]]
            out.append(np.einsum("kq,qk->k", window, self.phases[:, pos % self.up]))
        if k_end > self.num_out:
            self.num_out = k_end
            keep = int(self._newest(k_end)) - self.taps + 1 - self._buf_start
            if keep > 0:
                self._buf = self._buf[keep:]
                self._buf_start += keep
        return np.concatenate(out) if out else np.zeros(0)

    def inputs_needed(self, num_out: int) -> int:
        """Input samples after which :meth:`accept` has returned the first ``num_out`` outputs
        (the filter's right half: about 10 samples of the lower rate beyond their time)."""
        if num_out <= 0 or self.up == self.down:
            return max(num_out, 0)
        return (num_out - 1 + self.n_pre_remove) * self.down // self.up + 1

    def accept(self, x: np.ndarray) -> np.ndarray:
        if self.up == self.down:
            self.num_in += len(x)
            return np.asarray(x, dtype=np.float64).copy()
        self._buf = np.concatenate([self._buf, np.asarray(x, dtype=np.float64)])
        self.num_in += len(x)
        # output k is computable once its newest input sample has arrived
        ready = -(-self.num_in * self.up // self.down) - self.n_pre_remove
        return self._compute(max(ready, self.num_out))

    def finish(self) -> np.ndarray:
        """The last outputs (zeros after the end), up to scipy's length ceil(n * up / down)."""
        if self.up == self.down:
            return np.zeros(0)
        total = -(-self.num_in * self.up // self.down)
        if total > self.num_out:
            need = int(self._newest(total - 1)) + 1 - (self._buf_start + len(self._buf))
            self._buf = np.concatenate([self._buf, np.zeros(max(need, 0))])
        return self._compute(max(total, self.num_out))


def resample_poly(x: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """``x`` (1-D) from ``source_rate`` to ``target_rate``; float64, scipy's output length."""
    r = StreamingResampler(source_rate, target_rate)
    return np.concatenate([r.accept(x), r.finish()])
