"""The labelled utterances of a corpus (stage-0 manifests), as stage 8 sees them.

One row per supervision whose ``custom["emotion"]`` is among the classes, with its recording,
speaker and ``custom["session"]`` (the cross-validation group), so the folds can be built by the
same :func:`asr2emo.emotion.folds.make_folds` call as stage 8.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet, load_manifest

from asr2emo.emotion.data import KeptUtts, SkipCounts, emotion_label
from asr2emo.features.make import find_parts
from asr2emo.utils.errors import UserError


@dataclass
class UttTable:
    """Utterances in manifest order with what the folds and the classifiers need."""

    ids: List[str]
    speakers: List[str]
    sessions: np.ndarray  # (U,) int
    labels: np.ndarray  # (U,) class ids
    classes: List[str]
    supervisions: List[SupervisionSegment]
    recordings: Dict[str, Recording]
    skipped: Dict[str, int] = field(default_factory=dict)

    @property
    def num_utts(self) -> int:
        return len(self.ids)

    def subset(self, keep: Sequence[str]) -> "UttTable":
        """The rows whose id is in ``keep`` (manifest order kept)."""
        keep_set = set(keep)
        idx = [i for i, u in enumerate(self.ids) if u in keep_set]
        return UttTable(
            ids=[self.ids[i] for i in idx],
            speakers=[self.speakers[i] for i in idx],
            sessions=self.sessions[idx],
            labels=self.labels[idx],
            classes=self.classes,
            supervisions=[self.supervisions[i] for i in idx],
            recordings=self.recordings,
            skipped=dict(self.skipped),
        )

    def load_audio(self, i: int) -> tuple[np.ndarray, int]:
        """Mono samples in [-1, 1] of utterance ``i`` (its supervision's span, channel 0)."""
        sup = self.supervisions[i]
        rec = self.recordings[sup.recording_id]
        audio = rec.load_audio(offset=sup.start, duration=sup.duration)
        return np.asarray(audio[0], dtype=np.float32), rec.sampling_rate


def table_from_manifests(
    recordings: RecordingSet,
    supervisions: SupervisionSet,
    classes: Optional[Sequence[str]] = None,
) -> UttTable:
    """Rows of the supervisions with a label in ``classes`` (all labels, sorted, when None)."""
    sups: List[SupervisionSegment] = []
    kept = KeptUtts()
    skipped = SkipCounts()
    for sup in supervisions:
        label = emotion_label(sup, classes, skipped, f"supervision {sup.id}: custom")
        if label is None:
            continue
        if sup.recording_id not in recordings:
            raise UserError(f"supervision {sup.id}: recording '{sup.recording_id}' not in manifest")
        sups.append(sup)
        kept.add(sup.id, sup, label)
    skipped.log("left out", logging.INFO)
    if not sups:
        raise UserError("no supervision with a usable emotion label")
    return UttTable(
        supervisions=sups,
        recordings={r.id: r for r in recordings},
        skipped=skipped.counts,
        **kept.columns(classes),
    )


def load_table(
    manifest_dir: Path, corpus: str, classes: Optional[Sequence[str]] = None
) -> UttTable:
    """All parts of ``<manifest_dir>/<corpus>_{recordings,supervisions}_<part>.jsonl.gz``."""
    manifest_dir = Path(manifest_dir)
    if not manifest_dir.is_dir():
        raise UserError(f"manifest dir '{manifest_dir}' does not exist (run stage 0)")
    recs: List[Recording] = []
    sups: List[SupervisionSegment] = []
    for part in find_parts(manifest_dir, corpus):
        recs += list(load_manifest(manifest_dir / f"{corpus}_recordings_{part}.jsonl.gz"))
        sups += list(load_manifest(manifest_dir / f"{corpus}_supervisions_{part}.jsonl.gz"))
    return table_from_manifests(
        RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups), classes
    )
