"""Reading training features and speakers from cuts, with bad cuts skipped and listed."""

from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np
from lhotse import CutSet
from tqdm import tqdm


def speaker_of(cut) -> str:
    """The supervision's speaker, else the recording id (one speaker per recording)."""
    sups = getattr(cut, "supervisions", None) or []
    if sups and sups[0].speaker:
        return str(sups[0].speaker)
    return str(cut.recording_id)


class CutFeatures(Sequence):
    """The features of checked cuts, read from storage on each access: the T-matrix passes read
    every training cut once per iteration (as Kaldi's do), so nothing grows with the corpus but
    the cut list. ``num_frames`` lets the UBM's frame sampling count without reading."""

    def __init__(self, cuts: List, num_frames: List[int]) -> None:
        self.cuts, self.num_frames = cuts, num_frames

    def __len__(self) -> int:
        return len(self.cuts)

    def __getitem__(self, i):  # type: ignore[override]
        return self.cuts[i].load_features()


def load_training_features(
    cuts: CutSet, min_frames: int
) -> Tuple[CutFeatures, List[str], List[str], List[Tuple[str, str]]]:
    """``(feats, speakers, cut_ids, skipped)``; skipped are ``(cut_id, reason)``. Every cut is
    read once here to check it; ``feats`` reads the usable ones again when indexed."""
    kept, lengths, speakers, ids, skipped = [], [], [], [], []
    for cut in tqdm(cuts, desc="checking features"):
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
        kept.append(cut)
        lengths.append(int(f.shape[0]))
        speakers.append(speaker_of(cut))
        ids.append(cut.id)
    return CutFeatures(kept, lengths), speakers, ids, skipped
