"""Stop on a data directory of the old layout (features in fbank/, none in mfcc/), naming the fix.

    asr2emo check-data-dir data                                      # run.sh, beyond stage 2
    asr2emo check-data-dir data/mfcc/iemocap_cuts_all_ivec.jsonl.gz  # a cuts file's data dir

Each PATH is a data directory or a file under ``<data-dir>/mfcc/``. Silent with exit 0 when every
layout is current; else one error line and exit 1 (see :mod:`asr2emo.utils.data_dir`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asr2emo.utils.config import ConfArgumentParser
from asr2emo.utils.data_dir import check_data_dir


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "paths", nargs="+", type=Path, help="data directories or files under <data-dir>/mfcc/"
    )
    return p


def main(args: argparse.Namespace) -> int:
    for path in args.paths:
        check_data_dir(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(get_parser().parse_args()))
