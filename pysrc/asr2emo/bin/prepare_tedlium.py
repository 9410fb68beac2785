"""TED-LIUM release 2 -> lhotse manifests (tedlium2_{recordings,supervisions}_{part}.jsonl.gz)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from asr2emo.data.tedlium import PARTS, prepare_tedlium
from asr2emo.utils.config import ConfArgumentParser, str_list
from asr2emo.utils.io import atomic_path, is_done
from asr2emo.utils.logging import setup_logging

DONE = ".tedlium2.done"


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__)
    p.add_argument("corpus_dir", type=Path, help="TEDLIUM_release2 directory")
    p.add_argument("output_dir", type=Path, help="manifest directory (data/manifests)")
    p.add_argument("--parts", type=str_list, default=list(PARTS), help="corpus parts")
    p.add_argument("--nj", type=int, default=1, help="parallel jobs for lhotse")
    return p


def main(args) -> int:
    setup_logging(args.output_dir / "log" / "prepare_tedlium.log")
    fingerprint = json.dumps(
        {"corpus_dir": str(args.corpus_dir.resolve()), "parts": args.parts}, sort_keys=True
    )
    marker = args.output_dir / DONE
    if is_done(args.output_dir, DONE) and marker.read_text().strip() == fingerprint:
        logging.info(f"TED-LIUM manifests in {args.output_dir} are up to date; nothing to do")
        return 0
    logging.info(f"Preparing TED-LIUM from {args.corpus_dir} (parts {','.join(args.parts)})")
    _, skipped = prepare_tedlium(args.corpus_dir, args.output_dir, args.parts, args.nj)
    for reason, items in sorted(skipped.items()):
        shown = "; ".join(items[:20]) + (
            f"; ... ({len(items) - 20} more)" if len(items) > 20 else ""
        )
        logging.warning(f"skipped {len(items)} talks ({reason}): {shown}")
    with atomic_path(marker) as tmp:
        tmp.write_text(fingerprint + "\n")
    logging.info(f"Wrote {args.output_dir}/tedlium2_{{recordings,supervisions}}_*.jsonl.gz")
    return 0
