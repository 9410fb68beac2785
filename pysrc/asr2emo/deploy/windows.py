"""The window arithmetic of the emotion timeline: fixed windows every ``hop`` over a stream of
MFCC frames and online i-vectors.

Window ``k`` covers MFCC frames ``[k * hop, k * hop + window)`` (the last one ends with the
recording, and none starts after the previous one reached the end): consecutive windows overlap
by exactly ``window - hop`` and together cover the recording. Window and hop are whole i-vector
periods, so a window's i-vectors are those of its own periods. Frames and i-vectors before the
next window's start are dropped, so memory holds one window whatever the stream's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from asr2emo.utils.errors import UserError


@dataclass
class TimelineOptions:
    """``conf/timeline.conf``: window and hop in seconds, and the reading block size."""

    window: float = 4.0
    hop: float = 2.0
    block: float = 10.0


class WindowBuffer:
    """Buffers MFCC frames and i-vectors of the stream; yields complete windows."""

    def __init__(self, window: int, hop: int, period: int, dim: int, iv_dim: int) -> None:
        self.window, self.hop, self.period = window, hop, period
        self.feats = np.zeros((0, dim), dtype=np.float32)
        self.ivecs = np.zeros((0, iv_dim), dtype=np.float32)
        self.f0 = 0  # global frame index of feats[0]
        self.i0 = 0  # global i-vector index of ivecs[0]
        self.start = 0  # first frame of the next window
        self.prev_end = 0  # last frame + 1 of the window before it

    @property
    def num_frames(self) -> int:
        """MFCC frames pushed so far."""
        return self.f0 + len(self.feats)

    def push(self, feats: np.ndarray, ivecs: np.ndarray, final: bool = False) -> Iterator[tuple]:
        """``(start_frame, end_frame, feats, ivecs, last)`` of every window now complete; with
        ``final`` the stream has ended and the windows up to its end are given."""
        self.feats = np.concatenate([self.feats, feats])
        self.ivecs = np.concatenate([self.ivecs, ivecs])
        num_frames, num_ivecs = self.num_frames, self.i0 + len(self.ivecs)
        while self.start < num_frames and not (final and self.prev_end >= num_frames):
            end = self.start + self.window
            if end > num_frames or -(-end // self.period) > num_ivecs:
                if not final:
                    return
                end = num_frames
            lo, hi = self.start // self.period, -(-end // self.period)
            last = final and end >= num_frames
            yield (
                self.start,
                end,
                self.feats[self.start - self.f0 : end - self.f0],
                self.ivecs[lo - self.i0 : hi - self.i0],
                last,
            )
            self.prev_end = end
            self.start += self.hop
            drop = min(self.start, num_frames) - self.f0
            self.feats, self.f0 = self.feats[drop:], self.f0 + drop
            drop_iv = min(self.start // self.period, num_ivecs) - self.i0
            self.ivecs, self.i0 = self.ivecs[drop_iv:], self.i0 + drop_iv


def window_frames(predictor, opts: TimelineOptions) -> tuple[int, int]:
    """Window and hop in MFCC frames (``predictor``: an OnnxPredictor); both must be whole
    i-vector periods (0.1 s)."""
    period = predictor.ivector.period
    unit = float(predictor.bundle.mfcc_options["frame_shift"]) * period
    frames = []
    for name in ("window", "hop"):
        value = getattr(opts, name)
        n = round(value / unit)
        if n < 1 or abs(n * unit - value) > 1e-6:
            raise UserError(
                f"--{name}={value}: must be a positive multiple of {unit:g} s (one i-vector period)"
            )
        frames.append(n * period)
    if frames[1] > frames[0]:
        raise UserError(
            f"--hop={opts.hop} exceeds --window={opts.window}: windows would leave gaps"
        )
    if opts.block <= 0:
        raise UserError(f"--block must be > 0, got {opts.block}")
    return frames[0], frames[1]
