"""Layer sweep and fine-tuning report sections, and the sweep's own files.

Layer sweep (``recipes/layer_sweep.sh``): one stage-8 ``metrics.json`` per layer under
``<sweep-dir>/emotion/<layer>/``; the table gives UA/WA (mean over folds) and the Session-5 UA
(the paper's Table 2 protocol) by depth, and ``ua_vs_depth.png`` plots them with the paper's
three Table 2 values as reference points. Depth: ``tdnn1`` = 1, ``tdnnfN`` = N, ``prefinal`` =
the last TDNN-F layer + 1.

Fine-tuning (``recipes/finetune.sh``): ``<finetune-dir>/<layer>/finetune.json`` written by
``asr2emo finetune-emotion``, one row per number k of fine-tuned TDNN-F layers (0 = frozen).

Run as ``python -m asr2emo.report.sweep [--layers L1,L2] EMOTION_DIR OUT_DIR`` to write
``OUT_DIR/{sweep.md,sweep.json,ua_vs_depth.png}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from asr2emo.report.paper import TABLE2, layer_display_name
from asr2emo.utils.io import atomic_path, write_json

NOT_RUN = "not run"
PAPER_SESSION = 5


def layer_depth(layer: str, num_tdnnf: int = 13) -> Optional[int]:
    """Position of a layer in the network (``tdnn1`` 1, ``tdnnfN`` N, ``prefinal`` last + 1)."""
    if layer == "tdnn1":
        return 1
    if layer.startswith("tdnnf") and layer[5:].isdigit():
        return int(layer[5:])
    if layer == "prefinal":
        return num_tdnnf + 1
    return None


def _session_ua(metrics: Dict, session: int) -> Optional[float]:
    for f in metrics.get("folds", []):
        if int(f.get("test_session", -1)) == session:
            return float(f["ua"])
    return None


def collect_sweep(emotion_dir: Path, layers: Sequence[str] = (), paper: bool = True) -> Dict:
    """``{"rows": [...]}`` ordered by depth from every finished ``<layer>/metrics.json``;
    ``paper``: add the paper's Table 2 values (IEMOCAP only: other corpora have no reference)."""
    emotion_dir = Path(emotion_dir)
    found = {
        p.parent.name: json.loads(p.read_text())
        for p in sorted(emotion_dir.glob("*/metrics.json"))
        if (p.parent / ".done").is_file() and (not layers or p.parent.name in layers)
    }
    num_tdnnf = max(
        (int(n[5:]) for n in found if n.startswith("tdnnf") and n[5:].isdigit()), default=13
    )
    rows = []
    for name, m in found.items():
        depth = layer_depth(name, num_tdnnf)
        if depth is None:
            continue
        rows.append(
            {
                "layer": name,
                "depth": depth,
                "ua_fold_mean": m["ua_fold_mean"],
                "wa_fold_mean": m["wa_fold_mean"],
                "ua_pooled": m["ua"],
                "ua_session5": _session_ua(m, PAPER_SESSION),
                "fold_ua": [f["ua"] for f in m["folds"]],
                "paper_session5": TABLE2.get(name) if paper else None,
            }
        )
    rows.sort(key=lambda r: r["depth"])
    best = max(rows, key=lambda r: r["ua_fold_mean"])["layer"] if rows else None
    return {"rows": rows, "best_layer": best, "paper_table2": TABLE2 if paper else None}


