"""Leave-one-session-out folds with a validation speaker for early stopping.

Fold ``k`` tests every utterance of session ``k``. One speaker, drawn with a seeded generator
from the *training* sessions, is held out as validation (early stopping); the rest train.
IEMOCAP has one session per speaker pair, so the test session's speakers never appear in
training or validation; this is asserted, since a speaker shared by two sessions would leak.
For folder corpora the "session" is a group of speakers (:mod:`asr2emo.data.folder`).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import List, Sequence

import numpy as np

from asr2emo.utils.errors import UserError


@dataclass
class Fold:
    """Utterance indices of one cross-validation fold."""

    fold: int
    test_session: int
    val_speaker: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def check_disjoint_speakers(fold: Fold, speakers: Sequence[str]) -> None:
    """Raise if a speaker appears in two of train / validation / test."""
    spk = np.asarray(speakers)
    tr, va, te = (set(spk[idx].tolist()) for idx in (fold.train, fold.val, fold.test))
    overlap = (tr & va) | (tr & te) | (va & te)
    if overlap:
        raise UserError(
            f"fold {fold.fold}: speaker(s) {sorted(overlap)} in more than one of "
            "train/validation/test; each speaker must belong to exactly one session"
        )


def make_folds(
    sessions: Sequence[int], speakers: Sequence[str], seed: int, min_val_utts: int = 10
) -> List[Fold]:
    """One fold per session (sorted), each with a seeded validation speaker.

    The validation speaker is drawn among the training speakers with at least ``min_val_utts``
    utterances (all of them if none has that many), so early stopping does not hinge on a
    speaker with two utterances in corpora with very uneven speakers.

    Raises :class:`UserError` if there are fewer than two sessions, a fold would have no
    training speaker besides the validation one, or a speaker spans sessions.
    """
    sessions_arr = np.asarray(sessions, dtype=np.int64)
    spk = np.asarray(speakers)
    uniq = sorted(set(sessions_arr.tolist()))
    if len(uniq) < 2:
        raise UserError(f"cross-validation needs at least 2 sessions, found {uniq}")
    folds = []
    for k, test_session in enumerate(uniq):
        test = np.flatnonzero(sessions_arr == test_session)
        rest = np.flatnonzero(sessions_arr != test_session)
        test_speakers = set(spk[test].tolist())
        candidates = sorted(set(spk[rest].tolist()) - test_speakers)
        if len(candidates) < 2:
            raise UserError(
                f"fold {test_session}: need at least 2 training speakers (one for validation), "
                f"have {candidates}"
            )
        counts = Counter(spk[rest].tolist())
        eligible = [s for s in candidates if counts[s] >= min_val_utts] or candidates
        val_speaker = random.Random(seed * 1000 + int(test_session)).choice(eligible)
        val = rest[spk[rest] == val_speaker]
        train = rest[spk[rest] != val_speaker]
        fold = Fold(int(test_session), int(test_session), val_speaker, train, val, test)
        check_disjoint_speakers(fold, spk)
        folds.append(fold)
    return folds
