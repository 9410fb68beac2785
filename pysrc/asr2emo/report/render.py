"""Assemble the report: ``report.md``, ``metrics.json`` and the PNGs in the report dir.

``metrics.json`` (UA/WA as fractions; the markdown shows percentages)::

    {"corpus", "layer" (primary layer), "aggregation": "sum_softmax", "classes",
     "ua", "wa", "ua_fold_mean", "wa_fold_mean", "per_class_recall", "confusion", "n",
     "folds": [{"fold", "test_session", "ua", "wa", "n"}], "aggregations": {...},
     "layers": {layer: {"ua", "wa", "ua_fold_mean", "session5_ua"}},
     "table1": {"ours": {session: {class: n}} | null, "paper": ... | null},
     "wer": {part: {"wer", "errors", "words"}}, "paper": {...}, "baselines": {...} (quoted),
     "baselines_same_folds": comparison.json of recipes/baselines.sh | null,
     "dimensional": {layer: {"loss", "systems"}} of recipes/dimensional.sh | null,
     "systems": {name: {"ua", "wa"}} (fold means) of recipes/emotion_systems.sh | null,
     "deploy": the emotion system to deploy (emotion_systems.sh) | null,
     "layer_sweep", "finetune": recipes/layer_sweep.sh, recipes/finetune.sh summaries | null,
     "not_run": [section names whose inputs were missing]}

The primary-layer keys are copied from ``<emotion-dir>/<layer>/metrics.json`` (stage 8), so the
same schema holds; they are absent when stage 8 has not run.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Dict, List, Optional

from asr2emo.report import paper
from asr2emo.report.collect import (
    acoustic_model_summary,
    fold_histories,
    layer_metrics,
    model_layer,
    table1_counts,
    wer_results,
)
from asr2emo.report.extras import baselines_section, dimensional_section, systems_section
from asr2emo.report.plots import plot_confusion, plot_curves
from asr2emo.report.sweep import finetune_section, sweep_section
from asr2emo.utils.io import atomic_path

NOT_RUN = "not run"


def _pct(x: Optional[float]) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _fold_for_session(metrics: Dict, session: int) -> Optional[Dict]:
    return next((f for f in metrics.get("folds", []) if f["test_session"] == session), None)


def choose_layer(layers: Dict[str, Dict], emotion_dir: Path, requested: str = "") -> Optional[str]:
    """The requested layer, else the deployable model's, else tdnnf12, else the best CV UA."""
    for cand in (requested, model_layer(emotion_dir), "tdnnf12"):
        if cand and cand in layers:
            return cand
    return max(layers, key=lambda k: layers[k]["ua"]) if layers else None


def label_map_line(manifest_dir: Path) -> str:
    """Which IEMOCAP protocol stage 0 prepared (its marker's record), in one sentence, with
    this corpus's utterance counts under both protocols when stage 0 wrote them."""
    marker = Path(manifest_dir) / ".iemocap.done"
    try:
        merged = json.loads(marker.read_text())["config"]["merge_hap_into_exc"]
    except (OSError, ValueError, KeyError):
        return "Label map: unknown (no stage-0 marker)."
    if merged:
        line = "Label map: merged (hap counted as exc; the 5531-utterance SUPERB/EmoBox protocol)."
    else:
        line = "Label map: paper (ang/exc/neu/sad, hap dropped; the paper's 4936 utterances)."
    try:
        totals = json.loads((Path(manifest_dir) / "iemocap_protocols.json").read_text())["totals"]
    except (OSError, ValueError, KeyError):
        return line
    order = sorted(totals, key=lambda name: name != "paper")
    both = ", ".join(f"{totals[name]} under {name}" for name in order)
    return f"{line} This corpus: {both} utterances."


