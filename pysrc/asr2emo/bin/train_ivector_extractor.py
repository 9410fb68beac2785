"""Train the i-vector extractor (splice+PCA, diagonal UBM, T-matrix) on the MFCC of cuts."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict
from pathlib import Path

import torch
from lhotse import load_manifest_lazy

from asr2emo.ivector.data import load_training_features
from asr2emo.ivector.extractor import IvectorOptions
from asr2emo.ivector.train import TrainOptions, train_extractor
from asr2emo.utils.config import ConfArgumentParser, nonneg_int, positive_int, str2bool
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path
from asr2emo.utils.logging import setup_logging
from asr2emo.utils.markers import config_of, make_record, needs_run, write_marker


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__)
    p.add_argument("--nj", type=int, default=1, help="threads for the EM matrix products")
    t, o = TrainOptions(), IvectorOptions()
    p.add_argument("--splice-context", type=int, default=o.splice_context, help="frames each side")
    p.add_argument("--pca-dim", type=positive_int, default=t.pca_dim)
    p.add_argument("--num-gauss", type=positive_int, default=t.num_gauss, help="UBM Gaussians")
    p.add_argument("--num-iters-ubm", type=nonneg_int, default=t.num_iters_ubm)
    p.add_argument(
        "--ubm-max-frames",
        type=int,
        default=t.ubm_max_frames,
        help="random frames (after --subsample) for PCA and UBM",
    )
    p.add_argument("--ivector-dim", type=positive_int, default=t.ivector_dim)
    p.add_argument(
        "--num-iters", type=nonneg_int, default=t.num_iters, help="T-matrix EM iterations"
    )
    p.add_argument(
        "--subsample", type=positive_int, default=t.subsample, help="use every n-th frame"
    )
    p.add_argument(
        "--max-utts",
        type=int,
        default=t.max_utts,
        help="random subset of utterances for PCA, UBM and global CMVN (0: all); the T-matrix"
        " uses every utterance",
    )
    p.add_argument(
        "--min-frames", type=int, default=t.min_frames, help="shorter cuts are skipped and listed"
    )
    p.add_argument("--num-gselect", type=positive_int, default=o.num_gselect)
    p.add_argument("--min-post", type=float, default=o.min_post)
    p.add_argument("--posterior-scale", type=float, default=o.posterior_scale)
    p.add_argument("--ivector-period", type=positive_int, default=o.ivector_period)
    p.add_argument("--max-count", type=float, default=o.max_count)
    p.add_argument(
        "--cmn-window", type=positive_int, default=o.cmn_window, help="online CMVN (gselect)"
    )
    p.add_argument("--global-frames", type=nonneg_int, default=o.global_frames)
    p.add_argument(
        "--gaussian-min-count",
        type=float,
        default=t.gaussian_min_count,
        help="Gaussians with fewer (scaled) frames keep their T-matrix block",
    )
    p.add_argument("--diagonalize", type=str2bool, default=t.diagonalize)
    p.add_argument("--seed", type=int, default=t.seed)
    p.add_argument("train_cuts", type=Path, help="cuts with hires MFCC")
    p.add_argument("ivector_dir", type=Path)
    return p


def main(args: argparse.Namespace) -> int:
    setup_logging(args.ivector_dir / "log" / "train_ivector_extractor.log")
    if not args.train_cuts.is_file():
        raise UserError(f"training cuts '{args.train_cuts}' do not exist (run stage 2)")
    record = make_record(
        "train-ivector-extractor",
        config_of(args, exclude=("train_cuts", "ivector_dir")),
        {"train_cuts": args.train_cuts},
        format=2,  # 2: prior offset, online CMVN for gselect, per-utterance T-matrix stats
    )
    if not needs_run(args.ivector_dir, record, f"i-vector extractor {args.ivector_dir}"):
        return 0
    torch.set_num_threads(max(1, args.nj))
    topts = TrainOptions(
        pca_dim=args.pca_dim,
        num_gauss=args.num_gauss,
        num_iters_ubm=args.num_iters_ubm,
        ubm_max_frames=args.ubm_max_frames,
        ivector_dim=args.ivector_dim,
        num_iters=args.num_iters,
        subsample=args.subsample,
        max_utts=args.max_utts,
        min_frames=args.min_frames,
        gaussian_min_count=args.gaussian_min_count,
        diagonalize=args.diagonalize,
        seed=args.seed,
    )
    iopts = IvectorOptions(
        splice_context=args.splice_context,
        num_gselect=args.num_gselect,
        min_post=args.min_post,
        posterior_scale=args.posterior_scale,
        ivector_period=args.ivector_period,
        max_count=args.max_count,
        cmn_window=args.cmn_window,
        global_frames=args.global_frames,
    )
    cuts = load_manifest_lazy(args.train_cuts)
    feats, speakers, ids, skipped = load_training_features(cuts, args.min_frames)
    _write_skipped(args.ivector_dir / "log" / "skipped.txt", skipped)
    if len(feats) < 2:
        raise UserError(f"{args.train_cuts}: fewer than 2 usable cuts for the i-vector extractor")
    logging.info(f"training on {len(feats)} cuts of {len(set(speakers))} speakers")
    extractor, objective = train_extractor(feats, topts, iopts)
    extractor.save(args.ivector_dir)
    with atomic_path(args.ivector_dir / "log" / "objective.json") as tmp:
        tmp.write_text(json.dumps({"train": asdict(topts), **objective}, indent=1) + "\n")
    _check_monotone("UBM", objective["ubm"])
    _check_monotone("T-matrix", objective["tv"])
    write_marker(args.ivector_dir, record)
    return 0


def _check_monotone(name: str, values: list) -> None:
    drops = [
        i for i in range(1, len(values)) if values[i] < values[i - 1] - 1e-6 * abs(values[i - 1])
    ]
    if drops:
        logging.warning(f"{name} objective decreased at iteration(s) {drops}: {values}")


def _write_skipped(path: Path, skipped: list) -> None:
    if skipped:
        logging.warning(f"skipped {len(skipped)} cut(s), listed in {path}")
        for cid, why in skipped:
            logging.warning(f"  skipped {cid}: {why}")
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{cid}\t{why}\n" for cid, why in skipped))
