"""Frozen TDNN-F vs fine-tuning its top k layers with the emotion head, on stage 8's folds.

Reads stage-6 cuts (MFCC + i-vectors) and the acoustic model; the head, its training and the
folds come from --emotion-config (conf/emotion.conf, as stage 8). Writes under OUT_DIR/<layer>/:
k<k>/fold-<n>/{predictions.jsonl,history.json}, k<k>/metrics.json (stage 8's schema; k0 also
has the fold heads), finetune.json and finetune.md (the table over k). Finished k and folds
(.done) are not recomputed.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from asr2emo.emotion.settings import read_emotion_conf
from asr2emo.finetune.data import load_inputs
from asr2emo.finetune.train import FinetuneConfig, run_finetune
from asr2emo.model import load_model
from asr2emo.utils.config import (
    ConfArgumentParser,
    int_list,
    nonneg_int,
    positive_float,
    positive_int,
)
from asr2emo.utils.devices import add_device_args, setup_device
from asr2emo.utils.errors import UserError
from asr2emo.utils.logging import setup_logging


def get_parser() -> ConfArgumentParser:
    d = FinetuneConfig()
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model_dir", type=Path, help="acoustic model dir (final.pt) or checkpoint")
    p.add_argument("cuts", type=Path, help="stage-6 cuts with MFCC and 'ivector' arrays")
    p.add_argument("out_dir", type=Path, help="output directory (a sub-directory per layer)")
    p.add_argument("--layer", default=d.layer, help="bottleneck layer fed to the head")
    p.add_argument(
        "--finetune-k",
        type=int_list,
        default=list(d.ks),
        help="numbers of top layers (ending at --layer) to fine-tune; 0 = frozen (the paper)",
    )
    p.add_argument(
        "--lr-factor",
        type=positive_float,
        default=d.lr_factor,
        help="learning rate of the network layers = the head's (emotion.conf --lr) x this",
    )
    p.add_argument(
        "--head-lr-factor",
        type=positive_float,
        default=d.head_lr_factor,
        help="learning rate of the head while fine-tuning = emotion.conf --lr x this",
    )
    p.add_argument(
        "--batch-frames",
        type=positive_int,
        default=d.batch_frames,
        help="output frames (30 ms) per minibatch, utterances bucketed by length",
    )
    p.add_argument("--max-epochs", type=positive_int, default=d.max_epochs)
    p.add_argument(
        "--patience",
        type=nonneg_int,
        default=d.patience,
        help="epochs without a better validation UA before stopping",
    )
    p.add_argument(
        "--orthonormal-every",
        type=nonneg_int,
        default=d.orthonormal_every,
        help="steps between semi-orthogonal constraint updates; 0 = never",
    )
    p.add_argument(
        "--emotion-config",
        type=Path,
        default=None,
        help="conf/emotion.conf: head, its training, classes and fold seed (as stage 8)",
    )
    add_device_args(p)
    return p


def main(args: argparse.Namespace) -> int:
    out_dir = args.out_dir / args.layer
    setup_logging(out_dir / "log" / "finetune_emotion.log")
    device = setup_device(args)
    if args.emotion_config is not None and not args.emotion_config.is_file():
        raise UserError(f"--emotion-config '{args.emotion_config}' does not exist")
    if not args.finetune_k or min(args.finetune_k) < 0:
        raise UserError(f"--finetune-k must list numbers >= 0, got {args.finetune_k}")
    emotion = read_emotion_conf(args.emotion_config)
    cfg = FinetuneConfig(
        layer=args.layer,
        ks=list(args.finetune_k),
        lr_factor=args.lr_factor,
        head_lr_factor=args.head_lr_factor,
        batch_frames=args.batch_frames,
        max_epochs=args.max_epochs,
        patience=args.patience,
        orthonormal_every=args.orthonormal_every,
    )
    model = load_model(args.model_dir)
    model.check_layer(args.layer)
    inputs = load_inputs(args.cuts, model.config, emotion.classes or None)
    logging.info(
        "fine-tuning %s: %d utterances, k in %s, lr factor %g",
        args.layer,
        len(inputs.ids),
        cfg.ks,
        cfg.lr_factor,
    )
    sources = {"model": Path(model.info["checkpoint"]), "cuts": Path(args.cuts)}
    table = run_finetune(model, inputs, out_dir, emotion.head, cfg, sources, device)
    for r in table["rows"]:
        logging.info(
            "k=%d (%s): UA %.4f WA %.4f (fold means)",
            r["k"],
            ",".join(r["layers"]) or "frozen",
            r["ua_fold_mean"],
            r["wa_fold_mean"],
        )
    logging.info("wrote %s", out_dir / "finetune.md")
    return 0
