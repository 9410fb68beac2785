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
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from lhotse import CutSet, SupervisionSegment
from lhotse.cut import Cut

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


@dataclass
class SkipCounts:
    """Utterances left out, per reason, so that every loader reports its drops (never silently)."""

    counts: Dict[str, int] = field(default_factory=dict)

    def add(self, reason: str) -> None:
        """Count one more utterance left out for ``reason``."""
        self.counts[reason] = self.counts.get(reason, 0) + 1

    def log(self, verb: str = "skipped", level: int = logging.WARNING) -> None:
        """One line per reason, sorted, attributed to the loader that calls this."""
        for reason, n in sorted(self.counts.items()):
            logging.log(level, "%s %d utterance(s): %s", verb, n, reason, stacklevel=2)


def open_cuts(cuts: CutSet | str | Path, what: str = "cuts", hint: str = "") -> CutSet:
    """``cuts`` itself, or the CutSet in that file; a UserError naming ``what`` if it is missing."""
    if isinstance(cuts, CutSet):
        return cuts
    path = Path(cuts)
    if not path.is_file():
        raise UserError(f"{what} '{path}' do not exist{hint}")
    return CutSet.from_file(path)


def emotion_label(
    sup: SupervisionSegment, classes: Optional[Sequence[str]], skipped: SkipCounts, where: str
) -> Optional[str]:
    """``sup``'s emotion label, or None (counted) when not in ``classes``: one rule for all loaders.

    A supervision without ``custom["emotion"]`` / ``custom["session"]`` is a UserError naming
    ``where``; ``classes=None`` keeps every label.
    """
    custom = sup.custom or {}
    if "emotion" not in custom or "session" not in custom:
        raise UserError(f"{where} lacks 'emotion'/'session'")
    label = str(custom["emotion"])
    if classes is not None and label not in classes:
        skipped.add(f"label {label}")
        return None
    return label


def iter_labelled_cuts(
    cuts: Iterable[Cut], classes: Optional[Sequence[str]], skipped: SkipCounts
) -> Iterator[Tuple[Cut, SupervisionSegment, str]]:
    """``(cut, supervision, label)`` of each cut with a usable label, in cut order.

    The one walk shared by the emotion head, fine-tuning and (per supervision, via
    :func:`emotion_label`) the baselines, so they keep the same utterances. The first supervision
    carries the label; cuts without one or with a label outside ``classes`` are counted in
    ``skipped`` (the caller adds its own reasons, e.g. no frames, and logs them).
    """
    for cut in cuts:
        if not cut.supervisions:
            skipped.add("no supervision")
            continue
        sup = cut.supervisions[0]
        label = emotion_label(sup, classes, skipped, f"cut {cut.id}: supervision custom")
        if label is not None:
            yield cut, sup, label


@dataclass
class KeptUtts:
    """Id, speaker, session and label of each kept utterance, in order (what the folds use)."""

    ids: List[str] = field(default_factory=list)
    speakers: List[str] = field(default_factory=list)
    sessions: List[int] = field(default_factory=list)
    labels: List[str] = field(default_factory=list)

    def add(self, utt_id: str, sup: SupervisionSegment, label: str) -> None:
        """Keep utterance ``utt_id``, labelled ``label`` by ``sup`` (from :func:`emotion_label`)."""
        self.ids.append(utt_id)
        self.speakers.append(str(sup.speaker))
        self.sessions.append(int(sup.custom["session"]))
        self.labels.append(label)

    def columns(self, classes: Optional[Sequence[str]]) -> Dict[str, Any]:
        """``ids``, ``speakers``, ``sessions``, ``labels`` (class ids) and ``classes`` fields.

        The class list is ``classes``, else the sorted labels found; the same keyword fields in
        :class:`FrameData`, fine-tuning's ``UttInputs`` and the baselines' ``UttTable``.
        """
        class_list = list(classes) if classes is not None else sorted(set(self.labels))
        cid = {c: i for i, c in enumerate(class_list)}
        return dict(
            ids=self.ids,
            speakers=self.speakers,
            sessions=np.asarray(self.sessions, dtype=np.int64),
            labels=np.asarray([cid[lab] for lab in self.labels], dtype=np.int64),
            classes=class_list,
        )


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
    cuts = open_cuts(cuts, "bottleneck cuts")
    kept = KeptUtts()
    skipped = SkipCounts()
    todo = []
    for cut, sup, label in iter_labelled_cuts(cuts, classes, skipped):
        if not cut.has_custom(key):
            skipped.add(f"no {key} array")
            continue
        shape = tuple(getattr(cut.custom[key], "shape", None) or ())
        if len(shape) != 2 or shape[0] == 0:
            skipped.add("no frames")
            continue
        todo.append((cut, sup, label, shape))
    if not todo:
        skipped.log()
        raise UserError("no utterance with a bottleneck array and a usable label")
    dims = {shape[1] for *_, shape in todo}
    if len(dims) != 1:
        raise UserError(f"bottleneck arrays have different dimensions {sorted(dims)}")
    # One allocation from the manifest's shapes (an upper bound: a cut may load a frame less,
    # lhotse trims the array to the cut's duration), filled array by array: no list of arrays
    # plus their concatenation, which doubled the peak memory.
    bound = int(sum(shape[0] for *_, shape in todo))
    feats = np.empty((bound, dims.pop()), dtype=dtype)
    offsets = np.zeros(len(todo) + 1, dtype=np.int64)
    for j, (cut, sup, label, shape) in enumerate(todo):
        arr = np.asarray(cut.load_custom(key), dtype=dtype)
        if arr.ndim != 2 or arr.shape[0] > shape[0] or arr.shape[1] != shape[1]:
            raise UserError(f"{cut.id}: {key} array has shape {arr.shape}, manifest says {shape}")
        feats[offsets[j] : offsets[j] + len(arr)] = arr
        offsets[j + 1] = offsets[j] + len(arr)
        kept.add(cut.id, sup, label)
    feats = feats[: offsets[-1]]
    skipped.log()
    return FrameData(
        feats=torch.from_numpy(feats),
        offsets=offsets,
        skipped=skipped.counts,
        **kept.columns(classes),
    )
