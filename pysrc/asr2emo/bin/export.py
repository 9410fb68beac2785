"""Export an emotion model dir to TorchScript or ONNX (MFCC + i-vectors -> emotion posteriors).

MODEL_DIR is a stage-8 model dir (<exp-dir>/emotion/model). With --format torchscript (the
default) OUT gets model.pt (the TorchScript module: CMVN, TDNN-F up to the model's layer,
standardization, head, summed softmax), config.json and the i-vector extractor. With --format
onnx OUT gets model.onnx (normalized MFCC + i-vectors -> frame posteriors) and, as plain
.npz/.json, the CMVN, the i-vector extractor, the MFCC options, the classes and the aggregation
rule: `asr2emo predict OUT wav...` then runs with onnxruntime and numpy, without torch. Either
export is checked against the eager model on a random input before it is kept.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

import numpy as np
import torch

from asr2emo.emotion.torchscript import build_scriptable, export_model_dir
from asr2emo.utils.config import ConfArgumentParser, positive_float
from asr2emo.utils.errors import UserError
from asr2emo.utils.logging import setup_logging

FORMATS = ("torchscript", "onnx")


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model_dir", type=Path, help="stage-8 model dir (<exp-dir>/emotion/model)")
    p.add_argument("out", type=Path, help="output directory of the export")
    p.add_argument("--format", choices=FORMATS, default="torchscript", help="export format")
    p.add_argument("--opset", type=int, default=13, help="ONNX opset (13..17), --format onnx")
    p.add_argument(
        "--tolerance",
        type=positive_float,
        default=1e-5,
        help="max allowed |exported - eager| posterior difference on the self-check",
    )
    return p


def _random_utterance(info: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """A random 3 s utterance: raw MFCC (300, feat_dim) and i-vectors (30, ivector_dim)."""
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(300, info["feat_dim"], generator=g) * 5
    return feats, torch.randn(30, info["ivector_dim"], generator=g)


def check_torchscript(model_dir: Path, out: Path, info: dict) -> float:
    """Max |posterior difference| of the saved TorchScript module and the eager one."""
    eager, _ = build_scriptable(model_dir)
    scripted = torch.jit.load(str(out / info["torchscript"]))
    feats, ivecs = _random_utterance(info)
    with torch.no_grad():
        return float((eager(feats, ivecs)[0] - scripted(feats, ivecs)[0]).abs().max())


def check_onnx(model_dir: Path, out: Path, info: dict) -> float:
    """Max |posterior difference| of the deploy predictor (onnxruntime) and the eager module."""
    from asr2emo.deploy.bundle import sum_softmax
    from asr2emo.deploy.predictor import OnnxPredictor

    eager, _ = build_scriptable(model_dir)
    feats, ivecs = _random_utterance(info)
    with torch.no_grad():
        ref = eager(feats, ivecs)[0].numpy()
    got = sum_softmax(OnnxPredictor(out).frame_posteriors(feats.numpy(), ivecs.numpy()))
    return float(np.abs(ref - got).max())


def main(args: argparse.Namespace) -> int:
    setup_logging()
    torch.set_num_threads(1)
    if args.out.exists():
        raise UserError(f"output '{args.out}' exists already; remove it or choose another name")
    if args.format == "onnx":
        from asr2emo.emotion.onnx_export import export_onnx_dir

        info = export_onnx_dir(args.model_dir, args.out, args.opset)
        diff = check_onnx(args.model_dir, args.out, info)
    else:
        info = export_model_dir(args.model_dir, args.out)
        diff = check_torchscript(args.model_dir, args.out, info)
    if diff > args.tolerance:
        shutil.rmtree(args.out)
        raise UserError(f"exported posteriors differ from the eager model by {diff:.2e}")
    logging.info(
        "exported %s as %s (layer %s, classes %s) to %s; self-check max |diff| %.1e",
        args.model_dir,
        args.format,
        info["layer"],
        ",".join(info["classes"]),
        args.out,
        diff,
    )
    return 0
