"""The baseline table: UA/WA mean and standard deviation over folds, and the per-fold paired
difference of every system against the transfer system (stage 8).

Differences are ``system - transfer`` per fold (matched by fold id), so a negative mean means
the baseline is worse than transfer learning. Standard deviations are sample standard
deviations over folds (``ddof=1``; null with a single fold).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np

from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path


def mean_std(values: Sequence[float]) -> Dict[str, Optional[float]]:
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return {"mean": None, "std": None}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else None}


def fold_values(metrics: Dict, key: str) -> Dict[int, float]:
    return {int(f["fold"]): float(f[key]) for f in metrics["folds"]}


def paired_differences(system: Dict, reference: Dict, key: str) -> Dict[int, float]:
    """``{fold: system[key] - reference[key]}``; the two must have the same folds."""
    a, b = fold_values(system, key), fold_values(reference, key)
    if sorted(a) != sorted(b):
        raise UserError(f"cannot pair folds {sorted(a)} with the transfer system's {sorted(b)}")
    return {k: a[k] - b[k] for k in sorted(a)}


def compare(systems: Dict[str, Dict], transfer: Optional[Dict], transfer_name: str) -> Dict:
    """``{"transfer": name|None, "systems": {name: {ua, wa, ua_pooled, wa_pooled, folds,
    [delta_ua, delta_wa, delta_ua_folds, delta_wa_folds]}}}``; the transfer system first."""
    rows: Dict[str, Dict] = {}
    entries = ([(transfer_name, transfer)] if transfer is not None else []) + list(systems.items())
    for name, m in entries:
        ua, wa = fold_values(m, "ua"), fold_values(m, "wa")
        row = {
            "ua": mean_std(list(ua.values())),
            "wa": mean_std(list(wa.values())),
            "ua_pooled": m["ua"],
            "wa_pooled": m["wa"],
            "folds": {str(k): {"ua": ua[k], "wa": wa[k]} for k in sorted(ua)},
        }
        if transfer is not None and name != transfer_name:
            dua = paired_differences(m, transfer, "ua")
            dwa = paired_differences(m, transfer, "wa")
            row["delta_ua"] = mean_std(list(dua.values()))
            row["delta_wa"] = mean_std(list(dwa.values()))
            row["delta_ua_folds"] = {str(k): v for k, v in dua.items()}
            row["delta_wa_folds"] = {str(k): v for k, v in dwa.items()}
        rows[name] = row
    return {"transfer": transfer_name if transfer is not None else None, "systems": rows}


def _pm(ms: Dict[str, Optional[float]], signed: bool = False) -> str:
    if ms["mean"] is None:
        return "–"
    mean = f"{100 * ms['mean']:+.1f}" if signed else f"{100 * ms['mean']:.1f}"
    std = "–" if ms["std"] is None or math.isnan(ms["std"]) else f"{100 * ms['std']:.1f}"
    return f"{mean} ± {std}"


def comparison_markdown(comp: Dict, titles: Optional[Dict[str, str]] = None) -> str:
    """The table in markdown (percentages)."""
    titles = titles or {}
    ref = comp["transfer"]
    lines = [
        "| system | UA % (mean ± std over folds) | WA % | pooled UA % | ΔUA vs transfer "
        "(paired, mean ± std) | ΔWA vs transfer | ΔUA per fold |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in comp["systems"].items():
        label = titles.get(name, name)
        if name == ref:
            label = f"**{label}** (transfer)"
        if "delta_ua" in r:
            dua, dwa = _pm(r["delta_ua"], True), _pm(r["delta_wa"], True)
            per = " ".join(f"{100 * v:+.1f}" for v in r["delta_ua_folds"].values())
        else:
            dua = dwa = per = "–"
        lines.append(
            f"| {label} | {_pm(r['ua'])} | {_pm(r['wa'])} | {100 * r['ua_pooled']:.1f} "
            f"| {dua} | {dwa} | {per} |"
        )
    note = (
        f"Δ = system − transfer ({ref}) on the same fold; std = sample std over folds."
        if ref
        else "No transfer system (stage 8 not run): no paired differences."
    )
    return "\n".join(lines) + "\n\n" + note + "\n"


def write_comparison(exp_dir: Path, comp: Dict, titles: Optional[Dict[str, str]] = None) -> None:
    with atomic_path(Path(exp_dir) / "comparison.json") as tmp:
        tmp.write_text(json.dumps({**comp, "titles": titles or {}}, indent=2) + "\n")
    with atomic_path(Path(exp_dir) / "comparison.md") as tmp:
        tmp.write_text(
            "# Baselines on the folds of stage 8\n\n" + comparison_markdown(comp, titles)
        )
