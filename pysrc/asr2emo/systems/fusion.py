"""Score-level fusion of emotion systems with a weight learned on validation speakers.

Two systems' utterance posteriors are combined log-linearly, ``w log p_a + (1 - w) log p_b``
(the usual late fusion of SER systems); ``w`` is the grid point with the best UA on the
validation utterances, ties broken towards 0.5 (equal weights). The fit takes the validation
scores only and refuses to run when any of their ids is a test id of the fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List, Sequence

import numpy as np

from asr2emo.emotion.metrics import summarize
from asr2emo.utils.errors import UserError

GRID = tuple(np.round(np.linspace(0.0, 1.0, 11), 2).tolist())
FLOOR = 1e-6  # posteriors of classes a system never predicts (e.g. absent from its training)


@dataclass
class Scores:
    """One system's utterance posteriors ``(n, C)`` on the utterances ``ids``."""

    ids: List[str]
    posteriors: np.ndarray

    def log(self) -> np.ndarray:
        return np.log(np.clip(self.posteriors, FLOOR, None))


def fuse(a: Scores, b: Scores, weight: float) -> Scores:
    """``w log p_a + (1 - w) log p_b``, renormalized to posteriors (ids must match)."""
    if a.ids != b.ids:
        raise ValueError("fusion of scores on different utterances")
    s = weight * a.log() + (1.0 - weight) * b.log()
    p = np.exp(s - s.max(axis=1, keepdims=True))
    return Scores(list(a.ids), p / p.sum(axis=1, keepdims=True))


def ua_of(scores: Scores, labels: Sequence[int], classes: Sequence[str]) -> float:
    """Unweighted accuracy of the posteriors' argmax."""
    return summarize(list(labels), scores.posteriors.argmax(axis=1).tolist(), list(classes))["ua"]


def fit_weight(
    val_a: Scores,
    val_b: Scores,
    val_labels: Sequence[int],
    classes: Sequence[str],
    test_ids: Iterable[str],
    grid: Sequence[float] = GRID,
) -> float:
    """The fusion weight with the best validation UA; a UserError if a test id is among the
    validation utterances (the fit would see the test fold)."""
    leak = set(val_a.ids) & set(test_ids)
    if leak:
        raise UserError(
            f"fusion weight fit on {len(leak)} test utterance(s) (e.g. {sorted(leak)[0]}); "
            "it may use validation speakers only"
        )
    uas = [ua_of(fuse(val_a, val_b, w), val_labels, classes) for w in grid]
    best = max(uas)
    return min((abs(w - 0.5), w) for w, u in zip(grid, uas) if u == best)[1]
