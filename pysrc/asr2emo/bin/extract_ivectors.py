"""Online i-vectors (every 10 frames) for cuts, attached as the TemporalArray field 'ivector'."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from lhotse import load_manifest

from asr2emo.ivector.apply import check_cuts, extract_for_cuts
from asr2emo.ivector.extractor import IvectorExtractor
from asr2emo.utils.config import ConfArgumentParser
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path
from asr2emo.utils.logging import setup_logging
from asr2emo.utils.markers import make_record, needs_run, write_marker


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__)
    p.add_argument("--nj", type=int, default=1, help="parallel jobs")
    p.add_argument(
        "--cmd", default="", help="job runner for the --nj jobs (utils/run.pl, utils/slurm.pl ...)"
    )
    p.add_argument("ivector_dir", type=Path, help="trained extractor (final.ie, final.ubm, ...)")
    p.add_argument("in_cuts", type=Path, help="cuts with hires MFCC")
    p.add_argument("out_cuts", type=Path, help="same cuts with 'ivector' attached")
    return p


def out_names(out_cuts: Path) -> tuple[Path, str]:
    """Storage directory and done-marker name next to ``out_cuts``."""
    stem = out_cuts.name.split(".")[0]
    return out_cuts.parent / f"{stem}_ivectors", f".{stem}.done"


def main(args: argparse.Namespace) -> int:
    storage, done = out_names(args.out_cuts)
    setup_logging(
        args.out_cuts.parent / "log" / f"extract_ivectors_{args.out_cuts.name.split('.')[0]}.log"
    )
    if not args.in_cuts.is_file():
        raise UserError(f"input cuts '{args.in_cuts}' do not exist (run steps/make_mfcc.sh)")
    record = make_record(
        "extract-ivectors", {}, {"extractor": args.ivector_dir, "cuts": args.in_cuts}
    )
    if args.out_cuts.is_file() and not needs_run(
        args.out_cuts.parent, record, f"i-vectors {args.out_cuts}", done
    ):
        return 0
    extractor = IvectorExtractor.load(args.ivector_dir)
    cuts = load_manifest(args.in_cuts)
    check_cuts(cuts, extractor.pca.mean.shape[0] // (2 * extractor.opts.splice_context + 1))
    if storage.exists():
        import shutil

        logging.info(f"removing the unfinished {storage}")
        shutil.rmtree(storage)
    new, skipped = extract_for_cuts(args.ivector_dir, cuts, storage, nj=args.nj, cmd=args.cmd)
    skipped_path = args.out_cuts.parent / "log" / f"{args.out_cuts.name.split('.')[0]}_skipped.txt"
    if skipped:
        logging.warning(f"skipped {len(skipped)} cut(s), listed in {skipped_path}")
        for cid, why in skipped:
            logging.warning(f"  skipped {cid}: {why}")
    with atomic_path(skipped_path) as tmp:
        tmp.write_text("".join(f"{cid}\t{why}\n" for cid, why in skipped))
    if len(new) == 0:
        raise UserError(f"no cut of '{args.in_cuts}' got an i-vector")
    with atomic_path(args.out_cuts) as tmp:
        new.to_file(tmp)
    write_marker(args.out_cuts.parent, record, done)
    return 0
