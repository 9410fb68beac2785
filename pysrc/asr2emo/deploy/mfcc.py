"""Hires MFCC by kaldi-native-fbank from the options of an export (``mfcc.json``), whole or in
blocks, with the frame count of :mod:`asr2emo.features.mfcc` (lhotse's, last frame repeated).

The option names are those of :class:`asr2emo.features.mfcc.KaldiMfccHiresConfig`, which uses
:func:`knf_options` too, so training and deployment build the same extractor.
"""

from __future__ import annotations

from typing import Any, Dict

import kaldi_native_fbank as knf
import numpy as np


def knf_options(conf: Dict[str, Any]) -> knf.MfccOptions:
    """``kaldi_native_fbank.MfccOptions`` from the options dict (Kaldi's names and meanings)."""
    opts = knf.MfccOptions()
    fo = opts.frame_opts
    fo.samp_freq = float(conf["sampling_rate"])
    fo.frame_length_ms = float(conf["frame_length"]) * 1000.0
    fo.frame_shift_ms = float(conf["frame_shift"]) * 1000.0
    fo.dither = float(conf["dither"])
    fo.preemph_coeff = float(conf["preemph_coeff"])
    fo.remove_dc_offset = bool(conf["remove_dc_offset"])
    fo.window_type = str(conf["window_type"])
    fo.snip_edges = bool(conf["snip_edges"])
    mo = opts.mel_opts
    mo.num_bins = int(conf["num_mel_bins"])
    mo.low_freq = float(conf["low_freq"])
    mo.high_freq = float(conf["high_freq"])
    opts.num_ceps = int(conf["num_ceps"])
    opts.use_energy = bool(conf["use_energy"])
    opts.cepstral_lifter = float(conf["cepstral_lifter"])
    return opts


def lhotse_num_frames(num_samples: int, sampling_rate: int, frame_shift: float) -> int:
    """``lhotse.utils.compute_num_frames`` of a signal of ``num_samples`` samples."""
    hop = round(frame_shift * sampling_rate)
    return int((num_samples + hop // 2) // hop)


def samples_for_frames(num_frames: int, conf: Dict[str, Any]) -> int:
    """Samples after which kaldi-native-fbank has the first ``num_frames`` frames ready: the
    end of frame ``num_frames - 1`` (with snip_edges frame ``t`` is samples
    ``[t * shift, t * shift + length)``; without, it is centred on ``t * shift + shift / 2``)."""
    if num_frames <= 0:
        return 0
    rate = float(conf["sampling_rate"])
    shift = round(rate * float(conf["frame_shift"]))
    length = round(rate * float(conf["frame_length"]))
    first = (num_frames - 1) * shift
    if not bool(conf["snip_edges"]):
        first += shift // 2 - length // 2
    return first + length


class StreamingMfcc:
    """MFCC of a signal fed in blocks; :meth:`accept` returns the frames that became ready.

    Frames are copied out and dropped from kaldi-native-fbank's buffer, so memory does not
    grow with the length of the signal. :meth:`finish` returns the last frames, padded to
    lhotse's count when ``pad_to_lhotse`` is set.
    """

    def __init__(self, conf: Dict[str, Any]) -> None:
        self.conf = conf
        self.rate = int(conf["sampling_rate"])
        self.scale = float(conf.get("input_scale", 32768.0))
        self.dim = int(conf["num_ceps"])
        self._mfcc = knf.OnlineMfcc(knf_options(conf))
        self.num_samples = 0
        self.num_frames = 0  # frames returned so far
        self._last = np.zeros((0, self.dim), dtype=np.float32)

    def _ready(self) -> np.ndarray:
        n = self._mfcc.num_frames_ready
        if n == self.num_frames:
            return np.zeros((0, self.dim), dtype=np.float32)
        # get_frame returns a view into the buffer that pop() recycles: copy first
        out = np.stack([self._mfcc.get_frame(i) for i in range(self.num_frames, n)]).astype(
            np.float32
        )
        self._mfcc.pop(n - self.num_frames)
        self.num_frames = n
        self._last = out[-1:]
        return out

    def accept(self, samples: np.ndarray) -> np.ndarray:
        """Feed mono samples in [-1, 1] at the configured rate; the new frames ``(n, dim)``."""
        samples = np.asarray(samples, dtype=np.float32)
        self.num_samples += len(samples)
        if len(samples):
            self._mfcc.accept_waveform(float(self.rate), np.ascontiguousarray(samples * self.scale))
        return self._ready()

    def finish(self) -> np.ndarray:
        """The remaining frames at the end of the signal (lhotse padding included)."""
        self._mfcc.input_finished()
        out = self._ready()
        if self.conf.get("pad_to_lhotse", True) and self.num_frames > 0:
            want = lhotse_num_frames(self.num_samples, self.rate, float(self.conf["frame_shift"]))
            if want > self.num_frames:
                pad = np.repeat(self._last, want - self.num_frames, axis=0)
                out = np.concatenate([out, pad])
                self.num_frames = want
        return out


def compute_mfcc(samples: np.ndarray, conf: Dict[str, Any]) -> np.ndarray:
    """MFCC ``(T, num_ceps)`` of a whole mono signal already at ``conf["sampling_rate"]``."""
    mfcc = StreamingMfcc(conf)
    return np.concatenate([mfcc.accept(samples), mfcc.finish()])
