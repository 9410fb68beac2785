"""Minibatches of whole utterances (MFCC + online i-vectors + transcripts) from lhotse cuts.

Why whole utterances and not Kaldi's 150-frame chunks: the LF-MMI numerator of a chunk needs the
part of the transcript inside the chunk, which Kaldi gets from lattice alignments of a GMM
system we do not have. TED-LIUM segments are short (most under 15 s), so each cut is one
training sequence; cuts are grouped by duration (lhotse ``DynamicBucketingSampler``, or
``SimpleCutSampler`` for tiny sets) up to ``--max-duration`` seconds of audio per batch. The
model itself adds the left/right context frames (copies of the edge frames, as Kaldi does), and
leaves the frames that pad a shorter cut to the batch out of its batchnorm statistics
(:class:`asr2emo.model.layers.MaskedBatchNorm1d`).

The i-vector is the cut's custom ``TemporalArray`` ``ivector`` (one vector per 0.1 s); the model
holds each one for ``ivector_period`` feature frames. Cuts without one get zeros only when
``require_ivectors`` is false (used by the yes/no test, documented there).
"""

from __future__ import annotations

import logging
import random
from typing import Dict, List, Optional

import numpy as np
import torch
from lhotse import CutSet
from lhotse.dataset import DynamicBucketingSampler, SimpleCutSampler

from asr2emo.utils.errors import UserError

BUCKET_BUFFER = 20000  # cuts DynamicBucketingSampler holds at once (its default)


class _OptionalDataSource(torch.utils.data.Sampler):
    """lhotse 1.33's samplers call ``Sampler.__init__()`` without ``data_source``, which torch
    1.13 requires (torch 2 made it optional, and ignores it). Placed between lhotse's sampler
    and torch's in the samplers below (method resolution order), it accepts the call for them
    only, instead of patching torch's Sampler for every user of the process."""

    def __init__(self, data_source=None) -> None:  # noqa: D107
        pass


class BucketingSampler(DynamicBucketingSampler, _OptionalDataSource):
    """lhotse's DynamicBucketingSampler, constructible on torch 1.13."""


class SimpleSampler(SimpleCutSampler, _OptionalDataSource):
    """lhotse's SimpleCutSampler, constructible on torch 1.13."""


class SkipBatches(torch.utils.data.Sampler):
    """The batches of ``sampler``'s current epoch after the first ``skip`` (for a resumed epoch).

    A lhotse sampler's epoch is a function of its seed and epoch number, so replaying it and
    dropping the batches already trained on gives exactly the rest, without the sampler's own
    saved state (which a DataLoader prefetching ahead would put past the training)."""

    def __init__(self, sampler, skip: int = 0) -> None:
        self.sampler, self.skip = sampler, skip

    def __iter__(self):
        # lhotse samplers are their own iterators and restart on every iter(): hence next() only
        it = iter(self.sampler)
        skip, self.skip = self.skip, 0  # the next epoch starts at its beginning
        for _ in range(skip):
            if next(it, None) is None:
                return
        while True:
            batch = next(it, None)
            if batch is None:
                return
            yield batch


def cut_text(cut) -> str:
    """Transcript of a cut: its supervisions' texts joined in time order."""
    sups = sorted(cut.supervisions, key=lambda s: s.start)
    return " ".join(s.text.strip() for s in sups if s.text).strip()


