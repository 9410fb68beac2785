"""Bottleneck cuts -> one flat frame matrix with the utterance, speaker, session and label of each.

Input: a lhotse CutSet whose cuts carry a custom ``TemporalArray`` ``bottleneck`` (T, D) and one
supervision with ``speaker`` and ``custom["emotion"]`` / ``custom["session"]`` (stage 7's
contract). Frames of all utterances are concatenated once so training and scoring are
vectorized; ``offsets[i]:offsets[i+1]`` are the rows of utterance ``i``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from lhotse import CutSet

from asr2emo.utils.errors import UserError

ARRAY_KEY = "bottleneck"


@dataclass
class FrameData:
    """All frames of a corpus, utterance-major."""

    feats: torch.Tensor  # (N, D) float32 (or float16 to save memory)
    offsets: np.ndarray  # (U + 1,) row offsets of each utterance
    ids: List[str]
    speakers: List[str]
    sessions: np.ndarray  # (U,) int
    labels: np.ndarray  # (U,) int class ids
    classes: List[str]
    skipped: Dict[str, int] = field(default_factory=dict)

    @property
    def num_utts(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.feats.shape[1])

    def num_frames(self) -> np.ndarray:
        return np.diff(self.offsets)

    def frame_rows(self, utts: np.ndarray) -> np.ndarray:
        """Row indices of all frames of the utterances ``utts`` (in that order)."""
        utts = np.asarray(utts, dtype=np.int64)
        starts, lens = self.offsets[utts], np.diff(self.offsets)[utts]
        if lens.sum() == 0:
            return np.zeros(0, dtype=np.int64)
        base = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
        return base + np.arange(lens.sum())

    def frame_utt_index(self, utts: np.ndarray) -> np.ndarray:
        """For the rows of :meth:`frame_rows`, the position (0..len(utts)-1) of their utterance."""
        lens = np.diff(self.offsets)[np.asarray(utts, dtype=np.int64)]
        return np.repeat(np.arange(len(lens)), lens)


def load_frames(
    cuts: CutSet | str | Path,
    classes: Optional[Sequence[str]] = None,
    key: str = ARRAY_KEY,
    dtype: str = "float32",
) -> FrameData:
    """Load every cut's bottleneck array and labels.

    ``dtype="float16"`` halves the memory of the frame matrix (IEMOCAP at paper scale: about
    0.7 M frames x 1024 dims = 2.9 GB in float32); computations are still done in float32.

    ``classes`` restricts and orders the label set; utterances with another label, without
    frames, or without the array are skipped and counted (logged, never silently dropped).
    Without ``classes`` the sorted set of labels found is used.
    """
    if not isinstance(cuts, CutSet):
        path = Path(cuts)
        if not path.is_file():
            raise UserError(f"bottleneck cuts '{path}' do not exist")
        cuts = CutSet.from_file(path)
    rows: List[np.ndarray] = []
    ids, speakers, sessions, labels = [], [], [], []
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
        if not cut.has_custom(key):
            skipped[f"no {key} array"] = skipped.get(f"no {key} array", 0) + 1
            continue
        arr = np.asarray(cut.load_custom(key), dtype=dtype)
        if arr.ndim != 2 or arr.shape[0] == 0:
            skipped["no frames"] = skipped.get("no frames", 0) + 1
            continue
        rows.append(arr)
        ids.append(cut.id)
        speakers.append(str(sup.speaker))
        sessions.append(int(custom["session"]))
        labels.append(label)
    for reason, n in sorted(skipped.items()):
        logging.warning("skipped %d utterance(s): %s", n, reason)
    if not rows:
        raise UserError("no utterance with a bottleneck array and a usable label")
    dims = {r.shape[1] for r in rows}
    if len(dims) != 1:
        raise UserError(f"bottleneck arrays have different dimensions {sorted(dims)}")
    class_list = list(classes) if classes is not None else sorted(set(labels))
    cid = {c: i for i, c in enumerate(class_list)}
    offsets = np.concatenate([[0], np.cumsum([r.shape[0] for r in rows])]).astype(np.int64)
    return FrameData(
        feats=torch.from_numpy(np.concatenate(rows, axis=0)),
        offsets=offsets,
        ids=ids,
        speakers=speakers,
        sessions=np.asarray(sessions, dtype=np.int64),
        labels=np.asarray([cid[lab] for lab in labels], dtype=np.int64),
        classes=class_list,
        skipped=skipped,
    )
