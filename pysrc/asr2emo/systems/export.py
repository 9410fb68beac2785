"""The deploy system as a model directory that ``asr2emo predict`` reads.

Layout of ``<exp>/systems/deploy/model/`` (self-contained: files are copied)::

    config.json   kind "emotion-systems", the ensemble (system names, fusion weights), classes,
                  the paper layer and the mixed layers, the frame dtype, relative paths
    systems.pt    the trained members (:class:`asr2emo.systems.members.Member`: heads, SVM
                  pipelines, layer mixtures, block standardization), pickled by torch.save
    acoustic/, ivector/   copied from stage 8's model dir (the front end of every member)

The ensemble's posteriors are the mean over its systems; a system ``x+egemaps`` is the
log-linear fusion of ``x`` and ``egemaps`` with its weight (:func:`asr2emo.systems.fusion.fuse`),
as in the cross-validation.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Dict, List, Mapping

import numpy as np
import torch

from asr2emo.systems.fusion import Scores, fuse
from asr2emo.systems.members import Member, SystemInputs, member_posteriors
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path

KIND = "emotion-systems"


def base_systems(ensemble: List[str]) -> List[str]:
    """The base systems an ensemble needs (``x+egemaps`` needs ``x`` and ``egemaps``)."""
    out: List[str] = []
    for name in ensemble:
        for part in name.split("+"):
            if part not in out:
                out.append(part)
    return out


def ensemble_posteriors(
    members: Mapping[str, Member],
    ensemble: List[str],
    weights: Mapping[str, float],
    inp: SystemInputs,
    utts: np.ndarray,
) -> np.ndarray:
    """The equal-weight mean over ``ensemble`` of each system's posteriors on ``utts``."""
    ids = [str(u) for u in np.asarray(utts).tolist()]
    base = {n: Scores(ids, member_posteriors(members[n], inp, utts)) for n in
            base_systems(ensemble)}  # fmt: skip
    each = [fuse(base[n.split("+")[0]], base["egemaps"], weights[n]) if "+" in n else base[n]
            for n in ensemble]  # fmt: skip
    return np.mean([s.posteriors for s in each], axis=0)


def is_systems_export(model_dir: Path) -> bool:
    f = Path(model_dir) / "config.json"
    return f.is_file() and json.loads(f.read_text()).get("kind") == KIND


def write_systems_model(
    model_dir: Path,
    members: Mapping[str, Member],
    ensemble: List[str],
    weights: Mapping[str, float],
    settings: Dict,
    stage8_model_dir: Path,
) -> Dict:
    """Write the directory atomically; ``settings``: classes, paper_layer, layers,
    paper_index, frame_dtype. Returns its ``config.json``."""
    conf = Path(stage8_model_dir) / "config.json"
    if not conf.is_file():
        raise UserError(f"'{stage8_model_dir}' is not stage 8's model dir (no config.json)")
    stage8 = json.loads(conf.read_text())
    if not stage8.get("acoustic_model_dir") or not stage8.get("ivector_dir"):
        raise UserError(f"'{stage8_model_dir}' holds no acoustic model or i-vector extractor")
    info = {
        "kind": KIND,
        "ensemble": list(ensemble),
        "fusion_weights": {n: float(weights[n]) for n in ensemble if "+" in n},
        **settings,
        "systems": "systems.pt",
        "acoustic_model_dir": "acoustic",
        "ivector_dir": "ivector",
        "sources": {"stage8_model_dir": str(stage8_model_dir)},
    }
    with atomic_path(Path(model_dir)) as tmp:
        tmp.mkdir(parents=True)
        torch.save({n: members[n] for n in base_systems(ensemble)}, tmp / "systems.pt")
        for key in ("acoustic_model_dir", "ivector_dir"):
            shutil.copytree(Path(stage8_model_dir) / stage8[key], tmp / info[key])
        (tmp / "config.json").write_text(json.dumps(info, indent=2) + "\n")
    return info
