"""``recipes/emotion_systems.sh`` as one call: every system on stage 8's folds, the choice,
the deploy system and the report (outputs in the ``emotion-systems`` verb's docstring)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch

from asr2emo.baselines.features import compute_features
from asr2emo.baselines.folds import (
    check_against_stage8,
    fold_test_ids,
    read_stage8_test_ids,
    read_stage8_val_speakers,
)
from asr2emo.baselines.utterances import load_table
from asr2emo.emotion.data import load_frames
from asr2emo.emotion.folds import make_folds
from asr2emo.emotion.settings import read_emotion_conf
from asr2emo.report.collect import layer_metrics
from asr2emo.report.render import choose_layer
from asr2emo.systems.deploy import deploy_system, export_deploy
from asr2emo.systems.heads import UtteranceHeadConfig
from asr2emo.systems.pooling import layer_frames, layer_statistics
from asr2emo.systems.report import write_report
from asr2emo.systems.run import SystemInputs, SystemsConfig, check_config, run_fold, write_fold
from asr2emo.utils.config import dataclass_from_args
from asr2emo.utils.errors import UserError
from asr2emo.utils.markers import make_record, needs_run, write_marker


def mixed_layers(layers_dir: Path, requested: List[str]) -> List[str]:
    """The requested layers, else tdnn1 + every tdnnfN with a finished extraction, by depth."""
    if requested:
        return requested
    found = [
        p.name
        for p in Path(layers_dir).iterdir()
        if p.is_dir() and re.fullmatch(r"tdnn1|tdnnf\d+", p.name) and (p / ".done").is_file()
    ] if Path(layers_dir).is_dir() else []  # fmt: skip
    if len(found) < 2:
        raise UserError(
            f"{layers_dir}: need the bottleneck of at least 2 layers (tdnn1, tdnnf2, ...) for "
            "layer mixing; run recipes/layer_sweep.sh (or pass --layers)"
        )
    return sorted(found, key=lambda n: int(re.sub(r"\D", "", n)))


def run_systems(args: argparse.Namespace) -> int:
    """Every system of the verb's options on stage 8's folds, then the deploy system; 0."""
    emotion = read_emotion_conf(args.emotion_config)
    frame_cfg, classes, frame_dtype = emotion.head, emotion.classes, emotion.frame_dtype
    cfg = SystemsConfig(
        head=dataclass_from_args(UtteranceHeadConfig, args, "head_"),
        frame=frame_cfg,
        svm_c=args.svm_c,
        svm_gamma=args.svm_gamma,
        selection=args.selection,
        choice=args.choice,
        class_weights=args.class_weights,
        frame_mix=args.frame_mix,
    )
    check_config(cfg)
    seed = frame_cfg.seed
    stage8 = layer_metrics(args.emotion_dir) if args.emotion_dir.is_dir() else {}
    layer = choose_layer(stage8, args.emotion_dir, args.paper_layer)
    if layer is None:
        raise UserError(f"no stage-8 results under {args.emotion_dir}; run stage 8 first")
    data = load_frames(
        args.bottleneck_dir / layer / "cuts.jsonl.gz", classes or None, dtype=frame_dtype
    )
    folds = make_folds(data.sessions, data.speakers, seed)
    checked = check_against_stage8(
        fold_test_ids(folds, data.ids),
        read_stage8_test_ids(args.emotion_dir),
        {f.fold: f.val_speaker for f in folds},
        read_stage8_val_speakers(args.emotion_dir),
    )
    logging.info(
        "%d utterances, %d folds, test sets and validation speakers identical to stage 8 (%s)",
        data.num_utts,
        len(folds),
        ", ".join(checked),
    )
    layers = mixed_layers(args.layers_dir, args.layers)
    per_layer = layer_statistics(args.layers_dir, layers, data.ids)
    dims = {v.shape[1] for v in per_layer.values()}
    if len(dims) != 1:
        raise UserError(
            f"layers {layers} have different dimensions {sorted(dims)}: mix only equals"
        )
    stats = torch.from_numpy(np.stack([per_layer[n] for n in layers], axis=1))
    features_dir = args.features_dir or args.exp_dir.parent / "baselines" / "features"
    table = load_table(args.manifest_dir, args.corpus, data.classes)
    kept = table.subset(data.ids)
    egemaps_rows = compute_features(kept, ["egemaps"], features_dir)["egemaps"]
    pos = {u: i for i, u in enumerate(kept.ids)}
    missing = [u for u in data.ids if u not in pos]
    if missing:
        raise UserError(
            f"{len(missing)} bottleneck utterances not in the manifests (e.g. {missing[0]})"
        )
    egemaps = egemaps_rows[[pos[u] for u in data.ids]]
    mix_frames = layer_frames(args.layers_dir, layers, data, frame_dtype) if cfg.frame_mix else None
    inputs = SystemInputs(
        data, stats, egemaps, layers.index(layer) if layer in layers else None, mix_frames
    )
    record = make_record(
        "emotion-systems",
        {**dataclasses.asdict(cfg), "seed": seed, "classes": data.classes,
         "paper_layer": layer, "layers": layers, "frame_dtype": frame_dtype},
        {"stage8": args.emotion_dir / layer, "bottleneck": args.bottleneck_dir / layer,
         **{f"layer_{n}": args.layers_dir / n for n in layers},
         "egemaps": features_dir / "egemaps.npz"},
    )  # fmt: skip
    results: Dict[int, Dict] = {}
    for fold in folds:
        fold_dir = args.exp_dir / f"fold-{fold.fold}"
        if needs_run(fold_dir, record, f"systems fold {fold.fold}"):
            head = args.emotion_dir / layer / f"fold-{fold.fold}" / "head.pt"
            write_fold(fold_dir, run_fold(fold, inputs, head, cfg, seed))
            write_marker(fold_dir, record)
        results[fold.fold] = json.loads((fold_dir / "scores.json").read_text())
    deploy_dir = args.exp_dir / "deploy"
    if needs_run(deploy_dir, record, "systems deploy choice (all sessions)"):
        write_fold(deploy_dir, deploy_system(inputs, cfg, seed))
        write_marker(deploy_dir, record)
    deploy = json.loads((deploy_dir / "scores.json").read_text())
    model_dir = deploy_dir / "model"
    if needs_run(model_dir, record, "systems deploy model"):
        settings = {"classes": data.classes, "paper_layer": layer, "layers": layers,
                    "paper_index": inputs.paper_index, "frame_dtype": frame_dtype}  # fmt: skip
        diff = export_deploy(
            inputs, cfg, seed, deploy, settings, args.emotion_dir / "model", model_dir
        )
        logging.info("deploy system -> %s (validation posteriors as chosen: max |diff| %.2g)",
                     model_dir, diff)  # fmt: skip
        write_marker(model_dir, record)
    reference = args.reference_dir or args.exp_dir.parent / "baselines"
    write_report(
        args.exp_dir, data, results, stage8[layer], layer, layers, reference, record, deploy
    )
    return 0
