"""Reading training features and speakers from cuts, with bad cuts skipped and listed."""

from __future__ import annotations

from typing import List, Tuple

import numpy as np
from lhotse import CutSet
from tqdm import tqdm


def speaker_of(cut) -> str:
    """The supervision's speaker, else the recording id (one speaker per recording)."""
    sups = getattr(cut, "supervisions", None) or []
    if sups and sups[0].speaker:
        return str(sups[0].speaker)
    return str(cut.recording_id)


def load_training_features(
    cuts: CutSet, min_frames: int
) -> Tuple[List[np.ndarray], List[str], List[str], List[Tuple[str, str]]]:
    """``(feats, speakers, cut_ids, skipped)``; skipped are ``(cut_id, reason)``."""
    feats, speakers, ids, skipped = [], [], [], []
    for cut in tqdm(cuts, desc="loading features"):
        try:
            f = cut.load_features()
        except Exception as e:  # per-cut problem: skip and list
            skipped.append((cut.id, f"unreadable features: {type(e).__name__}"))
            continue
        if f is None or f.shape[0] < min_frames:
            n = 0 if f is None else f.shape[0]
            skipped.append((cut.id, f"{n} frames < --min-frames={min_frames}"))
            continue
        if not np.isfinite(f).all():
            skipped.append((cut.id, "non-finite features"))
            continue
        feats.append(f)
        speakers.append(speaker_of(cut))
        ids.append(cut.id)
    return feats, speakers, ids, skipped