def _pct(x: Optional[float]) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def sweep_markdown(sweep: Dict) -> List[str]:
    """The sweep table: one row per layer, best cross-validated layer in bold."""
    lines = [
        "UA/WA: mean over the leave-one-session-out folds of stage 8 (same folds, same head); "
        "Ses5 UA: the fold testing on Session 5 (the paper's Table 2 protocol).",
        "",
        "| depth | layer | UA % | WA % | Ses5 UA % | paper Ses5 UA % |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for r in sweep["rows"]:
        name = layer_display_name(r["layer"])
        if r["layer"] == sweep.get("best_layer"):
            name = f"**{name}**"
        paper = "-" if r["paper_session5"] is None else f"{r['paper_session5']:.1f}"
        lines.append(
            f"| {r['depth']} | {name} | {_pct(r['ua_fold_mean'])} | {_pct(r['wa_fold_mean'])} "
            f"| {_pct(r['ua_session5'])} | {paper} |"
        )
    return lines


def plot_ua_vs_depth(sweep: Dict, path: Path) -> None:
    """UA (fold mean and Session 5) against depth, the paper's Table 2 as reference points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sweep["rows"]
    depth = [r["depth"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(depth, [100 * r["ua_fold_mean"] for r in rows], "o-", label="ours: UA, fold mean")
    s5 = [(r["depth"], r["ua_session5"]) for r in rows if r["ua_session5"] is not None]
    if s5:
        ax.plot([d for d, _ in s5], [100 * u for _, u in s5], "s--", label="ours: UA, Session 5")
    ref = [(r["depth"], r["paper_session5"]) for r in rows if r["paper_session5"] is not None]
    if ref:
        ax.plot([d for d, _ in ref], [u for _, u in ref], "r*", ms=12, label="paper: Session 5")
    ax.set_xticks(depth, [layer_display_name(r["layer"]).replace("layer ", "") for r in rows])
    ax.set_xlabel("layer (depth)")
    ax.set_ylabel("UA %")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Emotion UA by TDNN-F layer", fontsize=10)
    fig.tight_layout()
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def write_sweep(
    emotion_dir: Path, out_dir: Path, layers: Sequence[str] = (), paper: bool = True
) -> Dict:
    """``out_dir/{sweep.json,sweep.md,ua_vs_depth.png}`` from the per-layer metrics."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sweep = collect_sweep(emotion_dir, layers, paper)
    if not sweep["rows"]:
        raise SystemExit(f"no finished <layer>/metrics.json under {emotion_dir}")
    write_json(out_dir / "sweep.json", sweep)
    md = ["# Layer sweep", ""] + sweep_markdown(sweep) + ["", "![](ua_vs_depth.png)", ""]
    with atomic_path(out_dir / "sweep.md") as tmp:
        tmp.write_text("\n".join(md))
    plot_ua_vs_depth(sweep, out_dir / "ua_vs_depth.png")
    return sweep


# ---------------------------------------------------------------------------- report sections
def sweep_section(
    sweep_dir: Optional[Path], report_dir: Optional[Path] = None
) -> Tuple[List[str], Optional[Dict]]:
    """``## Layer sweep``: the table of :func:`sweep_markdown` and the UA-vs-depth plot (copied
    into ``report_dir`` and linked relatively when given, else linked where it is)."""
    lines = ["## Layer sweep (UA by TDNN-F layer)", ""]
    f = Path(sweep_dir) / "sweep.json" if sweep_dir else None
    if f is None or not f.is_file():
        return lines + [f"{NOT_RUN} (recipes/layer_sweep.sh).", ""], None
    sweep = json.loads(f.read_text())
    lines += sweep_markdown(sweep)
    png = Path(sweep_dir) / "ua_vs_depth.png"
    if png.is_file():
        link = str(png.resolve())
        if report_dir is not None:
            Path(report_dir).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(png, Path(report_dir) / png.name)
            link = png.name
        lines += ["", f"![UA vs depth]({link})"]
    return lines + [""], sweep


def finetune_markdown(table: Dict) -> List[str]:
    """One row per k (0 = frozen network, the paper)."""
    lines = [
        f"Bottleneck layer {table['layer']}; learning rates while fine-tuning: network = "
        f"emotion.conf lr x {table.get('lr_factor')}, head = lr x "
        f"{table.get('head_lr_factor')}; k > 0 starts from the k = 0 fold heads; same "
        "folds, validation speaker, early stopping and summed-softmax decision as stage 8.",
        "",
        "| k | fine-tuned layers | trained params | UA % | WA % | Ses5 UA % | UA % per fold |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in table["rows"]:
        trained = ", ".join(r["layers"]) if r["layers"] else "none (frozen)"
        folds = " / ".join(_pct(u) for u in r["fold_ua"])
        lines.append(
            f"| {r['k']} | {trained} | {r['num_trained_params']:,} | {_pct(r['ua_fold_mean'])} "
            f"| {_pct(r['wa_fold_mean'])} | {_pct(r['ua_session5'])} | {folds} |"
        )
    return lines


def finetune_section(finetune_dir: Optional[Path]) -> Tuple[List[str], Optional[Dict]]:
    """``## Fine-tuning``: one table per bottleneck layer found under ``finetune_dir``."""
    lines = ["## Frozen vs fine-tuned TDNN-F layers", ""]
    found = (
        sorted(Path(finetune_dir).glob("*/finetune.json"))
        if finetune_dir and Path(finetune_dir).is_dir()
        else []
    )
    if not found:
        return lines + [f"{NOT_RUN} (recipes/finetune.sh).", ""], None
    out = {}
    for p in found:
        table = json.loads(p.read_text())
        out[p.parent.name] = table
        lines += finetune_markdown(table) + [""]
    return lines, out


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description="write sweep.md, sweep.json and ua_vs_depth.png")
    p.add_argument("emotion_dir", type=Path, help="<sweep-dir>/emotion with <layer>/metrics.json")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--layers", default="", help="comma list; empty: every finished layer")
    p.add_argument(
        "--paper",
        choices=["true", "false"],
        default="true",
        help="show the paper's Table 2 values (IEMOCAP only)",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    layers = [x for x in args.layers.split(",") if x]
    sweep = write_sweep(args.emotion_dir, args.out_dir, layers, args.paper == "true")
    print("\n".join(sweep_markdown(sweep)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
