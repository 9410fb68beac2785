"""Write the report: paper Tables 1-3 beside ours, confusion matrix, curves, WER (stage 9).

Reads ``<manifest-dir>/<corpus>_supervisions_all.jsonl.gz`` (Table 1), every finished
``<emotion-dir>/<layer>/metrics.json`` and fold ``history.json`` (Tables 2, 3, aggregations,
curves) and ``<exp-dir>/tdnnf/decode_*/wer.txt`` (WER); writes ``report.md``, ``metrics.json``
(schema in :mod:`asr2emo.report.render`) and PNGs to the report dir. Missing inputs make their
section say "not run".
"""

from __future__ import annotations

import argparse
from pathlib import Path

from asr2emo.report.render import build_report
from asr2emo.utils.config import ConfArgumentParser
from asr2emo.utils.logging import setup_logging


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("manifest_dir", type=Path, help="lhotse manifests (data/manifests)")
    p.add_argument("exp_dir", type=Path, help="experiment dir (exp)")
    p.add_argument("report_dir", type=Path, help="output dir (exp/report)")
    p.add_argument(
        "--corpus",
        default="iemocap",
        help="manifest prefix; the paper's figures are shown for iemocap only",
    )
    p.add_argument(
        "--emotion-dir", type=Path, default=None, help="stage 8 output (default: <exp-dir>/emotion)"
    )
    p.add_argument(
        "--asr-exp-dir",
        type=Path,
        default=None,
        help="run.sh exp dir holding tdnnf/decode_*/wer.txt (default: <exp-dir>)",
    )
    p.add_argument(
        "--layer",
        default="",
        help="layer of Table 3; default: the deployable model's, else tdnnf12, "
        "else the best CV UA",
    )
    return p


def main(args: argparse.Namespace) -> int:
    setup_logging(args.report_dir / "log" / "make_report.log")
    build_report(
        args.manifest_dir,
        args.exp_dir,
        args.report_dir,
        args.corpus,
        args.emotion_dir,
        args.layer,
        asr_exp_dir=args.asr_exp_dir,
    )
    return 0
