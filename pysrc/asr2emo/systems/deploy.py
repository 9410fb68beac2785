"""The system to deploy: the per-fold choice made once more with every session as the pool.

No test fold exists here: the inner leave-one-session-out runs over all sessions (the same
splits, validation speakers and seeds as stage 8's folds), the choice rule of
:func:`asr2emo.systems.run.run_fold` picks the members and their class and fusion weights, and
the members are trained on every session but one validation speaker (early stopping), drawn
as stage 8 draws one (:func:`asr2emo.emotion.folds.make_folds`). Its expected UA is the
cross-validated figure of the rule itself (the ``selected`` row), not of these members.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Dict, Mapping, Sequence, Tuple

import numpy as np

from asr2emo.emotion.folds import Fold
from asr2emo.systems.export import base_systems, ensemble_posteriors, write_systems_model
from asr2emo.systems.run import SystemInputs, SystemsConfig, fit_members, run_fold
from asr2emo.utils.errors import UserError

DEPLOY_FOLD = 0  # the pseudo-fold's id (stage 8's folds are numbered by session, from 1)


def deploy_fold(speakers: Sequence[str], seed: int, min_val_utts: int = 10) -> Fold:
    """Every utterance in the pool: one validation speaker, drawn with stage 8's rule (among
    the speakers with at least ``min_val_utts`` utterances, ``random.Random(seed * 1000 +
    fold)``), the rest train, no test utterance."""
    spk = np.asarray(speakers)
    counts = Counter(spk.tolist())
    names = sorted(counts)
    if len(names) < 2:
        raise UserError(f"the deploy system needs at least 2 speakers, found {names}")
    eligible = [s for s in names if counts[s] >= min_val_utts] or names
    val_speaker = random.Random(seed * 1000 + DEPLOY_FOLD).choice(eligible)
    val = np.flatnonzero(spk == val_speaker)
    train = np.flatnonzero(spk != val_speaker)
    return Fold(DEPLOY_FOLD, DEPLOY_FOLD, val_speaker, train, val, np.zeros(0, dtype=np.int64))


def deploy_system(inp: SystemInputs, cfg: SystemsConfig, seed: int) -> Dict[str, Dict]:
    """:func:`run_fold` on :func:`deploy_fold`: every candidate trained on all sessions, the
    ``selected`` row's ``info["members"]`` the system to deploy (val scores only)."""
    return run_fold(deploy_fold(inp.data.speakers, seed), inp, None, cfg, seed)


def most_agreed(chosen: Mapping[int, str]) -> Tuple[str, int]:
    """The per-fold choice most folds agree on (ties: the earliest fold's) and its count; the
    deploy choice when the all-session run is missing."""
    counts = Counter(chosen.values())
    top = max(counts.values())
    return next(c for _, c in sorted(chosen.items()) if counts[c] == top), top


def export_deploy(
    inp: SystemInputs,
    cfg: SystemsConfig,
    seed: int,
    deploy: Mapping[str, Dict],
    settings: Dict,
    stage8_model_dir: Path,
    model_dir: Path,
) -> float:
    """Retrain the deploy system's members on :func:`deploy_fold` (the same seeds as
    :func:`deploy_system`, so the same models) and write them as a model dir
    (:func:`asr2emo.systems.export.write_systems_model`). Returns the largest difference between
    the exported ensemble's validation posteriors and those of ``deploy`` (its scores.json, 1e-6
    rounding): a check that the export is the system that was chosen."""
    fold = deploy_fold(inp.data.speakers, seed)
    info = deploy["selected"]["info"]
    ensemble = list(info["members"])
    weights = {n: deploy[n]["info"]["weight"] for n in ensemble if "+" in n}
    balance = {n: info["class_weights"][n] for n in base_systems(ensemble)}
    fitted = fit_members(inp, fold.train, fold.val, cfg, seed, fold.fold, balance)
    members = {n: m for n, (m, _) in fitted.items()}
    post = ensemble_posteriors(members, ensemble, weights, inp, fold.val)
    diff = float(np.abs(post - np.asarray(deploy["selected"]["val"]["posteriors"])).max())
    write_systems_model(model_dir, members, ensemble, weights, settings, stage8_model_dir)
    return diff
