"""Stage 8's folds for the baselines, checked against stage 8's own predictions.

The folds come from the very function stage 8 calls (:func:`asr2emo.emotion.folds.make_folds`)
on the same utterances, sessions, speakers and seed. When ``<emotion-dir>/<layer>/fold-*/
predictions.jsonl`` exist, the test utterance ids of every fold must equal ours exactly: a
difference (other seed, other classes, other manifests) is an error, never a silent mismatch.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Dict, List, Optional, Set

from asr2emo.baselines.utterances import UttTable
from asr2emo.emotion.folds import Fold, make_folds
from asr2emo.utils.errors import UserError

FoldIds = Dict[int, Set[str]]


def stage8_folds(table: UttTable, seed: int) -> List[Fold]:
    """Leave-one-session-out folds exactly as stage 8 builds them (indices into ``table``)."""
    return make_folds(table.sessions, table.speakers, seed)


def fold_test_ids(folds: List[Fold], ids: List[str]) -> FoldIds:
    """``{fold: set of test utterance ids}``."""
    return {f.fold: {ids[i] for i in f.test.tolist()} for f in folds}


def read_stage8_test_ids(emotion_dir: Optional[Path]) -> Dict[str, FoldIds]:
    """``{layer: {fold: test ids}}`` from every ``<layer>/fold-<k>/predictions.jsonl`` found."""
    out: Dict[str, FoldIds] = {}
    if emotion_dir is None or not Path(emotion_dir).is_dir():
        return out
    for layer_dir in sorted(p for p in Path(emotion_dir).iterdir() if p.is_dir()):
        folds: FoldIds = {}
        for pred in sorted(layer_dir.glob("fold-*/predictions.jsonl")):
            k = int(pred.parent.name.split("-", 1)[1])
            lines = [ln for ln in pred.read_text().splitlines() if ln.strip()]
            folds[k] = {json.loads(ln)["id"] for ln in lines}
        if folds:
            out[layer_dir.name] = folds
    return out


def read_stage8_val_speakers(emotion_dir: Optional[Path]) -> Dict[str, Dict[int, str]]:
    """``{layer: {fold: validation speaker}}`` from ``<layer>/fold-<k>/history.json``."""
    out: Dict[str, Dict[int, str]] = {}
    if emotion_dir is None or not Path(emotion_dir).is_dir():
        return out
    for hist in sorted(Path(emotion_dir).glob("*/fold-*/history.json")):
        val = json.loads(hist.read_text()).get("val_speaker")
        if val is not None:
            k = int(hist.parent.name.split("-", 1)[1])
            out.setdefault(hist.parent.parent.name, {})[k] = str(val)
    return out


def stage8_seed(emotion_dir: Optional[Path]) -> Dict[str, int]:
    """``{layer: seed}`` recorded in stage 8's ``<layer>/metrics.json`` (``config.seed``)."""
    out: Dict[str, int] = {}
    if emotion_dir is None or not Path(emotion_dir).is_dir():
        return out
    for m in sorted(Path(emotion_dir).glob("*/metrics.json")):
        seed = json.loads(m.read_text()).get("config", {}).get("seed")
        if seed is not None:
            out[m.parent.name] = int(seed)
    return out


def restrict_to_stage8(table: UttTable, stage8: Dict[str, FoldIds]) -> UttTable:
    """Keep only the utterances stage 8 scored (it skips cuts without features, e.g. too short).

    Raises if stage 8 scored an utterance the manifests do not have (other corpus or classes).
    """
    if not stage8:
        return table
    layer = sorted(stage8)[0]
    universe = set().union(*stage8[layer].values())
    unknown = universe - set(table.ids)
    if unknown:
        raise UserError(
            f"stage 8 ({layer}) scored {len(unknown)} utterance(s) not among the labelled "
            f"manifest utterances, e.g. {sorted(unknown)[:3]}; other manifests or --classes?"
        )
    dropped = [u for u in table.ids if u not in universe]
    if dropped:
        logging.warning(
            "%d labelled utterance(s) have no stage-8 prediction (skipped there) and are left "
            "out here too: %s",
            len(dropped),
            " ".join(dropped[:20]) + (" ..." if len(dropped) > 20 else ""),
        )
    return table.subset(universe)


def check_against_stage8(
    ours: FoldIds,
    stage8: Dict[str, FoldIds],
    ours_val: Optional[Dict[int, str]] = None,
    stage8_val: Optional[Dict[str, Dict[int, str]]] = None,
) -> List[str]:
    """Raise :class:`UserError` unless every stage-8 layer has exactly our test ids per fold
    (and, when both are given, our validation speaker per fold).

    Returns the layers checked.
    """
    for layer, vals in sorted((stage8_val or {}).items()):
        for k, spk in sorted(vals.items()):
            if ours_val is not None and ours_val.get(k) != spk:
                raise UserError(
                    f"fold {k}: stage 8 ({layer}) held out validation speaker {spk}, "
                    f"ours is {ours_val.get(k)} (other seed or utterances?)"
                )
    for layer, theirs in sorted(stage8.items()):
        if sorted(theirs) != sorted(ours):
            raise UserError(
                f"folds differ from stage 8 ({layer}): stage 8 has folds {sorted(theirs)}, "
                f"ours are {sorted(ours)}"
            )
        for k in sorted(ours):
            if ours[k] != theirs[k]:
                only_ours = sorted(ours[k] - theirs[k])
                only_theirs = sorted(theirs[k] - ours[k])
                raise UserError(
                    f"fold {k} differs from stage 8 ({layer}): {len(only_ours)} test utterance(s) "
                    f"only here (e.g. {only_ours[:3]}), {len(only_theirs)} only in stage 8 "
                    f"(e.g. {only_theirs[:3]})"
                )
    return sorted(stage8)
