"""Folder-layout emotion corpus (<root>/<Label>/<file>.wav) -> lhotse manifests."""

from __future__ import annotations

import logging
from pathlib import Path

from asr2emo.data.folder import prepare_folder, summary
from asr2emo.utils.config import ConfArgumentParser
from asr2emo.utils.errors import UserError
from asr2emo.utils.logging import setup_logging
from asr2emo.utils.markers import make_record, needs_run, read_marker, write_marker


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__)
    p.add_argument("corpus_dir", type=Path, help="<dir>/<Label>/<file>.wav")
    p.add_argument("output_dir", type=Path, help="manifest dir")
    p.add_argument(
        "--speaker-regex",
        required=True,
        help="regex on the file name; group 'speaker' (or the first group) = speaker, "
        "optional group 'gender'",
    )
    p.add_argument(
        "--num-folds",
        type=int,
        default=5,
        help="speaker groups for cross-validation; 0: one fold per speaker",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--name", default="", help="manifest prefix (default: corpus dir name, lowercased)"
    )
    return p


def main(args) -> int:
    setup_logging(args.output_dir / "log" / "prepare_folder.log")
    done = f".{args.name or args.corpus_dir.resolve().name.lower()}.done"
    config = {k: getattr(args, k) for k in ("speaker_regex", "num_folds", "seed", "name")}
    record = make_record("prepare-folder", config, {"corpus": args.corpus_dir})
    old = read_marker(args.output_dir, done) or {}
    old_corpus = old.get("inputs", {}).get("corpus", {}).get("path")
    if old_corpus is not None and old_corpus != record["inputs"]["corpus"]["path"]:
        raise UserError(
            f"{args.output_dir} holds the manifests of another corpus ({old_corpus}); give this "
            "one its own --name or --data-dir"
        )
    if not needs_run(args.output_dir, record, f"folder manifests in {args.output_dir}", done):
        return 0
    _, sups, skipped = prepare_folder(
        args.corpus_dir,
        args.speaker_regex,
        args.num_folds,
        args.seed,
        args.output_dir,
        args.name,
    )
    logging.info(
        "%d utterances, %d skipped; fold groups:\n%s",
        len(sups),
        sum(len(v) for v in skipped.values()),
        summary(sups),
    )
    write_marker(args.output_dir, record, done)
    return 0
