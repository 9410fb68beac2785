"""Scale rehearsal report: per-stage growth over corpus sizes, projected to the paper's corpora.

Reads the measurement rows of recipes/scale_rehearsal.sh (JSON lines: size, work dir, stage,
wall_s, cpu_s, peak_rss_mb, disk_mb, nj), adds each size's speech hours from its manifests, and
writes OUT_DIR/scale.json and OUT_DIR/report.md (see asr2emo.report.scale).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lhotse import load_manifest

from asr2emo.bench.train import conf_value
from asr2emo.report.scale import write_report
from asr2emo.utils.config import ConfArgumentParser, positive_float, positive_int
from asr2emo.utils.errors import UserError


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("rows", type=Path, help="measurements (JSON lines)")
    p.add_argument("out_dir", type=Path, help="receives scale.json and report.md")
    p.add_argument("--conf-dir", type=Path, default=Path("conf"), help="the rehearsed confs")
    p.add_argument("--steps", type=positive_int, required=True, help="bounded stage-4 steps")
    p.add_argument("--cores", type=positive_int, default=16, help="target machine's cores")
    p.add_argument("--gpus", type=int, default=1, help="target machine's GPUs (stage 4)")
    p.add_argument(
        "--gpu-speedup",
        type=positive_float,
        default=30.0,
        help="one GPU's LF-MMI training speed in units of one CPU core (a stated parameter "
        "where no GPU with k2 was measured)",
    )
    return p


def corpus_hours(work: Path) -> dict:
    """Speech hours of a rehearsal size: TED-LIUM train, dev+test, IEMOCAP, all."""
    man = work / "data" / "manifests"

    def hours(name: str) -> float:
        path = man / name
        if not path.is_file():
            raise UserError(f"{path} does not exist (stage 0 of that size did not run)")
        return sum(s.duration for s in load_manifest(path)) / 3600

    h = {"train": hours("tedlium2_supervisions_train.jsonl.gz")}
    h["eval"] = hours("tedlium2_supervisions_dev.jsonl.gz") + hours(
        "tedlium2_supervisions_test.jsonl.gz"
    )
    h["iemocap"] = hours("iemocap_supervisions_all.jsonl.gz")
    h["all"] = h["train"] + h["eval"] + h["iemocap"]
    return h


def training_speed(loss_csv: Path) -> float:
    """Input frames per second of the bounded run's last logged step (after the set-up)."""
    import csv

    with open(loss_csv) as f:
        speeds = [float(r["frames_per_s"]) for r in csv.DictReader(f) if r["frames_per_s"]]
    if not speeds:
        raise UserError(f"{loss_csv}: no frames_per_s logged (was --log-interval 1?)")
    return speeds[-1]


def manifest_memory(train_log: Path) -> float:
    """MB the training cuts took in the trainer's memory (its 'cuts in memory' log line)."""
    import re

    found = re.findall(r"cuts in memory \((\d+) MB\)", train_log.read_text())
    if not found:
        raise UserError(f"{train_log}: no 'cuts in memory' line")
    return float(found[-1])


def main(args: argparse.Namespace) -> int:
    rows = [json.loads(x) for x in args.rows.read_text().splitlines() if x.strip()]
    if not rows:
        raise UserError(f"{args.rows}: no measurements")
    cache = {}
    for r in rows:
        work = Path(r["work"])
        if work not in cache:
            cache[work] = corpus_hours(work)
        r["hours"] = cache[work]
        if int(r["stage"]) == 4:
            r["train_frames_per_s"] = training_speed(work / "exp" / "tdnnf" / "loss.csv")
            r["manifest_mb"] = manifest_memory(work / "exp" / "tdnnf" / "log" / "train.log")
    lf = args.conf_dir / "lfmmi.conf"
    training = {
        "num_epochs": int(conf_value(lf, "num-epochs")),
        "max_duration": float(conf_value(lf, "max-duration")),
        "steps": args.steps,
        "speed_factors": 3,
    }
    rows_path = args.out_dir / "rows_with_hours.jsonl"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rows_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = write_report(
        rows_path, args.out_dir, training, args.cores, args.gpus, args.gpu_speedup
    )
    print((args.out_dir / "report.md").read_text())
    return 0 if summary["all_linear"] and summary["all_fit_32_gb"] else 1
