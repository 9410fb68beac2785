"""The deployable model directory written by stage 8 and read by ``asr2emo predict``.

Layout of ``<emotion-dir>/model/`` (self-contained: files are copied, not linked)::

    config.json          layer, classes, head/training config, epochs, CV metrics, and the
                         relative paths below
    head.pt              emotion head (standardization statistics are buffers inside)
    standardization.npz  the same mean/std as plain arrays, for inspection
    acoustic/            files of the acoustic model dir (final.pt, its config, CMVN ...;
                         per-epoch checkpoints are not copied)
    ivector/             files of the i-vector extractor dir
    bottleneck/          metadata files found at the top of the bottleneck dir (*.json, *.conf)
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from asr2emo.emotion.head import EmotionHead, save_head
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path

_SKIP = re.compile(r"^(epoch-\d+\.pt|checkpoint.*\.pt|.*\.tmp\d*(\..*)?|\.done|.*\.log)$")


def _copy_top_files(src: Optional[Path], dst: Path, only_meta: bool = False) -> list[str]:
    """Copy the regular files at the top of ``src`` (not sub-directories) into ``dst``."""
    copied: list[str] = []
    if src is None or not src.is_dir():
        return copied
    for f in sorted(src.iterdir()):
        if not f.is_file() or _SKIP.match(f.name):
            continue
        if only_meta and f.suffix not in (".json", ".conf", ".yaml", ".txt"):
            continue
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dst / f.name)
        copied.append(f.name)
    return copied


def write_model_dir(
    model_dir: Path,
    head: EmotionHead,
    classes: list[str],
    layer: str,
    config: Dict,
    acoustic_dir: Optional[Path],
    ivector_dir: Optional[Path],
    bottleneck_dir: Optional[Path],
) -> Dict:
    """Write the whole directory atomically; returns its ``config.json`` content."""
    with atomic_path(model_dir) as tmp:
        tmp.mkdir(parents=True)
        save_head(head, tmp / "head.pt", classes, {"layer": layer})
        np.savez(
            tmp / "standardization.npz",
            mean=head.standardizer.mean.numpy(),
            std=head.standardizer.std.numpy(),
        )
        acoustic = _copy_top_files(acoustic_dir, tmp / "acoustic")
        ivector = _copy_top_files(ivector_dir, tmp / "ivector")
        meta = _copy_top_files(bottleneck_dir, tmp / "bottleneck", only_meta=True)
        if not acoustic:
            logging.warning(
                "no acoustic model files copied from %s: predict will not work", acoustic_dir
            )
        if not ivector:
            logging.warning("no i-vector extractor files copied from %s", ivector_dir)
        info = {
            "layer": layer,
            "classes": classes,
            "aggregation": "sum_softmax",
            "head": "head.pt",
            "standardization": "standardization.npz",
            "acoustic_model_dir": "acoustic" if acoustic else None,
            "acoustic_model_files": acoustic,
            "ivector_dir": "ivector" if ivector else None,
            "ivector_files": ivector,
            "bottleneck_meta_files": meta,
            "sources": {
                "acoustic_model_dir": str(acoustic_dir) if acoustic_dir else None,
                "ivector_dir": str(ivector_dir) if ivector_dir else None,
                "bottleneck_dir": str(bottleneck_dir) if bottleneck_dir else None,
            },
            **config,
        }
        (tmp / "config.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def load_model_dir(model_dir: Path, device: str = "cpu") -> Tuple[Dict, EmotionHead, List, Any]:
    """``(config, head, classes, acoustic model)`` of a stage-8 model dir, checked: a
    config.json, a copied acoustic model with the config's layer, and a head of that layer's
    dimension (each failure one line naming the dir)."""
    from asr2emo.emotion.head import load_head
    from asr2emo.model import load_model

    model_dir = Path(model_dir)
    conf_path = model_dir / "config.json"
    if not conf_path.is_file():
        raise UserError(f"'{model_dir}' is not an emotion model dir (no config.json; run stage 8)")
    config = json.loads(conf_path.read_text())
    if not config.get("acoustic_model_dir"):
        raise UserError(f"'{model_dir}' holds no acoustic model (acoustic/ was not copied)")
    head, classes = load_head(model_dir / config.get("head", "head.pt"))
    acoustic = load_model(model_dir / config["acoustic_model_dir"], device)
    layer = config["layer"]
    acoustic.check_layer(layer)
    if acoustic.layer_dim(layer) != head.config["input_dim"]:
        raise UserError(
            f"'{model_dir}': layer {layer} has dim {acoustic.layer_dim(layer)} "
            f"but the head expects {head.config['input_dim']}"
        )
    return config, head, classes, acoustic