def _table1_md(ours: Optional[Dict], is_iemocap: bool, classes: List[str]) -> List[str]:
    lines = ["## Table 1: utterances per session and class", ""]
    if ours is None:
        return lines + [f"Ours: {NOT_RUN} (no supervisions manifest).", ""]
    sessions = sorted(ours)
    if is_iemocap:
        lines.append("Each cell: ours (paper).")
        lines.append("")
    lines.append("| session | " + " | ".join(classes) + " | total |")
    lines.append("|---" * (len(classes) + 2) + "|")
    tot: Dict[str, int] = {c: 0 for c in classes}
    for s in sessions:
        cells = []
        for c in classes:
            n = ours[s].get(c, 0)
            tot[c] += n
            p = paper.TABLE1.get(s, {}).get(c) if is_iemocap else None
            cells.append(f"{n}" + (f" ({p})" if p is not None else ""))
        total = sum(ours[s].get(c, 0) for c in classes)
        ptotal = sum(paper.TABLE1[s].values()) if is_iemocap and s in paper.TABLE1 else None
        cells.append(f"{total}" + (f" ({ptotal})" if ptotal is not None else ""))
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    grand = sum(tot.values())
    ptot = {c: sum(paper.TABLE1[s][c] for s in paper.TABLE1) for c in classes} if is_iemocap else {}
    cells = [f"{tot[c]}" + (f" ({ptot[c]})" if c in ptot else "") for c in classes]
    cells.append(f"{grand}" + (f" ({paper.TABLE1_TOTAL})" if is_iemocap else ""))
    lines.append("| all | " + " | ".join(cells) + " |")
    return lines + [""]


def _wer_md(wer: Dict[str, Dict], is_iemocap: bool, am: Optional[Dict] = None) -> List[str]:
    lines = ["## ASR word error rate (TED-LIUM acoustic model)", ""]
    if am is not None:
        branch = am["xent_branch_params"]
        lines += [
            f"Acoustic model: {am['topology']} topology, {am['num_outputs']} output units, "
            f"{am['num_params']:,} parameters"
            + (f" ({branch:,} of them the training-only xent branch)" if branch else "")
            + ".",
            "",
        ]
    if not wer:
        lines.append(f"Ours: {NOT_RUN} (no `tdnnf/decode_*/wer.txt`).")
    else:
        lines += ["| set | WER % | errors / words |", "|---|---|---|"]
        for part, w in wer.items():
            lines.append(f"| {part} | {w['wer']:.2f} | {w['errors']} / {w['words']} |")
    lines.append("")
    lines.append(f"Paper: {paper.WER_TEDLIUM_TEST} % on TED-LIUM test (Kaldi tdnn_1g).")
    return lines + [""]


def _table2_md(layers: Dict[str, Dict], is_iemocap: bool) -> List[str]:
    lines = ["## Table 2: UA (%) by bottleneck layer, test on Session 5", ""]
    if len(layers) < 2:
        only = f" (only {', '.join(layers)})" if layers else ""
        lines.append(
            f"Layer comparison: {NOT_RUN}{only}; list several layers in the bottleneck conf."
        )
        if is_iemocap:
            lines.append("")
            lines.append(
                "Paper: "
                + ", ".join(f"{paper.TABLE2_NAMES[k]} {v}" for k, v in paper.TABLE2.items())
                + "."
            )
        return lines + [""]
    lines += ["| layer | UA Session 5 | paper | UA CV (pooled) |", "|---|---|---|---|"]
    names = sorted(set(layers) | (set(paper.TABLE2) if is_iemocap else set()))
    for layer in names:
        m = layers.get(layer)
        f5 = _fold_for_session(m, 5) if m else None
        ours = _pct(f5["ua"]) if f5 else NOT_RUN
        p = paper.TABLE2.get(layer) if is_iemocap else None
        cv = _pct(m["ua"]) if m else NOT_RUN
        lines.append(
            f"| {paper.layer_display_name(layer)} ({layer}) | {ours} | "
            f"{'–' if p is None else p} | {cv} |"
        )
    return lines + [""]


