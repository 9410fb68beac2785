"""The dimensional-emotion table (markdown) from a ``metrics.json`` of ``train-dimensional``."""

from __future__ import annotations

from typing import Dict, Optional

from asr2emo.dimensional.data import DIMENSIONS

TITLES = {
    "head": "bottleneck frames + regression head",
    "mean_predictor": "mean predictor (training-fold mean)",
    "egemaps_ridge": "eGeMAPS + ridge regression",
}


def _fmt(x: Optional[float]) -> str:
    return "–" if x is None else f"{x:.3f}"


def table_markdown(metrics: Dict) -> str:
    head = "| system | " + " | ".join(f"{d} CCC | {d} r | {d} MSE" for d in DIMENSIONS) + " |"
    lines = [head, "|---|" + "---|" * (3 * len(DIMENSIONS))]
    for s, m in metrics["systems"].items():
        cells = []
        for d in DIMENSIONS:
            p = m["pooled"][d]
            cells += [_fmt(p["ccc"]), _fmt(p["pearson"]), _fmt(p["mse"])]
        lines.append(f"| {TITLES.get(s, s)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Pooled over the {metrics['num_utts']} test utterances of all folds (layer "
        f"{metrics['layer']}, loss {metrics['loss']}); CCC = concordance correlation, "
        "r = Pearson, MSE on the 1-5 scale. Fold means of CCC: "
        + "; ".join(
            f"{s} " + "/".join(_fmt(m["fold_mean"][d]["ccc"]) for d in DIMENSIONS)
            for s, m in metrics["systems"].items()
        )
        + " (v/a/d).",
    ]
    return "\n".join(lines) + "\n"
