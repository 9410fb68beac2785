"""Kaldi ``mfcc_hires.conf`` MFCC computed by kaldi-native-fbank, as a lhotse ``FeatureExtractor``.

The TDNN-F input of the paper is 40-dim "hires" MFCC (40 cepstra from 40 mel bins, 20 Hz to
Nyquist - 400 Hz, no energy, 25 ms windows every 10 ms, snip-edges). Samples are scaled to the
16-bit integer range before kaldi-native-fbank sees them, as Kaldi reads wav files, so the
numbers (c0 in particular) and the meaning of ``dither`` are Kaldi's.

lhotse requires ``num_frames == compute_num_frames(duration)`` (about ``duration / shift``),
which is the snip-edges=false count; Kaldi's snip-edges=true yields about 1.5 frames fewer. We keep
Kaldi's frames and repeat the last one up to lhotse's count (``pad_to_lhotse``), so rows ``0..T-1``
are exactly Kaldi's and cuts, supervisions and alignments stay consistent in lhotse.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict

import kaldi_native_fbank as knf
import numpy as np
from lhotse.features.base import FeatureExtractor, register_extractor
from lhotse.utils import Seconds, compute_num_frames

from asr2emo.deploy.mfcc import knf_options


@dataclass
class KaldiMfccHiresConfig:
    """Options with Kaldi's names and the values of Kaldi's ``conf/mfcc_hires.conf``."""

    sampling_rate: int = 16000
    frame_length: Seconds = 0.025
    frame_shift: Seconds = 0.01
    dither: float = 0.0
    preemph_coeff: float = 0.97
    remove_dc_offset: bool = True
    window_type: str = "povey"
    snip_edges: bool = True
    num_mel_bins: int = 40
    low_freq: float = 20.0
    high_freq: float = -400.0
    num_ceps: int = 40
    use_energy: bool = False
    cepstral_lifter: float = 22.0
    # Kaldi computes on 16-bit sample values; lhotse gives floats in [-1, 1].
    input_scale: float = 32768.0
    # Repeat the last frame up to lhotse's frame count (see the module docstring).
    pad_to_lhotse: bool = True

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: Dict[str, Any]) -> "KaldiMfccHiresConfig":
        return KaldiMfccHiresConfig(**data)

    def to_knf(self) -> knf.MfccOptions:
        """The equivalent ``kaldi_native_fbank.MfccOptions`` (built as the deploy path does)."""
        return knf_options(self.to_dict())


def _knf_mfcc(samples: np.ndarray, opts: knf.MfccOptions, sampling_rate: int) -> np.ndarray:
    """Run kaldi-native-fbank over a whole 1-D signal; ``(T, num_ceps)`` float32."""
    comp = knf.OnlineMfcc(opts)
    comp.accept_waveform(float(sampling_rate), samples)
    comp.input_finished()
    n = comp.num_frames_ready
    if n == 0:
        return np.zeros((0, opts.num_ceps), dtype=np.float32)
    return np.stack([comp.get_frame(i) for i in range(n)]).astype(np.float32, copy=False)


@register_extractor
class KaldiMfccHires(FeatureExtractor):
    """40-dim hires MFCC (Kaldi semantics) by kaldi-native-fbank, for lhotse pipelines."""

    name = "kaldi-mfcc-hires"
    config_type = KaldiMfccHiresConfig

    def __init__(self, config: KaldiMfccHiresConfig | None = None) -> None:
        super().__init__(config)
        self._opts = self.config.to_knf()

    @property
    def frame_shift(self) -> Seconds:
        return self.config.frame_shift

    def feature_dim(self, sampling_rate: int) -> int:
        return self.config.num_ceps

    def extract(self, samples: np.ndarray, sampling_rate: int) -> np.ndarray:
        """``samples``: ``(N,)`` or ``(1, N)`` floats in [-1, 1] at the configured rate."""
        if sampling_rate != self.config.sampling_rate:
            raise ValueError(
                f"KaldiMfccHires expects {self.config.sampling_rate} Hz audio, got {sampling_rate}"
                " Hz;"
                " resample first (cut.resample / recording.resample)"
            )
        samples = np.asarray(samples)
        if samples.ndim == 2:
            if samples.shape[0] != 1:
                raise ValueError(
                    f"KaldiMfccHires takes mono audio, got {samples.shape[0]} channels"
                )
            samples = samples[0]
        scaled = np.ascontiguousarray(samples * self.config.input_scale, dtype=np.float32)
        feats = _knf_mfcc(scaled, self._opts, sampling_rate)
        if feats.shape[0] == 0:
            raise ValueError(
                f"audio of {len(samples)} samples is shorter than one frame"
                f" ({self.config.frame_length} s)"
            )
        if self.config.pad_to_lhotse:
            n = compute_num_frames(len(samples) / sampling_rate, self.frame_shift, sampling_rate)
            if n > feats.shape[0]:
                feats = np.concatenate([feats, np.repeat(feats[-1:], n - feats.shape[0], axis=0)])
        return feats


def compute_mfcc(
    samples: np.ndarray, sampling_rate: int, config: KaldiMfccHiresConfig | None = None
) -> np.ndarray:
    """Hires MFCC ``(T, 40)`` of a mono signal in [-1, 1]; resampled to 16 kHz (lhotse) if needed.

    The predict path uses this on single files; recipes go through :class:`KaldiMfccHires` and
    ``CutSet.compute_and_store_features``.
    """
    extractor = KaldiMfccHires(config)
    target = extractor.config.sampling_rate
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 2:
        samples = samples[0]
    if sampling_rate != target:
        from lhotse.augmentation import Resample

        samples = Resample(source_sampling_rate=sampling_rate, target_sampling_rate=target)(
            samples.reshape(1, -1)
        )[0]
    return extractor.extract(samples, target)
