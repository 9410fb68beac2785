"""Report sections beyond the paper: baselines on stage 8's folds, dimensional emotion, the
emotion systems and the one to deploy.

Each renderer reads the outputs of its recipe and returns ``(markdown lines, dict for the
report's metrics.json)``; the dict is None (and the section says "not run") when the recipe has
not produced its outputs.

    recipes/baselines.sh    -> <baselines-dir>/comparison.json   (asr2emo run-baselines)
    recipes/dimensional.sh  -> <dimensional-dir>/<layer>/metrics.json (asr2emo train-dimensional)
    recipes/emotion_systems.sh -> <systems-dir>/metrics.json, comparison.json (emotion-systems)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from asr2emo.baselines.compare import comparison_markdown
from asr2emo.dimensional.table import table_markdown

NOT_RUN = "not run"


def baselines_section(baselines_dir: Optional[Path]) -> Tuple[List[str], Optional[Dict]]:
    """``## Baselines on the same folds``: UA/WA mean ± std, paired differences vs transfer."""
    lines = ["## Baselines on the same folds", ""]
    f = Path(baselines_dir) / "comparison.json" if baselines_dir else None
    if f is None or not f.is_file():
        return lines + [f"{NOT_RUN} (recipes/baselines.sh).", ""], None
    comp = json.loads(f.read_text())
    lines += comparison_markdown(comp, comp.get("titles")).rstrip("\n").splitlines()
    return lines + [""], comp


def dimensional_section(dimensional_dir: Optional[Path]) -> Tuple[List[str], Optional[Dict]]:
    """``## Dimensional emotion``: CCC / Pearson r / MSE per dimension, one table per layer."""
    lines = ["## Dimensional emotion (valence / arousal / dominance)", ""]
    found = (
        sorted(
            p
            for p in Path(dimensional_dir).glob("*/metrics.json")
            if (p.parent / ".done").is_file()
        )
        if dimensional_dir and Path(dimensional_dir).is_dir()
        else []
    )
    if not found:
        return lines + [f"{NOT_RUN} (recipes/dimensional.sh).", ""], None
    out: Dict[str, Dict] = {}
    for p in found:
        m = json.loads(p.read_text())
        out[p.parent.name] = {"loss": m["loss"], "systems": m["systems"]}
        lines += [f"### {p.parent.name}", ""]
        lines += table_markdown({**m, "layer": p.parent.name}).rstrip("\n").splitlines()
        lines.append("")
    return lines, out


def systems_section(systems_dir: Optional[Path]) -> Tuple[List[str], Optional[Dict]]:
    """``## Emotion systems``: every system's fold-mean UA/WA and the one to deploy, from
    ``<systems-dir>/metrics.json`` (``{"systems": {name: {"ua", "wa"}}, "deploy", ...}``)."""
    lines = ["## Emotion systems on the same folds, and the one to deploy", ""]
    f = Path(systems_dir) / "metrics.json" if systems_dir else None
    if f is None or not f.is_file():
        return lines + [f"{NOT_RUN} (recipes/emotion_systems.sh).", ""], None
    m = json.loads(f.read_text())
    comp = Path(systems_dir) / "comparison.json"
    titles = json.loads(comp.read_text()).get("titles", {}) if comp.is_file() else {}
    lines += ["| system | UA % (fold mean) | WA % (fold mean) |", "|---|---|---|"]
    for name, r in m["systems"].items():
        mark = " (estimate of the deployed system)" if name == m.get("deploy_estimate") else ""
        lines.append(
            f"| {titles.get(name, name)}{mark} | {100 * r['ua']:.1f} | {100 * r['wa']:.1f} |"
        )
    lines += ["", f"Deploy: **{m['deploy']}** ({m.get('deploy_from', '')}).", ""]
    return lines, m
