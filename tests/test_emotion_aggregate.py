"""Utterance decisions from frame posteriors, against hand-computed examples."""

import math

import torch

from asr2emo.emotion.aggregate import aggregate


def _lp(rows):
    return torch.tensor(rows, dtype=torch.float64).log()


def test_sum_softmax_and_majority_disagree():
    # utt 0: frames (0.9, 0.1), (0.4, 0.6), (0.45, 0.55)
    #   sum = (1.75, 1.25) -> class 0; frame argmaxes 0, 1, 1 -> majority class 1
    #   mean log p: (log .9 + log .4 + log .45) / 3 = -0.607 > (log .1 + log .6 + log .55) / 3
    # utt 1: frames (0.6, 0.4), (0.6, 0.4), (0.01, 0.99)
    #   sum = (1.21, 1.79) -> class 1; majority class 0; mean log p -> class 1
    lp = _lp([[0.9, 0.1], [0.4, 0.6], [0.45, 0.55], [0.6, 0.4], [0.6, 0.4], [0.01, 0.99]])
    idx = torch.tensor([0, 0, 0, 1, 1, 1])
    out = aggregate(lp, idx, 2)
    assert out["sum_softmax"].tolist() == [0, 1]
    assert out["majority"].tolist() == [1, 0]
    assert out["mean_logprob"].tolist() == [0, 1]
    assert torch.allclose(
        out["posteriors"][0], torch.tensor([1.75 / 3, 1.25 / 3], dtype=torch.float64)
    )
    assert torch.allclose(
        out["posteriors"][1], torch.tensor([1.21 / 3, 1.79 / 3], dtype=torch.float64)
    )


def test_mean_logprob_can_differ_from_sum():
    # frames (0.001, 0.999), (0.8, 0.2) x3: sum (2.401, 1.599) -> 0,
    # log sums: log .001 + 3 log .8 = -7.58 < log .999 + 3 log .2 = -4.83 -> 1
    lp = _lp([[0.001, 0.999], [0.8, 0.2], [0.8, 0.2], [0.8, 0.2]])
    out = aggregate(lp, torch.zeros(4, dtype=torch.long), 1)
    assert math.log(0.001) + 3 * math.log(0.8) < math.log(0.999) + 3 * math.log(0.2)
    assert out["sum_softmax"].tolist() == [0]
    assert out["mean_logprob"].tolist() == [1]
    assert out["majority"].tolist() == [0]


def test_majority_tie_broken_by_summed_softmax():
    # votes 1:1; summed softmax (0.51 + 0.1, 0.49 + 0.9) favours class 1
    lp = _lp([[0.51, 0.49], [0.1, 0.9]])
    out = aggregate(lp, torch.zeros(2, dtype=torch.long), 1)
    assert out["majority"].tolist() == [1]


def test_frames_of_interleaved_utterances():
    # frame order does not matter, only the utterance index of each frame
    lp = _lp([[0.9, 0.1], [0.2, 0.8], [0.8, 0.2], [0.3, 0.7]])
    out = aggregate(lp, torch.tensor([0, 1, 0, 1]), 2)
    assert out["sum_softmax"].tolist() == [0, 1]
