"""Predict the emotion of audio files with a stage-8 model dir or an export; JSON lines on stdout.

The model dir may also be emotion-systems' deploy system (``<exp>/systems/deploy/model``): the
ensemble of systems chosen on every session (:mod:`asr2emo.systems.predict`).

One line per file: ``{"path", "label", "posteriors": {class: p}}`` (summed-softmax decision).
Any wav/flac at any sampling rate and channel count. A file that cannot be processed gets
``{"path", "error"}``; the others are still processed and the exit status is then 1.
An ONNX export (``asr2emo export --format onnx``) runs with onnxruntime and numpy only: this
verb then imports neither torch nor k2. With --timeline (ONNX exports) a recording of any length
is read in blocks and gets one line per fixed window, ``{"path", "start", "end", "label",
"posteriors"}`` (window/hop: conf/timeline.conf); an undecodable block ends that file with one
error line naming the offset.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Iterator

from asr2emo.data.long_audio import AudioError
from asr2emo.deploy.bundle import is_onnx_export
from asr2emo.deploy.timeline import TimelineOptions
from asr2emo.utils.config import ConfArgumentParser, positive_float
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
    p.add_argument(
        "--timeline",
        action="store_true",
        help="one line per window of --window s every --hop s (ONNX exports; any length)",
    )
    d = TimelineOptions()
    for name, help in (
        ("window", "timeline window length in seconds (a multiple of 0.1)"),
        ("hop", "timeline hop between window starts in seconds (a multiple of 0.1)"),
        ("block", "timeline: seconds of audio read at a time"),
    ):
        p.add_argument(f"--{name}", type=positive_float, default=getattr(d, name), help=help)
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
    from asr2emo.systems.export import is_systems_export

    if is_systems_export(args.model_dir):  # emotion-systems' deploy system
        from asr2emo.systems.predict import SystemsPredictor

        return SystemsPredictor(args.model_dir, args.device)
    return load_predictor(args.model_dir, args.device)


def records(predictor, path: str, args: argparse.Namespace) -> Iterator[dict]:
    """The output lines of one file: one decision, or one per window with --timeline."""
    if args.timeline:
        from asr2emo.deploy.timeline import timeline

        opts = TimelineOptions(window=args.window, hop=args.hop, block=args.block)
        yield from timeline(predictor, path, opts)
    else:
        yield predictor.predict_file(path)


def main(args: argparse.Namespace) -> int:
    try:
        return predict_all(args)
    except BrokenPipeError:  # the reader stopped early (`| head`): nothing left to tell it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def predict_all(args: argparse.Namespace) -> int:
    """Print the lines of every file; 1 when any file failed."""
    setup_logging(level=logging.WARNING)
    if args.timeline and not is_onnx_export(args.model_dir):
        raise UserError("--timeline needs an ONNX export (asr2emo export --format onnx)")
    predictor = load(args)
    if args.timeline:
        from asr2emo.deploy.timeline import window_frames

        window_frames(predictor, TimelineOptions(args.window, args.hop, args.block))
    failed = 0
    for path in args.files:
        try:
            for rec in records(predictor, path, args):
                print(json.dumps(rec), flush=True)
            continue
        except AudioError as e:
            rec = {"path": path, "error": str(e)}
        except BrokenPipeError:
            raise
        except Exception as e:  # any per-file problem: report it, go on with the others
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            rec = {"path": path, "error": f"{type(e).__name__}: {msg}"[:300]}
        failed += 1
        logging.warning("%s: %s", path, rec["error"])
        print(json.dumps(rec), flush=True)
    if failed:
        logging.warning("%d of %d file(s) failed", failed, len(args.files))
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(get_parser().parse_args()))