def load_ivectors(cut, num_frames: int, ivector_dim: int, period: int, require: bool) -> np.ndarray:
    """The cut's ``(T_iv, dim)`` online i-vectors, or zeros when absent and not required."""
    if cut.has_custom("ivector"):
        iv = np.asarray(cut.load_custom("ivector"), dtype=np.float32)
        if iv.ndim != 2 or iv.shape[1] != ivector_dim:
            raise UserError(
                f"cut {cut.id}: i-vectors of shape {iv.shape}, expected (T, {ivector_dim})"
            )
        return iv
    if require:
        raise UserError(
            f"cut {cut.id} has no 'ivector' array; run the i-vector extraction (stage 3) first"
        )
    return np.zeros(((num_frames + period - 1) // period, ivector_dim), dtype=np.float32)


def _pad_edge(arrays: List[np.ndarray]) -> torch.Tensor:
    """Stack ``(T_i, D)`` arrays into ``(N, max T, D)``, repeating each one's last row."""
    T = max(max(a.shape[0] for a in arrays), 1)
    out = np.zeros((len(arrays), T, arrays[0].shape[1]), dtype=np.float32)
    for i, a in enumerate(arrays):
        if a.shape[0] == 0:
            continue
        out[i, : a.shape[0]] = a
        out[i, a.shape[0] :] = a[-1]
    return torch.from_numpy(out)


class AsrDataset(torch.utils.data.Dataset):
    """``__getitem__(cuts)`` -> the batch dict of N cuts (as lhotse's K2SpeechRecognitionDataset
    documents its own; T = the longest cut's frames, T_iv = ceil(T / ivector_period))::

        feats      float32 (N, T, feat_dim)     MFCC; a shorter cut repeats its last frame
        feat_lens  int64 (N,)                   frames of each cut
        ivectors   float32 (N, T_iv, ivector_dim)  online i-vectors (zeros if not required)
        texts      list of N str                transcripts (supervisions joined in time order)
        cut_ids    list of N str
        duration   float                        seconds of audio in the batch
    """

    def __init__(
        self, ivector_dim: int, ivector_period: int, require_ivectors: bool = True
    ) -> None:
        self.ivector_dim = ivector_dim
        self.ivector_period = ivector_period
        self.require_ivectors = require_ivectors

    def __getitem__(self, cuts: CutSet) -> Dict:
        feats, ivecs, texts, ids = [], [], [], []
        for cut in cuts:
            f = np.asarray(cut.load_features(), dtype=np.float32)
            feats.append(f)
            ivecs.append(
                load_ivectors(
                    cut, f.shape[0], self.ivector_dim, self.ivector_period, self.require_ivectors
                )
            )
            texts.append(cut_text(cut))
            ids.append(cut.id)
        return {
            "feats": _pad_edge(feats),
            "feat_lens": torch.tensor([f.shape[0] for f in feats], dtype=torch.int64),
            "ivectors": _pad_edge(ivecs),
            "texts": texts,
            "cut_ids": ids,
            "duration": float(sum(c.duration for c in cuts)),  # seconds of audio in the batch
        }


def make_sampler(
    cuts: CutSet,
    max_duration: float,
    shuffle: bool,
    bucketing: bool,
    num_buckets: int,
    seed: int,
    world_size: Optional[int] = None,
    rank: Optional[int] = None,
):
    """Duration-bounded sampler over ``cuts`` (state_dict/load_state_dict resume mid-epoch).

    lhotse's DynamicBucketingSampler reads the cuts in manifest order through a buffer of
    ``BUCKET_BUFFER`` cuts. Our manifests are sorted by id (talk, segment, speed), so on a set
    larger than the buffer an epoch would walk through the talks in order: with TED-LIUM's 280k
    cuts the first 100 batches of 300 s drew on 123 of 1500 talks (measured, RESULTS.md). Such a
    set is therefore shuffled once, seeded (icefall's ``*-shuf`` manifests); then the same
    batches covered 1337 talks. A set that fits in the buffer is mixed by it already and is left
    in its order.
    """
    if shuffle and len(cuts) > BUCKET_BUFFER:
        cuts = cuts.shuffle(random.Random(seed))
    if bucketing:
        return BucketingSampler(
            cuts,
            max_duration=max_duration,
            shuffle=shuffle,
            num_buckets=num_buckets,
            seed=seed,
            world_size=world_size,
            rank=rank,
            drop_last=world_size is not None and world_size > 1,
            buffer_size=BUCKET_BUFFER,
        )
    return SimpleSampler(
        cuts,
        max_duration=max_duration,
        shuffle=shuffle,
        seed=seed,
        world_size=world_size,
        rank=rank,
        drop_last=world_size is not None and world_size > 1,
    )


def cmvn_from_cuts(cuts: CutSet, max_cuts: int = 2000) -> Dict[str, List[float]]:
    """Global mean/std of (a sample of) the features of ``cuts``; used when no CMVN file exists."""
    from asr2emo.features.cmvn import GlobalCmvn

    stats: Optional[GlobalCmvn] = None
    for i, cut in enumerate(cuts):
        if i >= max_cuts:
            break
        f = cut.load_features()
        if stats is None:
            stats = GlobalCmvn(f.shape[1])
        stats.accumulate(f)
    if stats is None:
        raise UserError("no cuts to estimate CMVN statistics from")
    logging.info(f"CMVN estimated on {min(i + 1, max_cuts)} cuts ({stats.count} frames)")
    return {"mean": stats.mean.tolist(), "std": stats.std.tolist()}
