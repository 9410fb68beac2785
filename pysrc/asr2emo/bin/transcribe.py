"""Transcribe audio files with a trained TDNN-F and its lang directory's HLG; JSON lines on stdout.

One line per input file, in order: ``{"path", "text", "duration", "segments"}``, or
``{"path", "error"}`` for a file that cannot be transcribed (missing, unreadable, empty, shorter
than one 25 ms frame); the other files are still transcribed and the exit status is then 1.
Files of any length are decoded in silence-cut segments of about --segment-seconds, in bounded
memory (see :mod:`asr2emo.lfmmi.transcribe`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from asr2emo.data.long_audio import AudioError
from asr2emo.lfmmi.transcribe import Transcriber
from asr2emo.utils.config import ConfArgumentParser, positive_float
from asr2emo.utils.devices import add_device_args, setup_device
from asr2emo.utils.logging import setup_logging


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    add_device_args(p)
    p.add_argument("--lang-dir", default=None, help="default: the model's lang directory")
    p.add_argument("--ivector-extractor", default=None, help="default: the model's extractor")
    p.add_argument("--search-beam", type=float, default=20.0)
    p.add_argument("--output-beam", type=float, default=8.0)
    p.add_argument(
        "--segment-seconds",
        type=positive_float,
        default=30.0,
        help="long files are decoded in pieces of about this length, cut at silences",
    )
    p.add_argument("model_dir", type=Path, help="model directory (final.pt) or checkpoint")
    p.add_argument("wavs", nargs="+", type=Path, help="audio files (any format libsndfile reads)")
    return p


def main(args) -> int:
    setup_logging(level=logging.WARNING)
    setup_device(args)
    asr = Transcriber(
        args.model_dir,
        args.lang_dir,
        args.ivector_extractor,
        args.device,
        args.search_beam,
        args.output_beam,
        args.segment_seconds,
    )
    failed = 0
    for wav in args.wavs:
        try:
            rec = asr.transcribe_file(wav)
        except AudioError as e:
            rec = {"path": str(wav), "error": str(e)}
        except Exception as e:  # noqa: BLE001 - one bad file must not stop the others
            msg = (str(e).strip().splitlines() or [""])[0]
            rec = {"path": str(wav), "error": f"{type(e).__name__}: {msg}"[:300]}
        if "error" in rec:
            failed += 1
            logging.warning("%s: %s", wav, rec["error"])
        print(json.dumps(rec), flush=True)
    if failed:
        logging.warning("%d of %d file(s) failed", failed, len(args.wavs))
    return 1 if failed else 0
