"""Run the benchmarks (make bench): exp/bench/bench.json and a table of the figures."""

from __future__ import annotations

import json
import logging
import os
import pkgutil
import platform
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Dict, List

import asr2emo.bench
from asr2emo.utils.config import ConfArgumentParser, str2bool, str_list
from asr2emo.utils.io import atomic_path
from asr2emo.utils.logging import setup_logging

WIDTH = 100  # printed table width

_CHILD = (
    "import json, sys, torch; torch.set_num_threads(1); "
    "from asr2emo.bench.{name} import run; "
    "print('BENCH-RESULT ' + json.dumps(run(quick={quick})))"
)


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__)
    p.add_argument("--out-dir", type=Path, default=Path("exp/bench"), help="where bench.json goes")
    p.add_argument("--entries", type=str_list, default=[], help="entries to run (default: all)")
    p.add_argument("--quick", type=str2bool, default=False, help="smaller inputs (smoke run)")
    return p


def entries() -> List[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules(asr2emo.bench.__path__) if not m.name.startswith("_")
    )


def run_entry(name: str, quick: bool) -> Dict:
    """Run one entry in a fresh process; its peak RSS is that process's ru_maxrss."""
    start = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(name=name, quick=quick)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    )
    out = proc.stdout.read() if proc.stdout else ""
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = None
    for line in out.splitlines():
        if line.startswith("BENCH-RESULT "):
            result = json.loads(line[len("BENCH-RESULT ") :])
    if proc.returncode != 0 or result is None:
        return {"error": f"exit status {proc.returncode}", "wall_s": round(time.time() - start, 1)}
    result["peak_rss_mb"] = round(rusage.ru_maxrss / 1024, 1)
    result["wall_s"] = round(time.time() - start, 1)
    return result


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.4g}"
    if isinstance(v, dict):
        return " ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    if isinstance(v, list):
        return ",".join(_fmt(x) for x in v)
    return str(v)


def format_table(results: Dict[str, Dict], width: int = WIDTH) -> List[str]:
    """One header line per entry (figure, unit, peak RSS, wall time), then its details, one
    ``key: value`` line each (a nested dict as ``k=v`` pairs), wrapped to ``width`` columns."""
    lines = [f"{'entry':<13} {'figure':>9}  {'unit':<46} {'peak_rss_mb':>11} {'wall_s':>7}"]
    for name, r in results.items():
        fig = r.get("figure")
        fig_s = _fmt(float(fig)) if isinstance(fig, (int, float)) else "ERROR"
        unit = str(r.get("unit", r.get("error", "")))
        lines.append(
            f"{name:<13} {fig_s:>9}  {unit:<46} {_fmt(r.get('peak_rss_mb', '-')):>11} "
            f"{_fmt(r.get('wall_s', '-')):>7}"
        )
        for k, v in r.items():
            if k in ("figure", "unit", "peak_rss_mb", "wall_s", "error") or v in ("", None):
                continue
            lines += textwrap.wrap(
                f"{k}: {_fmt(v)}",
                width,
                initial_indent="    ",
                subsequent_indent="        ",
                break_on_hyphens=False,
            )
    return lines


def main(args) -> int:
    setup_logging(args.out_dir / "log" / "bench.log")
    names = args.entries or entries()
    unknown = sorted(set(names) - set(entries()))
    if unknown:
        logging.error(f"unknown bench entries {unknown}; valid: {entries()}")
        return 1
    results: Dict[str, Dict] = {}
    load_start, t_start = os.getloadavg(), time.time()
    for name in names:
        logging.info(f"bench {name} ...")
        results[name] = run_entry(name, args.quick)
        r = results[name]
        logging.info(
            f"bench {name}: {r.get('figure', r.get('error'))} {r.get('unit', '')}, "
            f"{r.get('peak_rss_mb', '-')} MB, {r['wall_s']} s"
        )
    doc = {
        "date": time.strftime("%Y-%m-%d"),
        "command": " ".join(["asr2emo"] + sys.argv[1:]),
        "quick": args.quick,
        "machine": {
            "cores": os.cpu_count(),
            "cpu": platform.processor() or platform.machine(),
            # 1-minute load average before and after: the machine may be shared.
            "load_avg_1min": [round(load_start[0], 2), round(os.getloadavg()[0], 2)],
        },
        "total_wall_s": round(time.time() - t_start, 1),
        "entries": results,
    }
    with atomic_path(args.out_dir / "bench.json") as tmp:
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
    for line in format_table(results):
        print(line)
    m = doc["machine"]
    print(
        f"{doc['date']}, {m['cores']} cores, load {m['load_avg_1min'][0]} -> "
        f"{m['load_avg_1min'][1]}, total {doc['total_wall_s']} s"
    )
    print(f"written: {args.out_dir / 'bench.json'}")
    return 0 if all("error" not in r for r in results.values()) else 1
