"""The per-fold choice among candidate systems from their held-out (selection) scores.

``best``: the candidate with the best pooled selection UA (ties: the earlier one).
``one-se-ensemble``: the one-standard-error rule (Hastie, Tibshirani & Friedman, *The
Elements of Statistical Learning*, 2nd ed., sec. 7.10) turned into an ensemble: every candidate
whose pooled selection UA is within one standard error of the best one's, where the standard
error is that of the best candidate's UA over the inner folds (``sd(ddof=1) / sqrt(k)``); the
system is the equal-weight mean of the members' posteriors. Near-ties, which on a few hundred
held-out utterances are noise, are averaged instead of picked between.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Sequence

import numpy as np

from asr2emo.systems.fusion import Scores, ua_of

CHOICES = ("one-se-ensemble", "best")
TOLERANCE = 1e-12  # a UA equal to the threshold up to float rounding is within it


def best_candidate(uas: Mapping[str, float], names: Sequence[str]) -> str:
    """The name with the highest UA; ties go to the earlier name in ``names``."""
    names = list(names)
    return max(names, key=lambda n: (uas[n], -names.index(n)))


def fold_uas(
    scores: Scores, labels: Sequence[int], groups: Sequence[int], classes: Sequence[str]
) -> Dict[int, float]:
    """``{group: UA on that group's utterances}``: the UA of each inner fold's held-out
    session (``groups[i]`` = the held-out session utterance ``i`` was predicted in)."""
    labels, groups = np.asarray(labels), np.asarray(groups)
    out = {}
    for g in sorted(set(groups.tolist())):
        rows = np.flatnonzero(groups == g)
        sub = Scores([scores.ids[i] for i in rows], scores.posteriors[rows])
        out[int(g)] = ua_of(sub, labels[rows], classes)
    return out


def standard_error(values: Sequence[float]) -> float:
    """``sd(values, ddof=1) / sqrt(k)``: the standard error of the mean of k fold values."""
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2:
        raise ValueError(f"a standard error needs at least 2 folds, got {v.size}")
    return float(v.std(ddof=1) / np.sqrt(v.size))


def one_se_members(
    uas: Mapping[str, float], names: Sequence[str], best: str, se: float
) -> List[str]:
    """The names (in ``names``' order) whose UA is at least ``uas[best] - se``."""
    threshold = uas[best] - se
    return [n for n in names if uas[n] >= threshold - TOLERANCE]


def mean_posteriors(members: Sequence[Scores]) -> Scores:
    """The equal-weight mean of the members' posteriors (the same utterances in each)."""
    ids = members[0].ids
    if any(m.ids != ids for m in members):
        raise ValueError("an ensemble of scores on different utterances")
    return Scores(list(ids), np.mean([m.posteriors for m in members], axis=0))
