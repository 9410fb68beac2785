"""Emotion over time for recordings of any length: fixed windows every ``hop`` seconds.

The file is read in blocks (:func:`asr2emo.data.long_audio.read_blocks`); resampling, MFCC and
online i-vectors run on the stream and carry their state across blocks, so memory does not grow
with the recording and every window sees the i-vector of all audio before it. Window ``k``
covers MFCC frames ``[k * hop, k * hop + window)`` (the last one ends with the recording, and
none starts after the previous one reached the end): consecutive windows overlap by exactly
``window - hop`` and together cover the recording. Each window is decided as one utterance
(the export's summed softmax).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List

import numpy as np

from asr2emo.data.long_audio import open_audio, read_blocks
from asr2emo.deploy.ivector import OnlineIvectors
from asr2emo.deploy.mfcc import StreamingMfcc
from asr2emo.deploy.predictor import OnnxPredictor
from asr2emo.deploy.resample import StreamingResampler
from asr2emo.utils.errors import UserError


@dataclass
class TimelineOptions:
    """``conf/timeline.conf``: window and hop in seconds, and the reading block size."""

    window: float = 4.0
    hop: float = 2.0
    block: float = 10.0


class _Windows:
    """Buffers MFCC frames and i-vectors of the stream; yields complete windows."""

    def __init__(self, window: int, hop: int, period: int, dim: int, iv_dim: int) -> None:
        self.window, self.hop, self.period = window, hop, period
        self.feats = np.zeros((0, dim), dtype=np.float32)
        self.ivecs = np.zeros((0, iv_dim), dtype=np.float32)
        self.f0 = 0  # global frame index of feats[0]
        self.i0 = 0  # global i-vector index of ivecs[0]
        self.start = 0  # first frame of the next window
        self.prev_end = 0  # last frame + 1 of the window before it

    def push(self, feats: np.ndarray, ivecs: np.ndarray, final: bool = False) -> Iterator[tuple]:
        """``(start_frame, end_frame, feats, ivecs, last)`` of every window now complete; with
        ``final`` the stream has ended and the windows up to its end are given."""
        self.feats = np.concatenate([self.feats, feats])
        self.ivecs = np.concatenate([self.ivecs, ivecs])
        num_frames, num_ivecs = self.f0 + len(self.feats), self.i0 + len(self.ivecs)
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


def window_frames(predictor: OnnxPredictor, opts: TimelineOptions) -> tuple[int, int]:
    """Window and hop in MFCC frames; both must be whole i-vector periods (0.1 s)."""
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


def timeline(predictor: OnnxPredictor, path: str | Path, opts: TimelineOptions) -> Iterator[dict]:
    """``{"path", "start", "end", "label", "posteriors"}`` per window of the recording ``path``
    (times in seconds); an unreadable block raises AudioError naming its offset."""
    mfcc_conf = predictor.bundle.mfcc_options
    shift = float(mfcc_conf["frame_shift"])
    period = predictor.ivector.period
    window, hop = window_frames(predictor, opts)
    with open_audio(path) as f:
        sr, duration = int(f.samplerate), f.frames / f.samplerate
        resampler = StreamingResampler(sr, predictor.sampling_rate)
        mfcc = StreamingMfcc(mfcc_conf)
        online = OnlineIvectors(predictor.ivector)
        iv_dim = predictor.ivector.ivector_dim
        windows = _Windows(window, hop, period, mfcc.dim, iv_dim)

        def decide(segments) -> List[dict]:
            out = []
            for start, end, feats, ivecs, last in segments:
                rec = predictor.predict_features(feats, ivecs)
                end_s = duration if last else min(end * shift, duration)
                out.append({"path": str(path), "start": round(start * shift, 3),
                            "end": round(end_s, 3), **rec})  # fmt: skip
            return out

        for block in read_blocks(f, max(1, int(opts.block * sr))):
            feats = mfcc.accept(resampler.accept(block))
            yield from decide(windows.push(feats, online.accept(feats)))
        feats = np.concatenate([mfcc.accept(resampler.finish()), mfcc.finish()])
        ivecs = np.concatenate([online.accept(feats), online.finish()])
        if windows.f0 + len(windows.feats) + len(feats) == 0:
            raise ValueError("too short for one feature frame")
        yield from decide(windows.push(feats, ivecs, final=True))
