"""Hires MFCC (kaldi-native-fbank via lhotse) + global CMVN for every part of a corpus."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from asr2emo.features.make import make_features
from asr2emo.features.mfcc import KaldiMfccHiresConfig
from asr2emo.features.volume import VolumePerturbConfig
from asr2emo.utils.config import (
    ConfArgumentParser,
    add_dataclass_args,
    dataclass_from_args,
    positive_float,
    positive_int,
    str2bool,
)
from asr2emo.utils.errors import UserError
from asr2emo.utils.logging import setup_logging


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__)
    p.add_argument("--nj", type=int, default=1, help="parallel feature jobs")
    p.add_argument(
        "--cmd", default="", help="job runner for the --nj jobs (utils/run.pl, utils/slurm.pl ...)"
    )
    p.add_argument(
        "--speed-perturb",
        type=str2bool,
        default=False,
        help="add 0.9/1.1 speed-perturbed copies of the train part",
    )
    # --volume-perturb, --volume-low/-high, --volume-seed: with --speed-perturb, on the train part
    add_dataclass_args(p, VolumePerturbConfig)
    p.add_argument(
        "--min-duration",
        type=float,
        default=0.1,
        help="cuts shorter than this (seconds) are skipped and listed",
    )
    d = KaldiMfccHiresConfig()
    p.add_argument(
        "--sample-frequency",
        type=int,
        default=d.sampling_rate,
        help="features are computed at this rate; other audio is resampled",
    )
    p.add_argument("--frame-length", type=positive_float, default=d.frame_length * 1000, help="ms")
    p.add_argument("--frame-shift", type=positive_float, default=d.frame_shift * 1000, help="ms")
    p.add_argument(
        "--dither",
        type=float,
        default=d.dither,
        help="dither on the 16-bit sample scale (Kaldi default 1.0)",
    )
    p.add_argument("--num-ceps", type=positive_int, default=d.num_ceps)
    p.add_argument("--num-mel-bins", type=positive_int, default=d.num_mel_bins)
    p.add_argument("--low-freq", type=float, default=d.low_freq)
    p.add_argument(
        "--high-freq", type=float, default=d.high_freq, help="Hz; <= 0 means offset from Nyquist"
    )
    p.add_argument("--use-energy", type=str2bool, default=d.use_energy)
    p.add_argument("--snip-edges", type=str2bool, default=d.snip_edges)
    p.add_argument("manifest_dir", type=Path)
    p.add_argument("corpus", help="manifest prefix, e.g. tedlium2 or iemocap")
    p.add_argument("mfcc_dir", type=Path)
    return p


def config_from_args(args: argparse.Namespace) -> KaldiMfccHiresConfig:
    return KaldiMfccHiresConfig(
        sampling_rate=args.sample_frequency,
        frame_length=args.frame_length / 1000.0,
        frame_shift=args.frame_shift / 1000.0,
        dither=args.dither,
        num_ceps=args.num_ceps,
        num_mel_bins=args.num_mel_bins,
        low_freq=args.low_freq,
        high_freq=args.high_freq,
        use_energy=args.use_energy,
        snip_edges=args.snip_edges,
    )


def main(args: argparse.Namespace) -> int:
    torch.set_num_threads(1)
    setup_logging(args.mfcc_dir / "log" / f"compute_mfcc_{args.corpus}.log")
    if not args.manifest_dir.is_dir():
        raise UserError(f"manifest directory '{args.manifest_dir}' does not exist (run stage 0)")
    if args.nj < 1:
        raise UserError("--nj must be at least 1")
    if args.num_ceps > args.num_mel_bins:
        raise UserError(f"--num-ceps={args.num_ceps} exceeds --num-mel-bins={args.num_mel_bins}")
    if args.frame_shift > args.frame_length:
        raise UserError(
            f"--frame-shift={args.frame_shift} ms exceeds --frame-length={args.frame_length} ms"
        )
    make_features(
        args.manifest_dir,
        args.corpus,
        args.mfcc_dir,
        config_from_args(args),
        nj=args.nj,
        speed_perturb=args.speed_perturb,
        min_duration=args.min_duration,
        cmd=args.cmd or None,
        volume=dataclass_from_args(VolumePerturbConfig, args),
    )
    return 0
