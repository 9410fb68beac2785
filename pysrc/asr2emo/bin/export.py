"""Export an emotion model dir to TorchScript (raw MFCC + i-vectors -> emotion posteriors).

MODEL_DIR is a stage-8 model dir (<exp-dir>/emotion/model). OUT gets model.pt (the TorchScript
module: CMVN, TDNN-F up to the model's layer, standardization, head, summed softmax),
config.json and the i-vector extractor; `asr2emo predict OUT wav...` runs from it. The export
is checked against the eager model on a random input before it is kept.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from asr2emo.emotion.torchscript import build_scriptable, export_model_dir
from asr2emo.utils.config import ConfArgumentParser, positive_float
from asr2emo.utils.errors import UserError
from asr2emo.utils.logging import setup_logging


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model_dir", type=Path, help="stage-8 model dir (<exp-dir>/emotion/model)")
    p.add_argument("out", type=Path, help="output directory of the export")
    p.add_argument(
        "--tolerance",
        type=positive_float,
        default=1e-5,
        help="max allowed |exported - eager| posterior difference on the self-check",
    )
    return p


def main(args: argparse.Namespace) -> int:
    setup_logging()
    torch.set_num_threads(1)
    if args.out.exists():
        raise UserError(f"output '{args.out}' exists already; remove it or choose another name")
    info = export_model_dir(args.model_dir, args.out)
    # Self-check: the saved module against the eager one on a random 3 s utterance.
    eager, _ = build_scriptable(args.model_dir)
    scripted = torch.jit.load(str(args.out / info["torchscript"]))
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(300, info["feat_dim"], generator=g) * 5
    ivecs = torch.randn(30, info["ivector_dim"], generator=g)
    with torch.no_grad():
        diff = float((eager(feats, ivecs)[0] - scripted(feats, ivecs)[0]).abs().max())
    if diff > args.tolerance:
        raise UserError(f"exported posteriors differ from the eager model by {diff:.2e}")
    logging.info(
        "exported %s (layer %s, classes %s) to %s; self-check max |diff| %.1e",
        args.model_dir,
        info["layer"],
        ",".join(info["classes"]),
        args.out,
        diff,
    )
    return 0
