"""Run the frozen TDNN-F up to named layers over cuts; store frame-level outputs on the cuts.

For each layer of --layers (e.g. tdnnf12, or tdnnf12,tdnnf13,prefinal), writes
OUT_DIR/<layer>/cuts.jsonl.gz with a custom TemporalArray 'bottleneck' (0.03 s frames) and
OUT_DIR/<layer>/.done. Valid layer names: tdnn1, tdnnf2 .. tdnnfN, prefinal, output.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lhotse import CutSet

from asr2emo.model import load_model
from asr2emo.model.extract import extract_bottlenecks
from asr2emo.utils.config import ConfArgumentParser, positive_int, str2bool, str_list
from asr2emo.utils.devices import add_device_args, setup_device
from asr2emo.utils.errors import UserError
from asr2emo.utils.logging import setup_logging


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model_dir", help="trained TDNN-F directory (final.pt) or a .pt checkpoint")
    p.add_argument("in_cuts", help="cuts with MFCC features and 'ivector' arrays")
    p.add_argument("out_dir", help="output directory (one sub-directory per layer)")
    p.add_argument(
        "--layers", type=str_list, default=["tdnnf12"], help="comma-separated layer names"
    )
    p.add_argument(
        "--chunk-size",
        type=int,
        default=500,
        help="output frames (30 ms) computed at once, with full context; 0 = whole cut",
    )
    p.add_argument(
        "--storage",
        choices=["auto", "lilcom", "numpy"],
        default="auto",
        help="array storage: lilcom (lossy, small), numpy (exact); auto = lilcom if installed",
    )
    add_device_args(p)
    p.add_argument("--nj", type=positive_int, default=1, help="parallel extraction jobs")
    p.add_argument(
        "--cmd", default="", help="job runner of the --nj jobs (utils/run.pl, utils/slurm.pl ...)"
    )
    p.add_argument(
        "--require-ivectors",
        type=str2bool,
        default=True,
        help="false: cuts without 'ivector' get zeros (only for models trained that way)",
    )
    p.add_argument("--log-file", default=None, help="default: OUT_DIR/log/extract_bottleneck.log")
    return p


def main(args: argparse.Namespace) -> int:
    setup_logging(args.log_file or Path(args.out_dir) / "log" / "extract_bottleneck.log")
    setup_device(args)
    if not args.layers:
        raise UserError("--layers is empty")
    if not Path(args.in_cuts).is_file():
        raise UserError(f"cuts '{args.in_cuts}' do not exist")
    model = load_model(args.model_dir, args.device)
    for layer in args.layers:
        model.check_layer(layer)
    cuts = CutSet.from_file(args.in_cuts)
    extract_bottlenecks(
        model,
        cuts,
        args.layers,
        args.out_dir,
        args.chunk_size,
        args.device,
        args.require_ivectors,
        args.storage,
        inputs={"model": Path(model.info["checkpoint"]), "cuts": Path(args.in_cuts)},
        nj=args.nj,
        cmd=args.cmd or None,
    )
    return 0
