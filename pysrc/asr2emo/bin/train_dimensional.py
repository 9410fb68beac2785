"""Valence/arousal/dominance regression on bottleneck frames, on the folds of stage 8.

Reads ``<bottleneck-dir>/<layer>/cuts.jsonl.gz`` (stage 7; supervision custom ``valence``,
``arousal``, ``dominance``), builds stage 8's folds (same classes and seed as
``--emotion-config``; checked against ``<emotion-dir>/<layer>/fold-*`` when present) and writes
under ``<out-dir>/<layer>/``::

    predictions.jsonl   {"id", "speaker", "session", "fold", "gold": {dim: x},
                         "pred": {system: {dim: x}}}
    metrics.json        {"layer", "loss", "dimensions", "num_utts", "config",
                         "systems": {system: {"pooled": {dim: {"ccc", "pearson", "mse"}},
                                              "fold_mean": {dim: {...}},
                                              "folds": [{"fold", "test_session", "n",
                                                         dim: {...}}]}}, "folds_info": [...]}
    table.md            CCC / Pearson r / MSE per dimension and system

Systems: ``head`` (frame-level regression head, utterance = mean over frames), ``mean_predictor``
(training-fold mean), ``egemaps_ridge`` (eGeMAPS functionals + ridge; features cached in
``--feature-cache``, the same cache format as ``asr2emo run-baselines``). A layer dir with
``.done`` is not recomputed.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

from asr2emo.baselines.features import compute_features
from asr2emo.baselines.folds import (
    check_against_stage8,
    fold_test_ids,
    read_stage8_test_ids,
    read_stage8_val_speakers,
)
from asr2emo.dimensional.data import audio_table, load_dimensional
from asr2emo.dimensional.table import table_markdown
from asr2emo.dimensional.train import SYSTEMS, RegConfig, cross_validate_dimensional
from asr2emo.emotion.folds import make_folds
from asr2emo.emotion.settings import add_frame_dtype_arg, read_emotion_conf
from asr2emo.emotion.stage import find_layers
from asr2emo.utils.config import ConfArgumentParser, int_list, str_list
from asr2emo.utils.devices import add_device_args, setup_device
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path
from asr2emo.utils.logging import setup_logging
from asr2emo.utils.markers import config_of, make_record, needs_run, write_marker


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("bottleneck_dir", type=Path, help="stage 7 output: <layer>/cuts.jsonl.gz")
    p.add_argument("out_dir", type=Path, help="output directory, e.g. exp/dimensional")
    p.add_argument("--layers", type=str_list, default=[], help="empty: every finished layer")
    p.add_argument("--systems", type=str_list, default=list(SYSTEMS), help=",".join(SYSTEMS))
    p.add_argument("--loss", choices=["ccc", "mse"], default="ccc")
    d = RegConfig()
    p.add_argument("--hidden-dims", type=int_list, default=[], help="empty: linear head")
    p.add_argument("--dropout", type=float, default=d.dropout)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--batch-utts", type=int, default=d.batch_utts, help="utterances per batch")
    p.add_argument("--max-epochs", type=int, default=d.max_epochs)
    p.add_argument("--patience", type=int, default=d.patience)
    p.add_argument("--ridge-alpha", type=float, default=d.ridge_alpha)
    p.add_argument(
        "--emotion-config", default="", help="stage 8's conf: the folds' --seed and --classes"
    )
    p.add_argument(
        "--emotion-dir", type=Path, default=None, help="stage 8 outputs, to check the folds"
    )
    p.add_argument(
        "--feature-cache",
        type=Path,
        default=None,
        help="eGeMAPS cache dir (e.g. exp/baselines/features); default <out-dir>/features",
    )
    add_frame_dtype_arg(p)
    add_device_args(p)
    return p


def main(args: argparse.Namespace) -> int:
    setup_logging(args.out_dir / "log" / "train_dimensional.log")
    device = setup_device(args)
    for s in args.systems:
        if s not in SYSTEMS:
            raise UserError(f"unknown system '{s}'; valid: {', '.join(SYSTEMS)}")
    emotion = read_emotion_conf(args.emotion_config)
    seed, classes = emotion.head.seed, emotion.classes
    cfg = RegConfig(
        hidden_dims=list(args.hidden_dims),
        dropout=args.dropout,
        lr=args.lr,
        weight_decay=args.weight_decay,
        batch_utts=args.batch_utts,
        max_epochs=args.max_epochs,
        patience=args.patience,
        loss=args.loss,
        ridge_alpha=args.ridge_alpha,
        seed=seed,
    )
    stage8 = read_stage8_test_ids(args.emotion_dir)
    stage8_val = read_stage8_val_speakers(args.emotion_dir)
    for layer in find_layers(args.bottleneck_dir, args.layers):
        layer_dir = args.out_dir / layer
        settings = config_of(args, exclude=("bottleneck_dir", "out_dir", "layers", "feature_cache"))
        record = make_record(
            "train-dimensional",
            dict(settings, layer=layer),
            {"bottleneck": args.bottleneck_dir / layer},
        )
        if not needs_run(layer_dir, record, f"{layer} dimensional regression ({layer_dir})"):
            continue
        t0 = time.time()
        data = load_dimensional(
            args.bottleneck_dir / layer / "cuts.jsonl.gz", classes or None, dtype=args.frame_dtype
        )
        folds = make_folds(data.frames.sessions, data.frames.speakers, seed)
        checked = check_against_stage8(
            fold_test_ids(folds, data.frames.ids),
            stage8,
            {f.fold: f.val_speaker for f in folds},
            stage8_val,
        )
        logging.info(
            "%s: %d utterances, %d folds%s",
            layer,
            data.frames.num_utts,
            len(folds),
            f" (identical to stage 8: {', '.join(checked)})" if checked else "",
        )
        egemaps = None
        if "egemaps_ridge" in args.systems:
            cache = args.feature_cache or args.out_dir / "features"
            egemaps = compute_features(audio_table(data), ["egemaps"], cache)["egemaps"]
        metrics, records = cross_validate_dimensional(
            data, folds, cfg, args.systems, egemaps, device
        )
        metrics = {"layer": layer, "loss": cfg.loss, **metrics, "config": asdict(cfg)}
        layer_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(layer_dir / "predictions.jsonl") as tmp:
            tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
        with atomic_path(layer_dir / "metrics.json") as tmp:
            tmp.write_text(json.dumps(metrics, indent=2) + "\n")
        with atomic_path(layer_dir / "table.md") as tmp:
            tmp.write_text(f"# Dimensional emotion ({layer})\n\n" + table_markdown(metrics))
        write_marker(layer_dir, record)
        logging.info("%s: wrote %s in %.1f s", layer, layer_dir / "table.md", time.time() - t0)
    return 0
