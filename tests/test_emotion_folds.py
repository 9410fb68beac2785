"""Leave-one-session-out folds: speakers never shared between train, validation and test."""

import numpy as np
import pytest

from asr2emo.emotion.folds import Fold, check_disjoint_speakers, make_folds
from asr2emo.utils.errors import UserError


def _iemocap_like(utts_per_speaker=7):
    sessions, speakers = [], []
    for s in range(1, 6):
        for g in "FM":
            sessions += [s] * utts_per_speaker
            speakers += [f"Ses0{s}{g}"] * utts_per_speaker
    return np.array(sessions), np.array(speakers)


def _assert_partition(fold, sessions, speakers):
    tr, va, te = (set(speakers[i]) for i in (fold.train, fold.val, fold.test))
    assert not (tr & va) and not (tr & te) and not (va & te)
    assert va == {fold.val_speaker}
    assert set(sessions[fold.test]) == {fold.test_session}
    assert fold.test_session not in set(sessions[fold.train]) | set(sessions[fold.val])
    # every utterance is used exactly once
    allidx = np.concatenate([fold.train, fold.val, fold.test])
    assert sorted(allidx.tolist()) == list(range(len(sessions)))


def test_iemocap_folds_disjoint_speakers():
    sessions, speakers = _iemocap_like()
    folds = make_folds(sessions, speakers, seed=1)
    assert [f.test_session for f in folds] == [1, 2, 3, 4, 5]
    for f in folds:
        _assert_partition(f, sessions, speakers)


def test_validation_speaker_is_seeded():
    sessions, speakers = _iemocap_like()
    a = [f.val_speaker for f in make_folds(sessions, speakers, seed=1)]
    b = [f.val_speaker for f in make_folds(sessions, speakers, seed=1)]
    many = {tuple(f.val_speaker for f in make_folds(sessions, speakers, seed=s)) for s in range(10)}
    assert a == b
    assert len(many) > 1


def test_speaker_in_two_sessions_is_rejected():
    sessions, speakers = _iemocap_like()
    speakers[0] = "Ses02F"  # a session-1 utterance by a session-2 speaker
    with pytest.raises(UserError, match="Ses02F"):
        make_folds(sessions, speakers, seed=1)


def test_check_disjoint_speakers_catches_leak():
    speakers = ["a", "a", "b", "c"]
    fold = Fold(1, 1, "b", train=np.array([0]), val=np.array([2]), test=np.array([1, 3]))
    with pytest.raises(UserError, match="'a'"):
        check_disjoint_speakers(fold, speakers)


def test_too_few_sessions():
    with pytest.raises(UserError):
        make_folds([1, 1], ["a", "b"], seed=0)


def test_validation_speaker_has_enough_utterances():
    sessions = [1] * 4 + [2] * 20 + [2] * 2 + [3] * 3
    speakers = ["t"] * 4 + ["big"] * 20 + ["tiny"] * 2 + ["s3"] * 3
    for seed in range(20):
        f1 = make_folds(sessions, speakers, seed=seed, min_val_utts=10)[0]
        assert f1.val_speaker == "big"
    # nobody has enough: any training speaker
    assert {
        make_folds(sessions, speakers, seed=s, min_val_utts=100)[0].val_speaker for s in range(30)
    } == {"big", "tiny", "s3"}
