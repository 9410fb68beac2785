"""Scale rehearsal report: per-stage cost measured at several corpus sizes, growth fitted, and
projected to the paper's corpora (TED-LIUM release 2 + IEMOCAP).

Input: the JSON lines ``recipes/scale_rehearsal.sh`` writes, one per (size, stage):
``{"size", "stage", "wall_s", "cpu_s", "peak_rss_mb", "disk_mb", "hours": {...}}`` where
``hours`` holds the speech hours of the size's TED-LIUM train part, dev+test and IEMOCAP.
Each stage's cost is extrapolated against the hours it works on (:data:`STAGE_X`) along the
line through the two largest sizes (non-negative slope): exact for a cost linear in the data,
and for costs that saturate (the i-vector stage caps its training subset and UBM frames) it
extends the regime of the largest sizes instead of the steep start of a least-squares line.
The growth exponent is the slope of log(cost) on log(hours) between the smallest and the
largest size: 1 is linear. Stage 4 runs
a bounded number of steps, so its projection is the paper's training frames (``--num-epochs``
passes over the 3 speed copies of 207 h) at the training speed measured after the set-up;
stage 5 decodes the same dev/test at every size, so it is projected by the ratio of hours.

Output: ``scale.json`` (``{"stages": {"<k>": {"hours": [...], "wall_s": [...], "cpu_s": [...],
"peak_rss_mb": [...], "disk_mb": [...], "growth": g, "projected": {...}}}, ...}``) and
``report.md``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, List, Mapping, Sequence

# The hours each stage's work grows with (keys of a measurement's "hours").
STAGE_X = {
    0: "all",
    1: "train",
    2: "train",
    3: "train",
    4: "train",
    5: "eval",
    6: "iemocap",
    7: "iemocap",
    8: "iemocap",
}
STAGE_NAMES = {
    0: "corpora -> manifests",
    1: "lang (L, P, G, HLG)",
    2: "MFCC + speed perturbation + CMVN",
    3: "i-vector extractor + online i-vectors",
    4: "LF-MMI training (bounded steps)",
    5: "decode dev/test",
    6: "IEMOCAP MFCC + i-vectors",
    7: "bottleneck extraction",
    8: "emotion head CV",
}
# The paper's corpora, hours of speech (TED-LIUM 2: Rousseau et al. 2014; IEMOCAP: the 4936
# utterances of the paper's four classes, about 12 h of the 12.4 h corpus).
PAPER_HOURS = {"train": 207.0, "eval": 1.6 + 2.6, "iemocap": 12.0}
PAPER_HOURS["all"] = PAPER_HOURS["train"] + PAPER_HOURS["eval"] + PAPER_HOURS["iemocap"]
RSS_LIMIT_MB = 32 * 1024


def extrapolate(x: Sequence[float], y: Sequence[float], target: float) -> float:
    """``y`` at ``target`` along the line through the two largest ``x`` (slope >= 0)."""
    pts = sorted(zip(x, y))
    (x1, y1), (x2, y2) = pts[-2], pts[-1]
    slope = max((y2 - y1) / (x2 - x1), 0.0) if x2 > x1 else 0.0
    return y2 + slope * (target - x2)


def fit_line(x: Sequence[float], y: Sequence[float]) -> tuple:
    """Least-squares ``y = a + b x`` with ``a, b >= 0`` (a cost neither shrinks nor goes below
    zero with more data)."""
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((xi - mx) ** 2 for xi in x)
    b = sum((xi - mx) * (yi - my) for xi, yi in zip(x, y)) / sxx if sxx > 0 else 0.0
    b = max(b, 0.0)
    a = max(my - b * mx, 0.0)
    return a, b


def growth(x: Sequence[float], y: Sequence[float]) -> float:
    """log(y_last / y_first) / log(x_last / x_first): 1 = linear, 0 = constant."""
    if len(x) < 2 or x[-1] <= x[0] or y[0] <= 0 or y[-1] <= 0:
        return float("nan")
    return math.log(y[-1] / y[0]) / math.log(x[-1] / x[0])


def summarize(
    rows: List[Mapping], training: Mapping[str, float], cores: int, gpus: int, gpu_speedup: float
) -> Dict:
    """The ``scale.json`` content from the measurement rows (see the module docstring).

    ``training``: ``num_epochs``, ``max_duration`` (s), ``steps`` (bounded steps measured),
    ``speed_factors`` (copies of the train set); ``cores`` / ``gpus`` / ``gpu_speedup`` (one GPU
    vs one core, for stage 4) describe the target machine of the wall-time projection.
    """
    stages: Dict[str, Dict] = {}
    for k in sorted({int(r["stage"]) for r in rows}):
        rs = sorted((r for r in rows if int(r["stage"]) == k), key=lambda r: r["hours"]["train"])
        xkey = STAGE_X[k]
        hours = [float(r["hours"][xkey]) for r in rs]
        entry = {
            "what": STAGE_NAMES[k],
            "x": xkey,
            "hours": [round(h, 4) for h in hours],
            "wall_s": [round(r["wall_s"], 2) for r in rs],
            "cpu_s": [round(r["cpu_s"], 2) for r in rs],
            "peak_rss_mb": [round(r["peak_rss_mb"], 1) for r in rs],
            "disk_mb": [round(r["disk_mb"], 1) for r in rs],
        }
        target = PAPER_HOURS[xkey]
        proj: Dict[str, float] = {}
        constant = max(hours) < 1.1 * min(hours)  # e.g. dev/test: the same at every size
        if k == 4:
            # the training's input frames over the paper's epochs, at the measured speed (the
            # set-up of a bounded run is not part of the per-step cost)
            frames = (
                training["speed_factors"] * PAPER_HOURS["train"] * 3600 * 100
                * training["num_epochs"]
            )  # fmt: skip
            fps = [float(r["train_frames_per_s"]) for r in rs]
            entry["train_frames_per_s"] = [round(f, 1) for f in fps]
            entry["growth"] = round(growth(hours, [1 / f for f in fps]), 3)
            proj["steps"] = round(frames / 100 / training["max_duration"])
            proj["cpu_s"] = frames / fps[-1]
            proj["wall_s"] = proj["cpu_s"] / max(1.0, gpus * gpu_speedup if gpus else cores)
        elif constant:  # the same data at every size (decoding dev/test)
            entry["growth"] = None
            proj["cpu_s"] = entry["cpu_s"][-1] * target / hours[-1]
            proj["wall_s"] = entry["wall_s"][-1] * target / hours[-1]
        else:
            entry["growth"] = round(growth(hours, entry["cpu_s"]), 3)
            for key in ("cpu_s", "wall_s"):
                proj[key] = extrapolate(hours, entry[key], target)
            measured_cores = rows[0].get("nj", 2)
            proj["wall_s"] = proj["wall_s"] * measured_cores / max(cores, 1)
        for key in ("peak_rss_mb", "disk_mb"):
            if k == 4 and key == "peak_rss_mb" and all("manifest_mb" in r for r in rs):
                # the per-batch computation (k2's lattices) sets the peak and does not grow; the
                # cut manifests held in memory do, in proportion to the training hours
                entry["manifest_mb"] = [r["manifest_mb"] for r in rs]
                per_hour = entry["manifest_mb"][-1] / hours[-1]
                proj[key] = max(entry[key]) + per_hour * (target - hours[-1])
            elif constant:
                proj[key] = max(entry[key])
            else:
                proj[key] = extrapolate(hours, entry[key], target)
        entry["projected"] = {k2: round(v, 1) for k2, v in proj.items()}
        entry["projected"]["fits_32_gb"] = proj["peak_rss_mb"] <= RSS_LIMIT_MB
        stages[str(k)] = entry
    total_wall = sum(s["projected"]["wall_s"] for s in stages.values())
    return {
        "stages": stages,
        "target": dict(PAPER_HOURS, cores=cores, gpus=gpus, gpu_speedup=gpu_speedup),
        "training": dict(training),
        "projected_total_wall_h": round(total_wall / 3600, 2),
        "all_linear": all(
            s["growth"] is None or (not math.isnan(s["growth"]) and s["growth"] <= 1.15)
            for s in stages.values()
        ),
        "all_fit_32_gb": all(s["projected"]["fits_32_gb"] for s in stages.values()),
    }


def render(summary: Mapping) -> str:
    t = summary["target"]
    lines = [
        "# Scale rehearsal: measured growth and the projection to the paper's corpora",
        "",
        f"Target: TED-LIUM 2 train {t['train']:.0f} h (+ dev/test {t['eval']:.1f} h), IEMOCAP "
        f"{t['iemocap']:.0f} h; {t['cores']} cores, {t['gpus']} GPU(s)"
        + (f" at {t['gpu_speedup']:g}x one core for stage 4" if t["gpus"] else "")
        + ".",
        "",
        "| stage | what | hours (x) | CPU s | peak RSS MB | growth | projected CPU h | "
        "projected wall h | projected peak RSS GB | fits 32 GB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for k, s in summary["stages"].items():
        p = s["projected"]
        g = "-" if s["growth"] is None else f"{s['growth']:.2f}"
        lines.append(
            f"| {k} | {s['what']} | {' / '.join(f'{h:g}' for h in s['hours'])} ({s['x']}) | "
            f"{' / '.join(f'{c:.0f}' for c in s['cpu_s'])} | "
            f"{' / '.join(f'{m:.0f}' for m in s['peak_rss_mb'])} | {g} | "
            f"{p['cpu_s'] / 3600:.2f} | {p['wall_s'] / 3600:.2f} | "
            f"{p['peak_rss_mb'] / 1024:.1f} | {'yes' if p['fits_32_gb'] else '**no**'} |"
        )
    lines += [
        "",
        f"Projected total wall time: {summary['projected_total_wall_h']:.1f} h. Every stage "
        f"grows at most linearly: {'yes' if summary['all_linear'] else '**no**'}; every "
        f"stage's peak RSS fits 32 GB: {'yes' if summary['all_fit_32_gb'] else '**no**'}.",
        "",
        "Growth = log(CPU_largest / CPU_smallest) / log(hours_largest / hours_smallest) "
        "(stage 4: time per training frame, which should not grow). Projections: along the line "
        "through the two largest sizes (RSS and disk likewise); stage 4 = the paper's training "
        f"frames ({summary['stages'].get('4', {}).get('projected', {}).get('steps', 0)} steps) "
        "at the training speed measured after the set-up; "
        "stage 5 decodes the same dev/test at every size and is scaled by hours.",
    ]
    return "\n".join(lines) + "\n"


def write_report(
    rows_path: Path, out_dir: Path, training: Mapping, cores: int, gpus: int, gpu_speedup: float
) -> Dict:
    rows = [json.loads(x) for x in Path(rows_path).read_text().splitlines() if x.strip()]
    summary = summarize(rows, training, cores, gpus, gpu_speedup)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "scale.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out_dir / "report.md").write_text(render(summary))
    return summary
