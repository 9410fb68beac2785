"""The CTC-vs-chain table of ``recipes/compare_topologies.sh``: per run and per topology.

Reads, for every ``<work>/<topology>/s<seed>/``: the decode results of stage 5
(``exp/tdnnf/decode_{dev,test}/decode.json``), the last validation loss of stage 4
(``exp/tdnnf/loss.csv``), the output-unit count (``data/lang/lang.json``), stage 8's transfer
UA on layers 12 and 13 (``exp/emotion/<layer>/metrics.json``), the layer sweep's best layer
(``sweep/sweep.json``, if run) and a folder corpus's transfer UA (``<name>/report/metrics.json``,
if run). Writes ``<work>/topology.{md,json}``; a missing piece is a dash, never a guess.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from asr2emo.utils.io import atomic_path, write_json

LAYERS = ("tdnnf12", "tdnnf13")


def _json(path: Path) -> Optional[Dict]:
    return json.loads(path.read_text()) if path.is_file() else None


def _last_valid_loss(loss_csv: Path) -> Optional[float]:
    """The last ``valid_loss`` of the training log (per frame), if any row has one."""
    if not loss_csv.is_file():
        return None
    with loss_csv.open() as f:
        values = [r.get("valid_loss") for r in csv.DictReader(f)]
    values = [float(v) for v in values if v not in (None, "")]
    return values[-1] if values else None


def _folder_report(run: Path) -> Optional[Dict]:
    """The folder corpus's report metrics of a run: ``<run>/<name>/report/metrics.json`` for a
    ``<name>`` other than the run's own ``exp`` (IEMOCAP's report) and ``sweep``."""
    for p in sorted(run.glob("*/report/metrics.json")):
        if p.parent.parent.name not in ("exp", "sweep"):
            return {"corpus": p.parent.parent.name, **json.loads(p.read_text())}
    return None


def collect_run(work: Path, topology: str, seed: int) -> Dict:
    """One run's figures (None where the run did not produce them)."""
    run = work / topology / f"s{seed}"
    exp = run / "exp"
    lang = _json(work / topology / "data" / "lang" / "lang.json") or {}
    row: Dict = {
        "topology": topology,
        "seed": seed,
        "num_outputs": lang.get("num_outputs"),
        "valid_loss": _last_valid_loss(exp / "tdnnf" / "loss.csv"),
    }
    for part in ("dev", "test"):
        d = _json(exp / "tdnnf" / f"decode_{part}" / "decode.json")
        row[f"wer_{part}"] = d["wer"] if d else None
    for layer in LAYERS:
        m = _json(exp / "emotion" / layer / "metrics.json")
        row[f"ua_{layer}"] = 100 * m["ua_fold_mean"] if m else None
    sweep = _json(run / "sweep" / "sweep.json")
    if sweep and sweep.get("rows"):
        best = max(sweep["rows"], key=lambda r: r["ua_fold_mean"])
        row["sweep_best"] = best["layer"]
        row["sweep_best_ua"] = 100 * best["ua_fold_mean"]
        row["sweep_ua"] = {r["layer"]: 100 * r["ua_fold_mean"] for r in sweep["rows"]}
    folder = _folder_report(run)
    if folder:
        row["folder_corpus"] = folder["corpus"]
        row["folder_layer"] = folder.get("layer")
        row["folder_ua"] = 100 * folder["ua_fold_mean"]
    return row


COLUMNS = [
    ("num_outputs", "outputs", "{:.0f}"),
    ("valid_loss", "dev loss/frame", "{:.3f}"),
    ("wer_dev", "dev WER %", "{:.2f}"),
    ("wer_test", "test WER %", "{:.2f}"),
    ("ua_tdnnf12", "UA % layer 12", "{:.1f}"),
    ("ua_tdnnf13", "UA % layer 13", "{:.1f}"),
    ("folder_ua", "folder corpus UA %", "{:.1f}"),
]


def _cell(value, fmt: str) -> str:
    return "–" if value is None else fmt.format(value)


def summarize(rows: List[Dict], key: str, fmt: str = "{:.2f}") -> Optional[str]:
    """``mean +- sd`` over the runs that have ``key`` (sd with n-1; one run: the value), each
    written with the column's ``fmt``; a constant column is its value."""
    values = [r[key] for r in rows if r.get(key) is not None]
    if not values:
        return None
    if len(values) == 1 or len(set(values)) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.mean(values))} +- {fmt.format(statistics.stdev(values))}"


def table_markdown(rows: List[Dict], topologies: Sequence[str]) -> List[str]:
    """Per-run rows, then one mean +- sd row per topology; the sweep's best layer per run."""
    head = ["topology", "seed"] + [c[1] for c in COLUMNS] + ["sweep: best layer (UA %)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        sweep = f"{r['sweep_best']} ({r['sweep_best_ua']:.1f})" if r.get("sweep_best") else "–"
        cells = [r["topology"], str(r["seed"])] + [_cell(r.get(k), f) for k, _, f in COLUMNS]
        lines.append("| " + " | ".join(cells + [sweep]) + " |")
    for t in topologies:
        mine = [r for r in rows if r["topology"] == t]
        cells = [f"**{t}**", f"mean of {len(mine)}"]
        cells += [summarize(mine, k, f) or "–" for k, _, f in COLUMNS] + [""]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_table(work: Path, topologies: Sequence[str], seeds: Sequence[int]) -> Dict:
    """``work/topology.{json,md}`` from every run's outputs."""
    rows = [collect_run(work, t, s) for t in topologies for s in seeds]
    table = {"topologies": list(topologies), "seeds": list(seeds), "runs": rows}
    write_json(work / "topology.json", table)
    lines = ["# Output units: " + " vs ".join(topologies), ""] + table_markdown(rows, topologies)
    with atomic_path(work / "topology.md") as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return table


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description="the CTC-vs-chain table of compare_topologies.sh")
    p.add_argument("work", type=Path, help="<work>/<topology>/s<seed>/ runs")
    p.add_argument("--topologies", default="ctc chain", help="space-separated")
    p.add_argument("--seeds", default="42 43 44", help="space-separated")
    a = p.parse_args(argv)
    write_table(a.work, a.topologies.split(), [int(s) for s in a.seeds.split()])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
