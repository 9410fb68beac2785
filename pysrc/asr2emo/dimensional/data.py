"""Bottleneck frames (stage 8's loader) plus the evaluators' valence/arousal/dominance targets.

The utterances and their order are exactly :func:`asr2emo.emotion.data.load_frames`' (same
classes), so :func:`asr2emo.emotion.folds.make_folds` gives stage 8's folds. The targets come
from ``supervision.custom`` (``valence``, ``arousal``, ``dominance``; IEMOCAP scale 1-5).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
from lhotse import CutSet

from asr2emo.emotion.data import FrameData, load_frames
from asr2emo.utils.errors import UserError

DIMENSIONS = ("valence", "arousal", "dominance")


@dataclass
class DimData:
    frames: FrameData
    targets: np.ndarray  # (U, 3) float64, rows in frames.ids order
    cuts: CutSet  # the cuts of frames.ids (for audio of the eGeMAPS baseline)


def load_dimensional(
    cuts: CutSet | str | Path, classes: Optional[Sequence[str]] = None, dtype: str = "float32"
) -> DimData:
    """Frames of every usable cut and its (valence, arousal, dominance).

    Raises :class:`UserError` naming the first utterances without numeric values (a folder
    corpus has none: dimensional labels are IEMOCAP's evaluator ratings).
    """
    if not isinstance(cuts, CutSet):
        path = Path(cuts)
        if not path.is_file():
            raise UserError(f"bottleneck cuts '{path}' do not exist")
        cuts = CutSet.from_file(path)
    frames = load_frames(cuts, classes, dtype=dtype)
    keep = set(frames.ids)
    by_id = {c.id: c for c in cuts if c.id in keep}
    rows: List[List[float]] = []
    missing: List[str] = []
    for u in frames.ids:
        custom = by_id[u].supervisions[0].custom or {}
        vals = [custom.get(d) for d in DIMENSIONS]
        if any(not isinstance(v, (int, float)) or not np.isfinite(v) for v in vals):
            missing.append(u)
            continue
        rows.append([float(v) for v in vals])
    if missing:
        raise UserError(
            f"{len(missing)} utterance(s) lack numeric valence/arousal/dominance in "
            f"supervision custom (e.g. {missing[:3]}); dimensional labels need IEMOCAP-style "
            "evaluator ratings"
        )
    return DimData(
        frames=frames,
        targets=np.asarray(rows, dtype=np.float64),
        cuts=CutSet.from_cuts(by_id[u] for u in frames.ids),
    )


def audio_table(data: DimData):
    """The utterances as a :class:`asr2emo.baselines.utterances.UttTable` (audio of the cuts'
    recordings), for the eGeMAPS features of the baseline and their shared cache."""
    from asr2emo.baselines.utterances import UttTable

    fd = data.frames
    sups, recs = [], {}
    for cut in data.cuts:
        if getattr(cut, "recording", None) is None:
            raise UserError(
                f"cut {cut.id} has no recording: the eGeMAPS baseline needs audio "
                "(leave egemaps_ridge out of --systems)"
            )
        recs[cut.recording.id] = cut.recording
        sup = cut.supervisions[0]
        sups.append(sup.with_offset(cut.start) if cut.start else sup)
    return UttTable(
        ids=list(fd.ids),
        speakers=list(fd.speakers),
        sessions=fd.sessions,
        labels=fd.labels,
        classes=fd.classes,
        supervisions=sups,
        recordings=recs,
    )
