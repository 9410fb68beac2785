"""Emotion over time from live audio: :class:`StreamingTimeline` is fed chunks of samples of any
size and returns each window's record as soon as the audio it depends on has arrived.

It is the offline timeline's machinery (:mod:`asr2emo.deploy.timeline` feeds it a file's
blocks): resampling, MFCC and online i-vectors carry their state from chunk to chunk and
:class:`~asr2emo.deploy.windows.WindowBuffer` cuts the windows, so the records equal the
offline timeline's whatever the chunk size, and memory holds about one window.

Latency (audio after a window's end before its record comes out), for the hires MFCC and
online i-vectors of an export (25 ms frames every 10 ms, i-vector period 10 frames, splice
context 3 frames):

- the model's right context: 0 ms. A window is decided as one utterance, as offline: the
  network's right context past its last frame is filled with copies of that frame (Kaldi's edge
  rule), not with later audio;
- the MFCC: frame length - frame shift = 15 ms (the window's last frame ends 15 ms after the
  window, snip-edges framing);
- the i-vectors: 0 ms. Windows end on i-vector period boundaries, and the i-vector of a window's
  last period needs frames up to ``end - period + context``, before the window's last frame;
  in general ``max(0, context - period + 1)`` frames;
- resampling (input not at 16 kHz): the filter's right half, under 1 ms (0.71 ms from 44.1 or
  48 kHz, 1.44 ms from 8 kHz).

So 15 ms at 16 kHz (:attr:`StreamingTimeline.latency`; :meth:`~StreamingTimeline.samples_until`
gives the exact sample count). A caller feeding chunks of ``c`` ms adds up to ``c`` ms, and the
window's network run (its cost per second of audio, the bench's ``timeline`` RTF) adds the
compute time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Union

import numpy as np

from asr2emo.deploy.ivector import OnlineIvectors
from asr2emo.deploy.mfcc import StreamingMfcc, samples_for_frames
from asr2emo.deploy.predictor import OnnxPredictor
from asr2emo.deploy.resample import StreamingResampler
from asr2emo.deploy.windows import TimelineOptions, WindowBuffer, window_frames
from asr2emo.utils.errors import UserError


class StreamingTimeline:
    """Feed mono float samples in [-1, 1] at ``sampling_rate`` with :meth:`accept`, then call
    :meth:`finish`; each returns the records ``{"start", "end", "label", "posteriors"}`` (times
    in seconds) of the windows completed, in order.

    ``model``: an ONNX export dir (or its ``model.onnx``), or an :class:`OnnxPredictor` already
    loaded (shared between streams; any object with its ``bundle``, ``ivector``,
    ``sampling_rate`` and ``predict_features`` will do). ``opts``: window and hop
    (``conf/timeline.conf``).
    """

    def __init__(
        self,
        model: Union[str, Path, OnnxPredictor],
        sampling_rate: int,
        opts: Optional[TimelineOptions] = None,
        num_threads: int = 1,
    ) -> None:
        if isinstance(sampling_rate, bool) or not isinstance(sampling_rate, (int, np.integer)):
            raise UserError(f"sampling_rate must be an integer in Hz, got {sampling_rate!r}")
        if sampling_rate <= 0:
            raise UserError(f"sampling_rate must be > 0 Hz, got {sampling_rate}")
        is_path = isinstance(model, (str, os.PathLike))
        predictor = OnnxPredictor(model, num_threads) if is_path else model
        self.predictor = predictor
        self.opts = opts or TimelineOptions()
        self.window, self.hop = window_frames(predictor, self.opts)
        self.sampling_rate = int(sampling_rate)
        self.mfcc_conf = predictor.bundle.mfcc_options
        self.shift = float(self.mfcc_conf["frame_shift"])
        self.num_samples = 0  # samples accepted so far
        self._finished = False
        self._resampler = StreamingResampler(self.sampling_rate, predictor.sampling_rate)
        self._mfcc = StreamingMfcc(self.mfcc_conf)
        self._ivectors = OnlineIvectors(predictor.ivector)
        iv = predictor.ivector
        self._windows = WindowBuffer(
            self.window, self.hop, iv.period, self._mfcc.dim, iv.ivector_dim
        )

    @property
    def latency(self) -> float:
        """Seconds of audio after a window's end by which its record has come out (a bound;
        the exact figure varies by a fraction of a sample with resampling): see the module
        docstring for the terms."""
        iv = self.predictor.ivector
        conf = self.mfcc_conf
        mfcc = float(conf["frame_length"]) - self.shift
        ivector = max(0, iv.context - iv.period + 1) * self.shift
        r = self._resampler
        resampling = 0.0
        if r.up != r.down:
            resampling = (r.n_pre_remove * r.down / r.up + 1) / self.sampling_rate
        return mfcc + ivector + resampling

    def window_end(self, k: int) -> int:
        """The MFCC frame after window ``k``'s last one (for a window inside the recording)."""
        return k * self.hop + self.window

    def samples_until(self, k: int) -> int:
        """Input samples after which :meth:`accept` has returned window ``k``'s record (a window
        ending before the recording does; the last ones come from :meth:`finish`)."""
        iv = self.predictor.ivector
        end = self.window_end(k)
        last_period = -(-end // iv.period) - 1
        # the window's last frame, or the right splice context of its last period's i-vector
        last_frame = max(end - 1, last_period * iv.period + iv.context)
        num_out = samples_for_frames(last_frame + 1, self.mfcc_conf)
        return self._resampler.inputs_needed(num_out)

    def _check(self, samples) -> np.ndarray:
        if self._finished:
            raise UserError("StreamingTimeline.accept after finish(): start a new stream")
        x = np.asarray(samples)
        if x.ndim != 1:
            raise UserError(f"samples must be a 1-D (mono) array, got shape {x.shape}")
        if not np.issubdtype(x.dtype, np.floating):
            raise UserError(f"samples must be floats in [-1, 1], got dtype {x.dtype}")
        return x

    def _records(self, segments, duration: float) -> List[dict]:
        out = []
        for start, end, feats, ivecs, last in segments:
            rec = self.predictor.predict_features(feats, ivecs)
            end_s = duration if last else min(end * self.shift, duration)
            out.append({"start": round(start * self.shift, 3), "end": round(end_s, 3), **rec})
        return out

    def accept(self, samples: np.ndarray) -> List[dict]:
        """Feed the next samples (1-D float array, any length); the records now complete."""
        x = self._check(samples)
        self.num_samples += len(x)
        feats = self._mfcc.accept(self._resampler.accept(x))
        segments = self._windows.push(feats, self._ivectors.accept(feats))
        return self._records(segments, self.num_samples / self.sampling_rate)

    def finish(self) -> List[dict]:
        """End the stream; the records of the remaining windows, the last one ending with the
        audio. ValueError when the whole stream was shorter than one MFCC frame."""
        if self._finished:
            raise UserError("StreamingTimeline.finish called twice: start a new stream")
        self._finished = True
        feats = np.concatenate([self._mfcc.accept(self._resampler.finish()), self._mfcc.finish()])
        ivecs = np.concatenate([self._ivectors.accept(feats), self._ivectors.finish()])
        if self._windows.num_frames + len(feats) == 0:
            raise ValueError("too short for one feature frame")
        segments = self._windows.push(feats, ivecs, final=True)
        return self._records(segments, self.num_samples / self.sampling_rate)
