"""Predict the emotion of audio files with a stage-8 model dir or an export; JSON lines on stdout.

One line per file: ``{"path", "label", "posteriors": {class: p}}`` (summed-softmax decision).
Any wav/flac at any sampling rate and channel count. A file that cannot be processed gets
``{"path", "error"}``; the others are still processed and the exit status is then 1.
An ONNX export (``asr2emo export --format onnx``) runs with onnxruntime and numpy only: this
verb then imports neither torch nor k2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from asr2emo.data.long_audio import AudioError
from asr2emo.deploy.bundle import is_onnx_export
from asr2emo.utils.config import ConfArgumentParser
from asr2emo.utils.devices import add_device_args, check_threads
from asr2emo.utils.errors import UserError
from asr2emo.utils.logging import setup_logging


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "model_dir",
        help="<exp-dir>/emotion/model written by stage 8, or an 'asr2emo export' dir "
        "(or its model.pt / model.onnx)",
    )
    p.add_argument("files", nargs="+", help="audio files (wav, flac, ...)")
    add_device_args(p)
    return p


def load(args: argparse.Namespace):
    """The predictor for ``args.model_dir``: onnxruntime for an ONNX export, torch otherwise."""
    if is_onnx_export(args.model_dir):
        if args.device != "cpu":
            raise UserError(f"--device {args.device}: an ONNX export runs on the CPU only")
        from asr2emo.deploy.predictor import OnnxPredictor

        return OnnxPredictor(args.model_dir, check_threads(args.num_threads))
    try:
        from asr2emo.emotion.predict import load_predictor
        from asr2emo.utils.devices import setup_device
    except ModuleNotFoundError as e:  # a deploy-only environment (requirements-deploy.txt)
        raise UserError(
            f"'{args.model_dir}' is not an ONNX export and needs {e.name}, which is not "
            "installed; export it with 'asr2emo export --format onnx' where it is"
        ) from None

    setup_device(args)
    return load_predictor(args.model_dir, args.device)


def main(args: argparse.Namespace) -> int:
    setup_logging(level=logging.WARNING)
    predictor = load(args)
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
