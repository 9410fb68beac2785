"""Predict the emotion of audio files with a stage-8 model dir; JSON lines on stdout.

One line per file: ``{"path", "label", "posteriors": {class: p}}`` (summed-softmax decision).
Any wav/flac at any sampling rate and channel count. A file that cannot be processed gets
``{"path", "error"}``; the others are still processed and the exit status is then 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from asr2emo.data.long_audio import AudioError
from asr2emo.emotion.predict import load_predictor
from asr2emo.utils.config import ConfArgumentParser
from asr2emo.utils.devices import add_device_args, setup_device
from asr2emo.utils.logging import setup_logging


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "model_dir",
        help="<exp-dir>/emotion/model written by stage 8, or an 'asr2emo export' dir "
        "(or its model.pt)",
    )
    p.add_argument("files", nargs="+", help="audio files (wav, flac, ...)")
    add_device_args(p)
    return p


def main(args: argparse.Namespace) -> int:
    setup_logging(level=logging.WARNING)
    setup_device(args)
    predictor = load_predictor(args.model_dir, args.device)
    failed = 0
    for path in args.files:
        try:
            rec = predictor.predict_file(path)
        except AudioError as e:
            failed += 1
            rec = {"path": path, "error": str(e)}
            logging.warning("%s: %s", path, rec["error"])
        except Exception as e:  # any per-file problem: report it, go on with the others
            failed += 1
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            rec = {"path": path, "error": f"{type(e).__name__}: {msg}"[:300]}
            logging.warning("%s: %s", path, rec["error"])
        print(json.dumps(rec), flush=True)
    if failed:
        logging.warning("%d of %d file(s) failed", failed, len(args.files))
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(get_parser().parse_args()))
