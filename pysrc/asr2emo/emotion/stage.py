"""Stage 8 as one library call: cross-validate the head on every layer, then the deployable model.

:func:`train_emotion` is what ``asr2emo train-emotion`` runs (its outputs and ``metrics.json``
schema are in that verb's docstring); the layer discovery and the model dir's sources are here
so that the other verbs reading stage 8's layers (train-dimensional) use the same rules.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Optional

from asr2emo.emotion.data import load_frames
from asr2emo.emotion.export import write_model_dir
from asr2emo.emotion.settings import head_config
from asr2emo.emotion.train import (
    cross_validate,
    cv_record,
    final_epochs,
    train_final,
    validation_ua,
)
from asr2emo.utils.errors import UserError
from asr2emo.utils.markers import make_record, needs_run, read_marker, write_marker


def find_layers(bottleneck_dir: Path, layers: list[str]) -> list[str]:
    """The requested layers (each must be finished) or every finished layer dir, sorted."""
    if not bottleneck_dir.is_dir():
        raise UserError(f"bottleneck dir '{bottleneck_dir}' does not exist (run stage 7)")
    if not layers:
        layers = sorted(
            d.name
            for d in bottleneck_dir.iterdir()
            if d.is_dir() and read_marker(d) is not None and (d / "cuts.jsonl.gz").is_file()
        )
        if not layers:
            raise UserError(
                f"no finished layer dir (<layer>/cuts.jsonl.gz + .done) in '{bottleneck_dir}'"
            )
    for layer in layers:
        d = bottleneck_dir / layer
        if read_marker(d) is None or not (d / "cuts.jsonl.gz").is_file():
            raise UserError(
                f"layer '{layer}' is not extracted: "
                f"no {bottleneck_dir / layer}/cuts.jsonl.gz with .done"
            )
    return layers


def _from_meta(bottleneck_dir: Path, keys: tuple[str, ...]) -> Optional[Path]:
    for f in sorted(bottleneck_dir.glob("*.json")):
        try:
            meta = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict):
            for k in keys:
                if isinstance(meta.get(k), str):
                    return Path(meta[k])
    return None


def resolve_sources(args) -> tuple[Optional[Path], Optional[Path]]:
    """Acoustic model and i-vector extractor dirs to copy into the model dir."""
    bdir = args.bottleneck_dir
    acoustic = args.acoustic_model_dir or _from_meta(bdir, ("model_dir", "acoustic_model_dir"))
    if acoustic is not None and acoustic.is_file():
        acoustic = acoustic.parent
    acoustic = acoustic or bdir.parent / "tdnnf"
    ivector = args.ivector_dir or _from_meta(bdir, ("ivector_dir", "ivector_extractor_dir"))
    ivector = ivector or bdir.parent / "ivector"
    return (acoustic if acoustic.is_dir() else None), (ivector if ivector.is_dir() else None)


def choose_layer(layers: list[str], emotion_dir: Path) -> str:
    """The layer with the best validation UA (ties: the first listed).

    Choosing by the CV UA would select on the test folds and report an optimistic figure.
    """
    scores = {name: validation_ua(emotion_dir / name) for name in layers}
    missing = [name for name, v in scores.items() if v is None]
    if missing:
        raise UserError(
            f"no validation UA for layer(s) {', '.join(missing)} (no validation speaker in the "
            "training sessions); set --model-layer"
        )
    layer = max(layers, key=lambda name: scores[name])
    logging.info(
        "deployable layer %s by validation UA (%s)",
        layer,
        ", ".join(f"{name} {scores[name]:.4f}" for name in layers),
    )
    return layer


def train_emotion(args: argparse.Namespace) -> int:
    """Stage 8 from the options of :func:`asr2emo.emotion.settings.add_emotion_args` and the
    bottleneck and emotion dirs; 0 when done (finished work is not redone)."""
    cfg = head_config(args)
    layers = find_layers(args.bottleneck_dir, args.layers)
    classes = args.classes or None
    results = {}
    shaping = {"classes": list(args.classes), "frame_dtype": args.frame_dtype}
    for layer in layers:
        layer_dir = args.emotion_dir / layer
        record = cv_record(cfg, {"bottleneck": args.bottleneck_dir / layer}, **shaping)
        if not needs_run(layer_dir, record, f"{layer} cross-validation ({layer_dir})"):
            results[layer] = json.loads((layer_dir / "metrics.json").read_text())
            continue
        logging.info("%s: loading %s", layer, args.bottleneck_dir / layer / "cuts.jsonl.gz")
        data = load_frames(
            args.bottleneck_dir / layer / "cuts.jsonl.gz", classes, dtype=args.frame_dtype
        )
        logging.info(
            "%s: %d utterances, %d frames of dim %d, classes %s",
            layer,
            data.num_utts,
            int(data.offsets[-1]),
            data.dim,
            data.classes,
        )
        results[layer] = cross_validate(data, layer, layer_dir, cfg, args.device, record)

    model_dir = args.emotion_dir / "model"
    acoustic, ivector = resolve_sources(args)
    sources = {f"cv_{name}": args.emotion_dir / name for name in layers}
    sources.update({k: v for k, v in (("acoustic", acoustic), ("ivector", ivector)) if v})
    model_record = make_record(
        "train-emotion-model", dict(shaping, model_layer=args.model_layer), sources
    )
    if not needs_run(model_dir, model_record, f"deployable model {model_dir}"):
        return 0
    layer = args.model_layer or choose_layer(layers, args.emotion_dir)
    if layer not in results:
        raise UserError(f"--model-layer '{layer}' is not among the evaluated layers {layers}")
    epochs = final_epochs(results[layer]["best_epochs"])
    logging.info("deployable head: layer %s, %d epochs on all data", layer, epochs)
    data = load_frames(
        args.bottleneck_dir / layer / "cuts.jsonl.gz", classes, dtype=args.frame_dtype
    )
    head = train_final(data, cfg, epochs, args.device)
    write_model_dir(
        model_dir,
        head,
        data.classes,
        layer,
        {
            "epochs": epochs,
            "head_config": results[layer]["config"],
            "cv": {
                "ua": results[layer]["ua"],
                "wa": results[layer]["wa"],
                "ua_fold_mean": results[layer]["ua_fold_mean"],
            },
            "frame_shift": 0.03,
        },
        acoustic,
        ivector,
        args.bottleneck_dir,
    )
    write_marker(model_dir, model_record)
    logging.info("wrote %s", model_dir)
    return 0
