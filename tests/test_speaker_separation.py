"""Mean cosine within vs between speakers, against a loop over every pair."""

from __future__ import annotations

import itertools

import numpy as np

from asr2emo.report.speaker_separation import length_normalized, within_between


def test_against_every_pair() -> None:
    rng = np.random.default_rng(5)
    speakers = ["a"] * 4 + ["b"] * 3 + ["c"] * 5
    x = rng.standard_normal((len(speakers), 6)) + 3.0  # an offset for the mean removal to undo
    iv = length_normalized(x)
    centred = x - x.mean(0)
    same, other = [], []
    for i, j in itertools.permutations(range(len(x)), 2):
        a, b = centred[i], centred[j]
        cos = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
        (same if speakers[i] == speakers[j] else other).append(cos)
    within, between = within_between(iv, speakers)
    assert np.isclose(within, np.mean(same)) and np.isclose(between, np.mean(other))
    assert np.allclose(np.linalg.norm(iv, axis=1), 1.0)
