"""The emotion baselines of ``recipes/baselines.sh`` on stage 8's exact folds, as one call.

:func:`run_baselines` is what ``asr2emo run-baselines`` runs (outputs in that verb's docstring):
the folds rebuilt and checked against stage 8's, each system's cross-validation (skipped when
its marker matches), and the comparison with the transfer system.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Dict, Optional, Tuple

from asr2emo.baselines.classical import (
    SYSTEM_TITLES,
    SYSTEMS,
    ClassicalConfig,
    metrics_from_records,
    run_folds,
    write_system,
)
from asr2emo.baselines.compare import compare, write_comparison
from asr2emo.baselines.features import compute_features
from asr2emo.baselines.folds import (
    check_against_stage8,
    fold_test_ids,
    read_stage8_test_ids,
    read_stage8_val_speakers,
    restrict_to_stage8,
    stage8_folds,
    stage8_seed,
)
from asr2emo.baselines.utterances import load_table
from asr2emo.emotion.settings import read_emotion_conf
from asr2emo.features.mfcc import KaldiMfccHiresConfig
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path
from asr2emo.utils.markers import config_of, make_record, needs_run

SCRATCH = "tdnnf_scratch"
ALL_SYSTEMS = list(SYSTEMS) + [SCRATCH]


def mfcc_settings(conf: str) -> KaldiMfccHiresConfig:
    from asr2emo.bin.compute_mfcc import config_from_args
    from asr2emo.bin.compute_mfcc import get_parser as mfcc_parser

    if not conf:
        return KaldiMfccHiresConfig()
    return config_from_args(mfcc_parser().parse_args(["--config", conf, "_", "_", "_"]))


def transfer_metrics(emotion_dir: Optional[Path], layer: str) -> Tuple[str, Optional[Dict]]:
    """``(name, stage 8 metrics.json)`` of the transfer system, or ``("", None)``."""
    if emotion_dir is None:
        return "", None
    from asr2emo.report.collect import layer_metrics
    from asr2emo.report.render import choose_layer

    layers = layer_metrics(emotion_dir) if Path(emotion_dir).is_dir() else {}
    if layer and layer not in layers:
        raise UserError(f"--transfer-layer '{layer}': no {emotion_dir}/{layer}/metrics.json")
    chosen = choose_layer(layers, Path(emotion_dir), layer)
    if chosen is None:
        logging.warning("no stage-8 metrics in %s: no transfer system to compare", emotion_dir)
        return "", None
    return f"transfer_{chosen}", layers[chosen]


def run_scratch(args: argparse.Namespace, table, folds, seed: int):
    """Baseline (c): ``({fold: records}, {fold: history + config})``."""
    from asr2emo.baselines import scratch
    from asr2emo.ivector.extractor import IvectorExtractor
    from asr2emo.model.tdnnf import read_model_config

    if args.ivector_dir is None:
        raise UserError("the from-scratch TDNN-F needs --ivector-dir (stage-3 extractor)")
    tdnnf = read_model_config(args.tdnnf_config or None)
    opts = IvectorExtractor.load(args.ivector_dir).opts
    ivec = scratch.frame_inputs(
        table, args.exp_dir / "features", mfcc_settings(args.mfcc_config), args.ivector_dir
    )
    dim = int(ivec.ivectors[0].shape[1])
    if (tdnnf.ivector_dim, tdnnf.ivector_period) != (dim, opts.ivector_period):
        logging.info(
            "TDNN-F i-vector dim/period %d/%d follow the extractor: %d/%d",
            tdnnf.ivector_dim,
            tdnnf.ivector_period,
            dim,
            opts.ivector_period,
        )
        tdnnf = dataclasses.replace(tdnnf, ivector_dim=dim, ivector_period=opts.ivector_period)
    cfg = scratch.ScratchConfig(
        layer=args.scratch_layer,
        lr=args.scratch_lr,
        max_epochs=args.scratch_max_epochs,
        patience=args.scratch_patience,
        batch_frames=args.scratch_batch_frames,
        dropout=args.scratch_dropout,
        seed=seed,
    )
    recs, hists = scratch.run_folds(table, ivec, folds, tdnnf, cfg, args.device)
    conf = {"scratch": dataclasses.asdict(cfg), "tdnnf": dataclasses.asdict(tdnnf)}
    return recs, {k: {**h, "config": conf} for k, h in hists.items()}


def write_histories(system_dir: Path, hists: Dict[int, Dict]) -> None:
    for k, h in hists.items():
        path = system_dir / f"fold-{k}" / "history.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps({k2: v for k2, v in h.items() if k2 != "config"}) + "\n")


def run_baselines(args: argparse.Namespace) -> int:
    """Every system of ``args.systems`` from the verb's options; 0 when done."""
    for s in args.systems:
        if s not in ALL_SYSTEMS:
            raise UserError(f"unknown system '{s}'; valid: {', '.join(ALL_SYSTEMS)}")
    emotion = read_emotion_conf(args.emotion_config)
    seed, classes = emotion.head.seed, emotion.classes
    seeds = stage8_seed(args.emotion_dir)
    for layer, s8 in seeds.items():
        if s8 != seed:
            raise UserError(
                f"stage 8 ({args.emotion_dir}/{layer}) used --seed={s8}, "
                f"the emotion config gives {seed}: the folds would differ"
            )
    table = load_table(args.manifest_dir, args.corpus, classes or None)
    stage8 = read_stage8_test_ids(args.emotion_dir)
    table = restrict_to_stage8(table, stage8)
    folds = stage8_folds(table, seed)
    checked = check_against_stage8(
        fold_test_ids(folds, table.ids),
        stage8,
        {f.fold: f.val_speaker for f in folds},
        read_stage8_val_speakers(args.emotion_dir),
    )
    logging.info(
        "%d utterances, classes %s, %d folds (seed %d)%s",
        table.num_utts,
        table.classes,
        len(folds),
        seed,
        f"; identical to stage 8's test sets ({', '.join(checked)})" if checked else "",
    )
    cfg = ClassicalConfig(
        svm_c=args.svm_c,
        svm_gamma=args.svm_gamma,
        lr_c=args.lr_c,
        lr_max_iter=args.lr_max_iter,
        class_weight=args.class_weight,
        train_on=args.train_on,
        seed=seed,
    )
    # A system is redone when its settings, the manifests, the stage-8 folds or the confs change.
    settings = config_of(args, exclude=("manifest_dir", "exp_dir", "systems", "transfer_layer"))
    sources = {p.name: p for p in sorted(args.manifest_dir.glob(f"{args.corpus}_*.jsonl.gz"))}
    for key in ("emotion_config", "mfcc_config", "tdnnf_config", "ivector_dir"):
        if getattr(args, key, None):
            sources[key] = Path(getattr(args, key))
    records = {
        s: make_record("run-baselines", dict(settings, system=s), sources) for s in args.systems
    }
    todo = [
        s
        for s in args.systems
        if s in SYSTEMS and needs_run(args.exp_dir / s, records[s], f"baseline {s}")
    ]
    feats = {}
    if todo:
        t0 = time.time()
        feats = compute_features(
            table,
            sorted({SYSTEMS[s][0] for s in todo}),
            args.exp_dir / "features",
            mfcc_settings(args.mfcc_config),
            args.ivector_dir,
        )
        logging.info("features ready in %.1f s", time.time() - t0)
    results: Dict[str, Dict] = {}
    for system in args.systems:
        sdir = args.exp_dir / system
        if system in SYSTEMS and system not in todo:
            results[system] = json.loads((sdir / "metrics.json").read_text())
            continue
        if system == SCRATCH and not needs_run(sdir, records[system], f"baseline {system}"):
            results[system] = json.loads((sdir / "metrics.json").read_text())
            continue
        t0 = time.time()
        if system == SCRATCH:
            recs, hists = run_scratch(args, table, folds, seed)
            metrics = metrics_from_records(system, recs, table.classes)
            metrics.update({"best_epochs": [hists[k]["best_epoch"] for k in sorted(hists)]})
            metrics.update({"config": hists[min(hists)]["config"], "num_utts": table.num_utts})
            write_histories(sdir, hists)
        else:
            kind, classifier = SYSTEMS[system]
            recs = run_folds(feats[kind], table, folds, classifier, cfg)
            metrics = metrics_from_records(system, recs, table.classes)
            metrics.update({"feature": kind, "config": vars(cfg).copy()})
            metrics["num_utts"] = table.num_utts
        write_system(sdir, recs, metrics, records[system])
        results[system] = metrics
        logging.info(
            "%s: UA %.4f WA %.4f (pooled), fold UAs %s (%.1f s)",
            system,
            metrics["ua"],
            metrics["wa"],
            " ".join(f"{f['ua']:.3f}" for f in metrics["folds"]),
            time.time() - t0,
        )
    # stage 8 may have finished while the baselines ran: check its folds again before pairing
    check_against_stage8(
        fold_test_ids(folds, table.ids),
        read_stage8_test_ids(args.emotion_dir),
        {f.fold: f.val_speaker for f in folds},
        read_stage8_val_speakers(args.emotion_dir),
    )
    name, transfer = transfer_metrics(args.emotion_dir, args.transfer_layer)
    comp = compare(results, transfer, name)
    titles = dict(SYSTEM_TITLES)
    if name:
        titles[name] = f"ASR bottleneck ({name.split('_', 1)[1]}) + head"
    write_comparison(args.exp_dir, comp, titles)
    logging.info("wrote %s", args.exp_dir / "comparison.md")
    return 0
