#!/usr/bin/env python3
"""Do recipe runs agree? Compare run directories (each with data/ and exp/) to the first one.

Compared: every lhotse manifest (``*.jsonl.gz`` under data/ and exp/, the run's own directory
replaced by ``<W>`` so storage paths compare relative to the run), every array its cuts
reference (features and custom arrays: i-vectors, bottlenecks), and every result file
(:data:`RESULT_FILES`: hypotheses, WERs, emotion predictions and metrics; run directory
replaced likewise). Prints one line per difference and a summary;
exit status 1 when anything differs.

    python recipes/compare_runs.py exp/runners/local exp/runners/run exp/runners/slurm
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
from lhotse import CutSet
from lhotse.array import Array, TemporalArray


def relative_text(path: Path, root: Path) -> str:
    """A result file's (or a gzipped manifest's) text with the run directory replaced by
    ``<W>``."""
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.name.endswith(".gz") else raw).decode()
    return text.replace(str(root.resolve()), "<W>").replace(str(root), "<W>")


def array_digests(path: Path) -> Dict[str, str]:
    """``{cut_id/field: sha1 of the loaded array}`` of a cut manifest (empty for other kinds)."""
    first = json.loads(gzip.open(path, "rt").readline() or "{}")
    if "recording" not in first and "features" not in first:
        return {}
    out = {}
    for cut in CutSet.from_file(path):
        arrays = {}
        if cut.has_features:
            arrays["features"] = cut.load_features()
        for key, value in (cut.custom or {}).items():
            if isinstance(value, (Array, TemporalArray)):
                arrays[key] = cut.load_custom(key)
        for key, arr in arrays.items():
            a = np.ascontiguousarray(arr)
            out[f"{cut.id}/{key}"] = hashlib.sha1(a.tobytes() + str(a.shape).encode()).hexdigest()
    return out


RESULT_FILES = ("wer.txt", "hyp.txt", "errs.txt", "metrics.json", "predictions.jsonl")


def run_files(root: Path) -> List[Path]:
    """The compared files of one run, relative to it."""
    keep = []
    for sub in ("data", "exp"):
        for p in sorted((root / sub).rglob("*")):
            if p.is_file() and (p.name.endswith(".jsonl.gz") or p.name in RESULT_FILES):
                keep.append(p.relative_to(root))
    return keep


def compare(ref: Path, other: Path) -> List[str]:
    """One line per difference between two runs."""
    diffs = []
    a, b = set(run_files(ref)), set(run_files(other))
    diffs += [f"{other}: missing {p}" for p in sorted(a - b)]
    diffs += [f"{other}: extra {p}" for p in sorted(b - a)]
    for rel in sorted(a & b):
        if rel.name.endswith(".jsonl.gz"):
            if relative_text(ref / rel, ref) != relative_text(other / rel, other):
                diffs.append(f"{other}: manifest {rel} differs")
                continue
            da, db = array_digests(ref / rel), array_digests(other / rel)
            bad = [k for k in da if da[k] != db.get(k)]
            if bad:
                diffs.append(f"{other}: {len(bad)} arrays of {rel} differ, e.g. {bad[0]}")
        elif relative_text(ref / rel, ref) != relative_text(other / rel, other):
            diffs.append(f"{other}: {rel} differs")
    return diffs


def main(dirs: List[str]) -> int:
    if len(dirs) < 2:
        print(__doc__.strip().splitlines()[0] + "\nusage: compare_runs.py RUN_DIR RUN_DIR...")
        return 2
    ref = Path(dirs[0])
    n = len(run_files(ref))
    if n == 0:
        print(f"{ref}: no manifests or results under data/ and exp/")
        return 2
    failed = False
    for other in map(Path, dirs[1:]):
        diffs = compare(ref, other)
        for line in diffs:
            print(line)
        failed |= bool(diffs)
        print(f"{other} vs {ref}: {n} files compared, {len(diffs)} differences")
    return int(failed)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
