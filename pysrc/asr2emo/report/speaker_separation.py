"""How well i-vectors separate speakers: mean cosine within vs between speakers.

The figure RESULTS.md quotes for the stage-3 extractor (``recipes/ivector_speaker_separation.py``)
and the i-vector tests assert on. As Kaldi's speaker-id recipes score i-vectors: the mean is
removed and each vector scaled to unit length (cf. ``ivector-normalize-length`` after
``ivector-subtract-global-mean``), so a dot product is a cosine.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np


def length_normalized(ivectors: np.ndarray) -> np.ndarray:
    """``(N, D)`` i-vectors with their mean removed, each row scaled to unit length."""
    iv = np.asarray(ivectors)
    iv = iv - iv.mean(0)
    return iv / np.linalg.norm(iv, axis=1, keepdims=True)


def within_between(iv: np.ndarray, speakers: Sequence[str]) -> Tuple[float, float]:
    """Mean cosine over the pairs of distinct rows of one speaker, and over the pairs of two
    speakers, of length-normalized rows ``iv`` (:func:`length_normalized`)."""
    spk = np.asarray(speakers)
    sim = iv @ iv.T
    same = spk[:, None] == spk[None, :]
    np.fill_diagonal(same, False)
    return float(sim[same].mean()), float(sim[spk[:, None] != spk[None, :]].mean())
