"""The systems' metrics, the comparison table, the per-fold choices and the system to deploy,
from the fold scores.

``<exp>/metrics.json``: ``{"systems": {name: {"ua", "wa"}}`` (fold means, the baselines'
eGeMAPS + SVM included), ``"deploy"``: the system a user should deploy (the choice made with
every session as the pool, :mod:`asr2emo.systems.deploy`; else the per-fold choice most folds
agree on), ``"deploy_members"``, ``"deploy_from"``, ``"deploy_estimate"``: the row whose
cross-validated figures estimate it}``; the same keys sit in ``comparison.json``, and
``comparison.md`` opens with them as a table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

from asr2emo.baselines.classical import metrics_from_records, write_system
from asr2emo.baselines.compare import compare, comparison_markdown, mean_std, paired_differences
from asr2emo.emotion.data import FrameData
from asr2emo.systems.deploy import most_agreed
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
    deploy: Optional[Dict] = None,
) -> Dict:
    """Write every system's dir, ``comparison.{md,json}``, ``metrics.json`` and the layer
    weights; return the comparison. ``deploy``: the scores of the all-session choice."""
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
    for row in ("selected", "best_single"):
        if ref is not None and row in metrics:
            d = paired_differences(metrics[row], ref, "ua")
            comp[f"{row}_vs_egemaps_svm"] = {
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
    summary = {n: {"ua": m["ua_fold_mean"], "wa": m["wa_fold_mean"]} for n, m in metrics.items()}
    if ref is not None:
        summary[REFERENCE] = {"ua": ref["ua_fold_mean"], "wa": ref["wa_fold_mean"]}
    comp["summary"] = summary
    comp.update(deploy_choice(deploy, results))
    comp["class_weights"] = {
        str(k): r["selected"]["info"]["class_weights"] for k, r in sorted(results.items())
    }
    comp["fusion_weights"] = {
        str(k): {n: r[n]["info"]["weight"] for n in systems if "+" in n}
        for k, r in sorted(results.items())
    }
    choice = first["selected"]["info"].get("choice", "best")
    titles = {k: v.format(layer=layer, n=len(layers), choice=choice) for k, v in TITLES.items()}
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
    keys = ("deploy", "deploy_members", "deploy_from", "deploy_estimate")
    write_json(exp_dir / "metrics.json", {"systems": summary, **{k: comp[k] for k in keys}})
    plot_layer_weights(exp_dir / "layer_weights.png", layers, weights)
    with atomic_path(exp_dir / "comparison.md") as tmp:
        tmp.write_text(markdown(comp, titles, results, layers))
    return comp


def deploy_choice(deploy: Optional[Dict], results: Dict[int, Dict]) -> Dict:
    """The ``deploy*`` keys: the all-session choice's members when it ran, else the per-fold
    choice most folds agree on."""
    if deploy is not None:
        info = deploy["selected"]["info"]
        return {
            "deploy": info["chosen"],
            "deploy_members": info["members"],
            "deploy_from": "all sessions as the pool (no test fold)",
            "deploy_estimate": "selected",
            "deploy_info": info,
            "deploy_fusion_weights": {n: r["info"]["weight"] for n, r in deploy.items()
                                      if "+" in n},  # fmt: skip
        }
    chosen = {k: r["selected"]["info"]["chosen"] for k, r in results.items()}
    name, count = most_agreed(chosen)
    members = next(r["selected"]["info"].get("members", [name]) for k, r in sorted(
        results.items()) if chosen[k] == name)  # fmt: skip
    return {
        "deploy": name,
        "deploy_members": members,
        "deploy_from": f"the per-fold choice of {count} of {len(chosen)} folds",
        "deploy_estimate": "selected",
    }


def summary_markdown(comp: Dict, titles: Dict[str, str]) -> List[str]:
    """The table a user reads first: every system's fold-mean UA and WA, and what to deploy."""
    lines = ["## Summary", "", "| system | UA % (fold mean) | WA % (fold mean) | deploy |",
             "|---|---|---|---|"]  # fmt: skip
    for name, m in comp["summary"].items():
        mark = "estimate of the deployed system" if name == comp["deploy_estimate"] else ""
        lines.append(f"| {titles.get(name, name)} | {100 * m['ua']:.1f} | {100 * m['wa']:.1f} "
                     f"| {mark} |")  # fmt: skip
    lines += ["", f"Deploy: **{comp['deploy']}** (members trained on every session; chosen with "
              f"{comp['deploy_from']}). Its expected UA/WA is the cross-validated row of the same "
              "rule, marked above.", ""]  # fmt: skip
    return lines


def _delta_line(what: str, d: Dict) -> List[str]:
    m, s = d["delta_ua"]["mean"], d["delta_ua"]["std"]
    per = " ".join(f"{100 * v:+.1f}" for v in d["delta_ua_folds"].values())
    sd = "–" if s is None else f"{100 * s:.1f}"
    return [f"{what} vs eGeMAPS + SVM (baselines), ΔUA: {100 * m:+.1f} ± {sd} (per fold {per}).",
            ""]  # fmt: skip


def _choice_row(k, info: Dict, fw: str) -> Tuple[str, ...]:
    se = info.get("se")
    return (str(k), info["best"] if "best" in info else info["chosen"],
            f"{info['val_uas'][info.get('best', info['chosen'])]:.3f}",
            "–" if se is None else f"{se:.3f}", ", ".join(info.get("members", [info["chosen"]])),
            f"{info['selection_ua']:.3f}" if "selection_ua" in info else "–", fw)  # fmt: skip


def markdown(comp: Dict, titles: Dict[str, str], results: Dict[int, Dict], layers) -> str:
    """The summary, the comparison table, the choice per fold and the learned layer weights."""
    lines = ["# Emotion systems on the folds of stage 8", ""] + summary_markdown(comp, titles)
    lines += ["## All systems, paired with the paper's head", "",
              comparison_markdown(comp, titles)]  # fmt: skip
    for row, what in (("selected", "Chosen system"), ("best_single", "Best single by inner-cv")):
        if f"{row}_vs_egemaps_svm" in comp:
            lines += _delta_line(what, comp[f"{row}_vs_egemaps_svm"])
    lines += ["| fold | best by inner-cv | its UA | SE over inner folds | chosen set S | S's "
              "inner-cv UA | fusion weight of the system (1 = no eGeMAPS) |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    rows = [(k, r["selected"]["info"]) for k, r in sorted(results.items())]
    if "deploy_info" in comp:
        rows.append(("all (deploy)", comp["deploy_info"]))
    for k, info in rows:
        weights = comp["fusion_weights"].get(str(k), comp.get("deploy_fusion_weights", {}))
        fw = ", ".join(f"{n.split('+')[0]} {w:.1f}" for n, w in weights.items())
        lines.append("| " + " | ".join(_choice_row(k, info, fw)) + " |")
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
