"""Per-utterance network inputs (hires MFCC + online i-vectors) and labels from stage-6 cuts.

The utterances kept and their order are those of :func:`asr2emo.emotion.data.load_frames` on
the bottleneck cuts of the same cut set (same classes, same skips), so
:func:`asr2emo.emotion.folds.make_folds` gives stage 8's folds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
from lhotse import CutSet

from asr2emo.emotion.data import KeptUtts, SkipCounts, iter_labelled_cuts, open_cuts
from asr2emo.model.dataset import load_ivectors
from asr2emo.model.tdnnf import TdnnfConfig
from asr2emo.utils.errors import UserError


@dataclass
class UttInputs:
    feats: List[np.ndarray]  # (T, feat_dim) raw MFCC
    ivectors: List[np.ndarray]  # (T_iv, ivector_dim)
    ids: List[str]
    speakers: List[str]
    sessions: np.ndarray
    labels: np.ndarray
    classes: List[str]


def load_inputs(
    cuts: CutSet | str | Path, config: TdnnfConfig, classes: Optional[Sequence[str]] = None
) -> UttInputs:
    """Features and i-vectors of every labelled cut (skips counted and logged)."""
    cuts = open_cuts(cuts, "cuts", " (run stage 6)")
    feats: List[np.ndarray] = []
    ivecs: List[np.ndarray] = []
    kept = KeptUtts()
    skipped = SkipCounts()
    for cut, sup, label in iter_labelled_cuts(cuts, classes, skipped):
        if not cut.has_features:
            raise UserError(f"cut {cut.id} has no features; run the MFCC stage first")
        f = np.asarray(cut.load_features(), dtype=np.float32)
        if f.shape[0] == 0:
            skipped.add("no frames")
            continue
        feats.append(f)
        ivecs.append(
            load_ivectors(cut, f.shape[0], config.ivector_dim, config.ivector_period, True)
        )
        kept.add(cut.id, sup, label)
    skipped.log()
    if not kept.ids:
        raise UserError("no utterance with features and a usable label")
    return UttInputs(feats=feats, ivectors=ivecs, **kept.columns(classes))
