"""Run the benchmarks (make bench): exp/bench/bench.json and a table of the figures."""

from __future__ import annotations

import json
import logging
import os
import pkgutil
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import asr2emo.bench
from asr2emo.utils.config import ConfArgumentParser, str2bool, str_list
from asr2emo.utils.io import atomic_path
from asr2emo.utils.logging import setup_logging

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


def main(args) -> int:
    setup_logging(args.out_dir / "log" / "bench.log")
    names = args.entries or entries()
    unknown = sorted(set(names) - set(entries()))
    if unknown:
        logging.error(f"unknown bench entries {unknown}; valid: {entries()}")
        return 1
    results: Dict[str, Dict] = {}
    for name in names:
        logging.info(f"bench {name} ...")
        results[name] = run_entry(name, args.quick)
        logging.info(f"bench {name}: {results[name]}")
    doc = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cores": os.cpu_count(), "cpu": platform.processor() or platform.machine()},
        "entries": results,
    }
    with atomic_path(args.out_dir / "bench.json") as tmp:
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"{'entry':<12} {'figure':>12}  {'unit':<28} {'peak_rss_mb':>11}")
    for name, r in results.items():
        fig = r.get("figure")
        fig_s = f"{fig:.4g}" if isinstance(fig, (int, float)) else "ERROR"
        print(
            f"{name:<12} {fig_s:>12}  {r.get('unit', r.get('error', '')):<28} "
            f"{r.get('peak_rss_mb', float('nan')):>11}"
        )
        for k, v in r.items():
            if k not in ("figure", "unit", "peak_rss_mb"):
                print(f"{'':<12}   {k} = {v}")
    print(f"written: {args.out_dir / 'bench.json'}")
    return 0 if all("error" not in r for r in results.values()) else 1
