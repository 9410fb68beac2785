"""TED-LIUM release 2 -> lhotse manifests (tedlium2_{recordings,supervisions}_{part}.jsonl.gz)."""

from __future__ import annotations

import logging
from pathlib import Path

from asr2emo.data.tedlium import PARTS, prepare_tedlium
from asr2emo.utils.config import ConfArgumentParser, str_list
from asr2emo.utils.logging import setup_logging
from asr2emo.utils.markers import make_record, needs_run, write_marker

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
    # The corpus's listing (names, sizes, times of its files) is an input: a talk added, removed
    # or replaced makes the manifests stale.
    record = make_record("prepare-tedlium", {"parts": args.parts}, {"corpus": args.corpus_dir})
    if not needs_run(args.output_dir, record, f"TED-LIUM manifests in {args.output_dir}", DONE):
        return 0
    logging.info(f"Preparing TED-LIUM from {args.corpus_dir} (parts {','.join(args.parts)})")
    _, skipped = prepare_tedlium(args.corpus_dir, args.output_dir, args.parts, args.nj)
    for reason, items in sorted(skipped.items()):
        shown = "; ".join(items[:20]) + (
            f"; ... ({len(items) - 20} more)" if len(items) > 20 else ""
        )
        logging.warning(f"skipped {len(items)} talks ({reason}): {shown}")
    write_marker(args.output_dir, record, DONE)
    logging.info(f"Wrote {args.output_dir}/tedlium2_{{recordings,supervisions}}_*.jsonl.gz")
    return 0
