"""SpecAugment for a network that reads hires MFCC: masks applied in the log-mel domain.

Frequency masks only mean "hide a band of the spectrum" on filterbank energies, so, as Kaldi's
``idct-layer`` + ``spec-augment-layer`` do, the MFCC are mapped back to log-mel energies (the
inverse of Kaldi's orthonormal DCT and cepstral lifter; exact when ``num_ceps == num_mel_bins``,
the hires setting), augmented by lhotse's :class:`~lhotse.dataset.SpecAugment` (time warp,
frequency and time masks filled with the utterance mean) and mapped forward again. Training only;
the random draws come from Python's and torch's generators, which the checkpoints save, so a
resumed run repeats them.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Optional

import torch

from asr2emo.utils.config import nonneg_int, positive_int, str2bool
from asr2emo.utils.errors import UserError


def kaldi_dct_matrix(num_ceps: int, num_bins: int) -> torch.Tensor:
    """Kaldi's ``ComputeDctMatrix`` rows 0..num_ceps-1: ``(num_ceps, num_bins)``, orthonormal."""
    k = torch.arange(num_ceps, dtype=torch.float64).unsqueeze(1)
    n = torch.arange(num_bins, dtype=torch.float64).unsqueeze(0)
    m = math.sqrt(2.0 / num_bins) * torch.cos(math.pi / num_bins * (n + 0.5) * k)
    m[0] = math.sqrt(1.0 / num_bins)
    return m


def kaldi_lifter(num_ceps: int, cepstral_lifter: float) -> torch.Tensor:
    """Kaldi's ``ComputeLifterCoeffs``: ``1 + Q/2 sin(pi i / Q)`` (all ones when Q is 0)."""
    i = torch.arange(num_ceps, dtype=torch.float64)
    if cepstral_lifter == 0:
        return torch.ones(num_ceps, dtype=torch.float64)
    return 1.0 + 0.5 * cepstral_lifter * torch.sin(math.pi * i / cepstral_lifter)


@dataclass
class SpecAugmentConfig:
    """The ``--spec-aug-*`` keys of the training config (conf/lfmmi.conf)."""

    enabled: bool = False
    time_warp: int = 0  # lhotse time_warp_factor; 0 disables warping
    freq_masks: int = 2
    freq_mask_width: int = 10  # widest band, in mel bins (of num_mel_bins)
    time_masks: int = 5
    time_mask_width: int = 40  # longest mask, in 10 ms frames
    max_time_fraction: float = 0.15  # masked frames at most this share of an utterance
    prob: float = 0.9  # probability that an utterance is augmented at all


def add_spec_augment_args(p: argparse.ArgumentParser) -> None:
    """The SpecAugment keys of ``asr2emo train-lfmmi``."""
    d = SpecAugmentConfig()
    p.add_argument(
        "--spec-augment",
        type=str2bool,
        default=d.enabled,
        help="SpecAugment in the log-mel domain during training (Kaldi's paper recipe: false)",
    )
    p.add_argument("--spec-aug-time-warp", type=nonneg_int, default=d.time_warp)
    p.add_argument("--spec-aug-freq-masks", type=nonneg_int, default=d.freq_masks)
    p.add_argument("--spec-aug-freq-mask-width", type=positive_int, default=d.freq_mask_width)
    p.add_argument("--spec-aug-time-masks", type=nonneg_int, default=d.time_masks)
    p.add_argument("--spec-aug-time-mask-width", type=positive_int, default=d.time_mask_width)
    p.add_argument("--spec-aug-max-time-fraction", type=float, default=d.max_time_fraction)
    p.add_argument("--spec-aug-prob", type=float, default=d.prob)


def spec_augment_config(args: argparse.Namespace) -> SpecAugmentConfig:
    c = SpecAugmentConfig(
        enabled=args.spec_augment,
        time_warp=args.spec_aug_time_warp,
        freq_masks=args.spec_aug_freq_masks,
        freq_mask_width=args.spec_aug_freq_mask_width,
        time_masks=args.spec_aug_time_masks,
        time_mask_width=args.spec_aug_time_mask_width,
        max_time_fraction=args.spec_aug_max_time_fraction,
        prob=args.spec_aug_prob,
    )
    for name in ("max_time_fraction", "prob"):
        value = getattr(c, name)
        if not 0.0 <= value <= 1.0:
            raise UserError(f"--spec-aug-{name.replace('_', '-')} must be in [0, 1], got {value}")
    return c


class MfccSpecAugment(torch.nn.Module):
    """MFCC -> log-mel -> lhotse SpecAugment -> MFCC, per utterance of a padded batch."""

    def __init__(
        self,
        config: SpecAugmentConfig,
        num_ceps: int = 40,
        num_mel_bins: int = 40,
        cepstral_lifter: float = 22.0,
    ) -> None:
        super().__init__()
        from lhotse.dataset import SpecAugment

        if num_ceps != num_mel_bins:
            raise UserError(
                f"SpecAugment on MFCC needs num_ceps == num_mel_bins (hires MFCC), got "
                f"{num_ceps} and {num_mel_bins}"
            )
        if config.freq_mask_width > num_mel_bins:
            raise UserError(
                f"--spec-aug-freq-mask-width={config.freq_mask_width} exceeds the "
                f"{num_mel_bins} mel bins"
            )
        dct = kaldi_dct_matrix(num_ceps, num_mel_bins)
        lifter = kaldi_lifter(num_ceps, cepstral_lifter)
        # mfcc = (logmel @ dct.T) * lifter  <=>  logmel = (mfcc / lifter) @ dct
        self.register_buffer("to_mel", (dct / lifter.unsqueeze(1)).float())
        self.register_buffer("to_mfcc", (dct.T * lifter.unsqueeze(0)).float())
        self.augment = SpecAugment(
            time_warp_factor=config.time_warp if config.time_warp >= 1 else None,
            num_feature_masks=config.freq_masks,
            features_mask_size=config.freq_mask_width,
            num_frame_masks=config.time_masks,
            frames_mask_size=config.time_mask_width,
            max_frames_mask_fraction=config.max_time_fraction,
            p=config.prob,
        )

    def mfcc_to_logmel(self, mfcc: torch.Tensor) -> torch.Tensor:
        return mfcc @ self.to_mel

    def logmel_to_mfcc(self, logmel: torch.Tensor) -> torch.Tensor:
        return logmel @ self.to_mfcc

    def forward(self, feats: torch.Tensor, lens: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Augmented copy of ``feats (N, T, num_ceps)``; frames past ``lens`` are left alone."""
        out = feats.clone()
        n, t = feats.shape[0], feats.shape[1]
        lens = lens if lens is not None else torch.full((n,), t, dtype=torch.int64)
        for i in range(n):
            length = int(lens[i])
            if length == 0:
                continue
            mel = self.mfcc_to_logmel(feats[i : i + 1, :length])
            augmented = self.augment(mel)
            if not torch.equal(augmented, mel):  # skipped (prob) utterances stay bit-exact
                out[i, :length] = self.logmel_to_mfcc(augmented)[0]
        return out
