"""IEMOCAP corpus -> lhotse manifests (iemocap_{recordings,supervisions}_all.jsonl.gz).

Also ``iemocap_protocols.json``: the label map in use and the utterance counts per session and
class under both protocols (paper: hap dropped; merged: hap counted as exc), for the report.
"""

from __future__ import annotations

import logging
from pathlib import Path

from asr2emo.data.iemocap import PAPER_CLASSES, log_report, prepare_iemocap
from asr2emo.utils.config import ConfArgumentParser, str2bool, str_list
from asr2emo.utils.io import write_json
from asr2emo.utils.logging import setup_logging
from asr2emo.utils.markers import make_record, needs_run, write_marker

DONE = ".iemocap.done"
PROTOCOLS = "iemocap_protocols.json"
# protocol name -> is 'hap' merged into 'exc'
LABEL_MAPS = {"paper": False, "merged": True}


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__)
    p.add_argument("corpus_dir", type=Path, help="IEMOCAP_full_release directory")
    p.add_argument("output_dir", type=Path, help="manifest directory (data/manifests)")
    p.add_argument(
        "--classes",
        type=str_list,
        default=list(PAPER_CLASSES),
        help="emotion classes kept; all other labels are dropped (the paper: ang,exc,neu,sad)",
    )
    p.add_argument(
        "--label-map",
        choices=sorted(LABEL_MAPS),
        default="paper",
        help="paper: hap dropped (ang/exc/neu/sad, 4936 utterances); merged: hap counted as exc "
        "(5531 utterances, the SUPERB/SpeechBrain/EmoBox protocol)",
    )
    p.add_argument(
        "--verify-audio",
        type=str2bool,
        default=True,
        help="read every wav fully to catch truncated files (else only the header)",
    )
    p.add_argument("--nj", type=int, default=4, help="parallel audio checks")
    return p


def main(args) -> int:
    setup_logging(args.output_dir / "log" / "prepare_iemocap.log")
    # The corpus's listing is an input: a wav added (or replaced) makes the manifests stale.
    merge = LABEL_MAPS[args.label_map]
    config = {"classes": args.classes, "merge_hap_into_exc": merge}
    config["verify_audio"] = args.verify_audio
    record = make_record("prepare-iemocap", config, {"corpus": args.corpus_dir})
    if not needs_run(args.output_dir, record, f"IEMOCAP manifests in {args.output_dir}", DONE):
        return 0
    logging.info(
        f"Preparing IEMOCAP from {args.corpus_dir} (classes {','.join(args.classes)}, label map "
        f"{args.label_map}: hap {'counted as exc' if merge else 'dropped'})"
    )
    _, _, report = prepare_iemocap(
        args.corpus_dir,
        args.output_dir,
        classes=args.classes,
        merge_hap_into_exc=merge,
        verify_audio=args.verify_audio,
        num_jobs=args.nj,
    )
    log_report(report, args.classes)
    counts = {
        name: {str(k): {} for k in sorted({s for s, _ in c})}
        for name, c in report.protocols.items()
    }
    for name, c in report.protocols.items():
        for (session, cls), n in sorted(c.items()):
            counts[name][str(session)][cls] = n
    write_json(
        args.output_dir / PROTOCOLS,
        {"in_use": args.label_map, "totals": report.protocol_totals(), "counts": counts},
    )
    write_marker(args.output_dir, record, DONE)
    logging.info(f"Wrote {args.output_dir}/iemocap_{{recordings,supervisions}}_all.jsonl.gz")
    return 0
