"""The systems' metrics, the comparison table and the per-fold choices, from the fold scores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Mapping, Optional

import numpy as np

from asr2emo.baselines.classical import metrics_from_records, write_system
from asr2emo.baselines.compare import compare, comparison_markdown, mean_std, paired_differences
from asr2emo.emotion.data import FrameData
from asr2emo.systems.run import ROWS, TITLES, plot_layer_weights, prediction_records
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path, write_json

REFERENCE = "egemaps_svm"  # the baselines' eGeMAPS + SVM (training + validation speakers)


def _reference(reference_dir: Optional[Path]) -> Optional[Dict]:
    path = None if reference_dir is None else Path(reference_dir) / REFERENCE / "metrics.json"
    return json.loads(path.read_text()) if path is not None and path.is_file() else None


def write_report(
    exp_dir: Path,
    data: FrameData,
    results: Dict[int, Dict],
    stage8: Mapping,
    layer: str,
    layers: List[str],
    reference_dir: Optional[Path],
    record: Dict,
) -> Dict:
    """Write every system's dir, ``comparison.{md,json}`` and the layer weights; return the
    comparison."""
    exp_dir = Path(exp_dir)
    metrics: Dict[str, Dict] = {}
    first = results[min(results)]
    systems = [n for n in ROWS if n in first]
    for system in systems:
        folds = {k: prediction_records(data, r, system) for k, r in sorted(results.items())}
        metrics[system] = metrics_from_records(system, folds, data.classes)
        write_system(exp_dir / system, folds, metrics[system], record)
    ours = {f["fold"]: f["ua"] for f in metrics["paper"]["folds"]}
    theirs = {f["fold"]: f["ua"] for f in stage8["folds"]}
    if any(abs(ours[k] - theirs.get(k, -1.0)) > 1e-9 for k in ours):
        raise UserError(f"stage 8's {layer} heads rescored give UA {ours}, stage 8 says {theirs}")
    others = {k: v for k, v in metrics.items() if k != "paper"}
    ref = _reference(reference_dir)
    if ref is not None:
        others[REFERENCE] = ref
    comp = compare(others, metrics["paper"], "paper")
    if ref is not None:
        d = paired_differences(metrics["selected"], ref, "ua")
        comp["selected_vs_egemaps_svm"] = {
            "delta_ua": mean_std(list(d.values())),
            "delta_ua_folds": {str(k): v for k, v in d.items()},
        }
    weights = {k: r["layer_mix"]["info"]["layer_weights"] for k, r in sorted(results.items())}
    comp["layers"] = layers
    comp["layer_weights"] = {str(k): w for k, w in weights.items()}
    if "frame_mix" in first:
        comp["frame_layer_weights"] = {
            str(k): r["frame_mix"]["info"]["layer_weights"] for k, r in sorted(results.items())
        }
    comp["chosen"] = {str(k): r["selected"]["info"]["chosen"] for k, r in sorted(results.items())}
    comp["class_weights"] = {
        str(k): r["selected"]["info"]["class_weights"] for k, r in sorted(results.items())
    }
    comp["fusion_weights"] = {
        str(k): {n: r[n]["info"]["weight"] for n in systems if "+" in n}
        for k, r in sorted(results.items())
    }
    titles = {k: v.format(layer=layer, n=len(layers)) for k, v in TITLES.items()}
    titles[REFERENCE] = "eGeMAPS v02 + SVM (baselines: training + validation speakers)"
    write_json(exp_dir / "comparison.json", {**comp, "titles": titles})
    write_json(
        exp_dir / "layer_weights.json",
        {
            "layers": layers,
            "weights": comp["layer_weights"],
            "frame_weights": comp.get("frame_layer_weights"),
        },
    )
    plot_layer_weights(exp_dir / "layer_weights.png", layers, weights)
    with atomic_path(exp_dir / "comparison.md") as tmp:
        tmp.write_text(markdown(comp, titles, results, layers))
    return comp


def markdown(comp: Dict, titles: Dict[str, str], results: Dict[int, Dict], layers) -> str:
    """The comparison table, the choice per fold and the learned layer weights."""
    lines = ["# Emotion systems on the folds of stage 8", "", comparison_markdown(comp, titles)]
    sel = comp.get("selected_vs_egemaps_svm")
    if sel is not None:
        m, s = sel["delta_ua"]["mean"], sel["delta_ua"]["std"]
        per = " ".join(f"{100 * v:+.1f}" for v in sel["delta_ua_folds"].values())
        sd = "–" if s is None else f"{100 * s:.1f}"
        lines += [f"Chosen system vs eGeMAPS + SVM (baselines), ΔUA: {100 * m:+.1f} ± {sd} "
                  f"(per fold {per}).", ""]  # fmt: skip
    lines += ["| fold | chosen | its held-out UA (selection data) | fusion weight of the system "
              "(1 = no eGeMAPS) |", "|---|---|---|---|"]  # fmt: skip
    for k, r in sorted(results.items()):
        info = r["selected"]["info"]
        fw = ", ".join(
            f"{n.split('+')[0]} {w:.1f}" for n, w in comp["fusion_weights"][str(k)].items()
        )
        lines.append(f"| {k} | {info['chosen']} | {info['val_uas'][info['chosen']]:.3f} | {fw} |")
    balanced = sorted({n for cw in comp["class_weights"].values() for n in cw})
    lines += ["", "Class weights chosen per fold and system (on the selection data):", ""]
    lines += ["| fold | " + " | ".join(balanced) + " |", "|---" * (len(balanced) + 1) + "|"]
    for k, cw in comp["class_weights"].items():
        lines.append(f"| {k} | " + " | ".join(cw.get(n, "–") for n in balanced) + " |")
    for key, what in (("layer_weights", "layer mixing of utterance statistics"),
                      ("frame_layer_weights", "frame-level layer mixture")):  # fmt: skip
        if key in comp:
            lines += ["", f"Learned layer weights ({what}), per fold:", ""]
            lines += _weights_table(comp[key], layers)
    lines.append("")
    lines.append(
        "All choices (early stopping, fusion weights, the chosen system) are made on speakers of "
        "the training sessions (selection: "
        + ", ".join(
            sorted(
                {r["selected"]["info"].get("selection", "val-speaker") for r in results.values()}
            )
        )
        + "); no test label is read before."
    )
    return "\n".join(lines) + "\n"


def _weights_table(per_fold: Dict[str, List[float]], layers: List[str]) -> List[str]:
    lines = ["| fold | " + " | ".join(layers) + " |", "|---" * (len(layers) + 1) + "|"]
    for k, w in per_fold.items():
        lines.append(f"| {k} | " + " | ".join(f"{x:.3f}" for x in w) + " |")
    mean = np.mean(list(per_fold.values()), axis=0)
    return lines + ["| mean | " + " | ".join(f"{x:.3f}" for x in mean) + " |"]
