"""Train the TDNN-F acoustic model with LF-MMI (k2) on lhotse cuts; resumable, torchrun-ready.

Reads MFCC + i-vector cuts and a lang directory, writes into EXP_DIR: epoch-N.pt,
checkpoint-S.pt, last_checkpoint, final.pt (average of the last --average-n epochs), loss.csv,
loss.png and log/. Rerunning after a kill resumes from the newest checkpoint; a finished
EXP_DIR (.done) is left alone. Under ``torchrun --nproc_per_node N`` it trains with
DistributedDataParallel (gloo on CPU, nccl on CUDA).
"""

from __future__ import annotations

import argparse
import os

from asr2emo.model.trainer import add_training_args, run
from asr2emo.utils.config import ConfArgumentParser
from asr2emo.utils.logging import setup_logging


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("train_cuts", help="training cuts with features and 'ivector' arrays")
    p.add_argument("valid_cuts", help="validation cuts (same kind)")
    p.add_argument("lang_dir", help="lang directory of stage 1 (lang.json, lexicon, P, ...)")
    p.add_argument("exp_dir", help="output directory")
    p.add_argument("--model-config", default=None, help="conf/tdnnf.conf (topology keys)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    add_training_args(p)
    return p


def main(args: argparse.Namespace) -> int:
    rank = int(os.environ.get("RANK", "0"))
    log_name = "train.log" if rank == 0 else f"train.rank{rank}.log"
    setup_logging(os.path.join(args.exp_dir, "log", log_name))
    return run(args)
