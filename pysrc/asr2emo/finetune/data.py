"""Per-utterance network inputs (hires MFCC + online i-vectors) and labels from stage-6 cuts.

The utterances kept and their order are those of :func:`asr2emo.emotion.data.load_frames` on
the bottleneck cuts of the same cut set (same classes, same skips), so
:func:`asr2emo.emotion.folds.make_folds` gives stage 8's folds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
from lhotse import CutSet

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
    if not isinstance(cuts, CutSet):
        if not Path(cuts).is_file():
            raise UserError(f"cuts '{cuts}' do not exist (run stage 6)")
        cuts = CutSet.from_file(cuts)
    feats, ivecs, ids, speakers, sessions, labels = [], [], [], [], [], []
    skipped: Dict[str, int] = {}
    for cut in cuts:
        if not cut.supervisions:
            skipped["no supervision"] = skipped.get("no supervision", 0) + 1
            continue
        sup = cut.supervisions[0]
        custom = sup.custom or {}
        if "emotion" not in custom or "session" not in custom:
            raise UserError(f"cut {cut.id}: supervision custom lacks 'emotion'/'session'")
        label = str(custom["emotion"])
        if classes is not None and label not in classes:
            skipped[f"label {label}"] = skipped.get(f"label {label}", 0) + 1
            continue
        if not cut.has_features:
            raise UserError(f"cut {cut.id} has no features; run the MFCC stage first")
        f = np.asarray(cut.load_features(), dtype=np.float32)
        if f.shape[0] == 0:
            skipped["no frames"] = skipped.get("no frames", 0) + 1
            continue
        feats.append(f)
        ivecs.append(
            load_ivectors(cut, f.shape[0], config.ivector_dim, config.ivector_period, True)
        )
        ids.append(cut.id)
        speakers.append(str(sup.speaker))
        sessions.append(int(custom["session"]))
        labels.append(label)
    for reason, n in sorted(skipped.items()):
        logging.warning("skipped %d utterance(s): %s", n, reason)
    if not ids:
        raise UserError("no utterance with features and a usable label")
    class_list = list(classes) if classes is not None else sorted(set(labels))
    cid = {c: i for i, c in enumerate(class_list)}
    return UttInputs(
        feats=feats,
        ivectors=ivecs,
        ids=ids,
        speakers=speakers,
        sessions=np.asarray(sessions, dtype=np.int64),
        labels=np.asarray([cid[lab] for lab in labels], dtype=np.int64),
        classes=class_list,
    )