def _table3_md(m: Optional[Dict], layer: Optional[str], is_iemocap: bool) -> List[str]:
    title = "## Table 3: leave-one-" + ("session" if is_iemocap else "speaker-group") + "-out CV"
    if m is None:
        return [
            title,
            "",
            f"Ours: {NOT_RUN} (no finished `<emotion-dir>/<layer>/metrics.json`).",
            "",
        ] + ([f"Paper UA: {paper.TABLE3} -> mean {paper.TABLE3_MEAN}.", ""] if is_iemocap else [])
    lines = [
        title,
        "",
        f"Layer {layer} ({paper.layer_display_name(layer)}), summed-softmax "
        "decision; UA = mean per-class recall, WA = accuracy, in %.",
        "",
    ]
    held = "held-out session" if is_iemocap else "held-out speaker group"
    lines += [f"| {held} | n | UA | WA | paper UA |", "|---|---|---|---|---|"]
    for f in m["folds"]:
        p = paper.TABLE3.get(f["test_session"]) if is_iemocap else None
        lines.append(
            f"| {f['test_session']} | {f['n']} | {_pct(f['ua'])} | {_pct(f['wa'])} | "
            f"{'–' if p is None else p} |"
        )
    lines.append(
        f"| **mean of folds** | {m['n']} | **{_pct(m['ua_fold_mean'])}** | "
        f"{_pct(m['wa_fold_mean'])} | {paper.TABLE3_MEAN if is_iemocap else '–'} |"
    )
    lines.append(
        f"| pooled over all utterances | {m['n']} | {_pct(m['ua'])} | {_pct(m['wa'])} | – |"
    )
    lines += [
        "",
        "Per-class recall (%): "
        + ", ".join(f"{c} {_pct(r)}" for c, r in m["per_class_recall"].items()),
        "",
    ]
    return lines


def _aggregation_md(m: Optional[Dict]) -> List[str]:
    lines = ["## Utterance decision: summed softmax vs. alternatives", ""]
    if m is None:
        return lines + [f"{NOT_RUN}.", ""]
    lines += [
        "| decision | UA (fold mean) | WA (fold mean) | UA (pooled) | WA (pooled) |",
        "|---|---|---|---|---|",
    ]
    names = {
        "sum_softmax": "sum of frame softmax (paper)",
        "mean_logprob": "mean log-probability",
        "majority": "majority vote of frames",
    }
    for agg, a in m["aggregations"].items():
        lines.append(
            f"| {names.get(agg, agg)} | {_pct(a['ua_fold_mean'])} | "
            f"{_pct(a['wa_fold_mean'])} | {_pct(a['ua'])} | {_pct(a['wa'])} |"
        )
    return lines + [""]


def build_report(
    manifest_dir: Path,
    exp_dir: Path,
    report_dir: Path,
    corpus: str = "iemocap",
    emotion_dir: Optional[Path] = None,
    layer: str = "",
    baselines_dir: Optional[Path] = None,
    dimensional_dir: Optional[Path] = None,
    sweep_dir: Optional[Path] = None,
    finetune_dir: Optional[Path] = None,
    asr_exp_dir: Optional[Path] = None,
    systems_dir: Optional[Path] = None,
) -> Dict:
    """Write ``report.md``, ``metrics.json`` and the PNGs; returns the metrics dict.

    Beyond the paper, the sections of ``recipes/{baselines,dimensional,layer_sweep,finetune,
    emotion_systems}.sh`` are included from ``<exp-dir>/{baselines,dimensional,sweep,finetune,
    systems}`` (or the given dirs).
    The ASR WER is read from ``<asr-exp-dir>/tdnnf/decode_*`` (default: the exp dir), so a
    folder-corpus experiment can report the acoustic model it used.
    """
    emotion_dir = emotion_dir or exp_dir / "emotion"
    is_iemocap = corpus == "iemocap"
    report_dir.mkdir(parents=True, exist_ok=True)
    not_run: List[str] = []

    counts = table1_counts(manifest_dir / f"{corpus}_supervisions_all.jsonl.gz")
    layers = layer_metrics(emotion_dir)
    primary = choose_layer(layers, emotion_dir, layer)
    m = layers.get(primary) if primary else None
    wer = wer_results(asr_exp_dir or exp_dir)
    am = acoustic_model_summary(asr_exp_dir or exp_dir)
    classes = (m or {}).get("classes") or (
        paper.CLASSES if is_iemocap else sorted({c for v in (counts or {}).values() for c in v})
    )
    if counts is None:
        not_run.append("table1")
    if m is None:
        not_run += ["table3", "aggregations", "confusion", "curves"]
    if len(layers) < 2:
        not_run.append("table2")
    if not wer:
        not_run.append("wer")

    pngs: Dict[str, str] = {}
    if m is not None:
        plot_confusion(
            m["confusion"],
            m["classes"],
            f"{corpus} {primary}: UA {_pct(m['ua'])} %, WA {_pct(m['wa'])} % (pooled)",
            report_dir / "confusion.png",
        )
        pngs["confusion"] = "confusion.png"
        hist = fold_histories(emotion_dir / primary)
        if hist:
            plot_curves(
                hist, f"{corpus} {primary}: emotion head training", report_dir / "curves.png"
            )
            pngs["curves"] = "curves.png"

    md = [f"# asr2emo report: {corpus}", ""]
    md.append(
        f"Inputs: manifests `{manifest_dir}`, experiment `{exp_dir}`, emotion `{emotion_dir}`."
    )
    if is_iemocap:
        md.append(
            "Paper: Zhou & Beigi, transfer learning from an LF-MMI TDNN-F ASR model; "
            "paper figures in parentheses or in the 'paper' column."
        )
    else:
        md.append(
            "The paper's figures are for IEMOCAP and are not shown for this corpus; "
            "'session' = speaker group of the cross-validation."
        )
    if is_iemocap:
        md.append(label_map_line(manifest_dir))
    md.append("")
    md += _table1_md(counts, is_iemocap, classes)
    if is_iemocap or wer:
        md += _wer_md(wer, is_iemocap, am)
    md += _table2_md(layers, is_iemocap)
    md += _table3_md(m, primary, is_iemocap)
    if "confusion" in pngs:
        md += [
            "### Confusion matrix (rows = truth, summed softmax, all folds)",
            "",
            "![confusion](confusion.png)",
            "",
        ]
    md += _aggregation_md(m)
    md += ["## Emotion head training curves", ""]
    md += ["![curves](curves.png)", ""] if "curves" in pngs else [f"{NOT_RUN}.", ""]
    if is_iemocap:
        md += ["## Baselines quoted by the paper (UA %)", "", "| system | UA |", "|---|---|"]
        md += [f"| {k} | {v} |" for k, v in paper.BASELINES.items()]
        md += [f"| paper (TDNN-F layer 12 transfer) | {paper.TABLE3_MEAN} |"]
        if m is not None:
            md += [f"| ours ({primary}) | {_pct(m['ua_fold_mean'])} |"]
        md.append("")

    b_md, baselines_same_folds = baselines_section(baselines_dir or exp_dir / "baselines")
    d_md, dimensional = dimensional_section(dimensional_dir or exp_dir / "dimensional")
    y_md, systems = systems_section(systems_dir or exp_dir / "systems")
    md += b_md + y_md + d_md
    if baselines_same_folds is None:
        not_run.append("baselines_same_folds")
    if systems is None:
        not_run.append("systems")
    if dimensional is None:
        not_run.append("dimensional")
    s_md, layer_sweep = sweep_section(sweep_dir or exp_dir / "sweep", report_dir)
    f_md, finetune = finetune_section(finetune_dir or exp_dir / "finetune")
    md += s_md + f_md
    not_run += [n for n, v in (("layer_sweep", layer_sweep), ("finetune", finetune)) if v is None]

    out: Dict = {"corpus": corpus}
    if m is not None:
        out.update({k: v for k, v in m.items() if k != "config"})
        out["head_config"] = m.get("config")
    out["layers"] = {
        k: {
            "ua": v["ua"],
            "wa": v["wa"],
            "ua_fold_mean": v["ua_fold_mean"],
            "session5_ua": (_fold_for_session(v, 5) or {}).get("ua"),
        }
        for k, v in layers.items()
    }
    out["table1"] = {"ours": counts, "paper": paper.TABLE1 if is_iemocap else None}
    out["wer"] = wer
    out["acoustic_model"] = am
    out["paper"] = (
        {
            "table2_ua": paper.TABLE2,
            "table3_ua": paper.TABLE3,
            "table3_mean": paper.TABLE3_MEAN,
            "wer_tedlium_test": paper.WER_TEDLIUM_TEST,
        }
        if is_iemocap
        else None
    )
    out["baselines"] = paper.BASELINES if is_iemocap else None
    out["baselines_same_folds"] = baselines_same_folds
    out["systems"] = None if systems is None else systems["systems"]
    out["deploy"] = None if systems is None else systems["deploy"]
    out["dimensional"] = dimensional
    out["layer_sweep"], out["finetune"] = layer_sweep, finetune
    out["figures"] = pngs
    out["not_run"] = not_run

    with atomic_path(report_dir / "metrics.json") as tmp:
        tmp.write_text(json.dumps(out, indent=2) + "\n")
    with atomic_path(report_dir / "report.md") as tmp:
        tmp.write_text("\n".join(md))
    logging.info("wrote %s (not run: %s)", report_dir / "report.md", ", ".join(not_run) or "none")
    return out
