#!/usr/bin/env python3
"""How lhotse's DynamicBucketingSampler mixes an id-sorted training set of TED-LIUM's size.

Builds TALKS x SEGMENTS x 3 speed copies of synthetic cuts (durations 1-15 s), sorted by id as
our manifests are, and prints how many talks the first 100 batches of 300 s draw on, with the
manifest order as is and after the seeded shuffle that asr2emo.model.dataset.make_sampler applies
to sets larger than the sampler's buffer. No audio is involved.

    python recipes/sampler_mixing.py 1500 63     # ~283k cuts, TED-LIUM 2 x speed perturbation
"""

import random
import sys

import numpy as np
from lhotse import CutSet, MonoCut

from asr2emo.model.dataset import BUCKET_BUFFER, make_sampler


def main(talks: int, segments: int) -> None:
    rng = random.Random(0)
    cuts = []
    for t in range(talks):
        for s in range(segments):
            d = rng.uniform(1, 15)
            for sp, f in (("", 1.0), ("_sp0.9", 1 / 0.9), ("_sp1.1", 1 / 1.1)):
                cuts.append(MonoCut(f"talk{t:05d}-{s:03d}{sp}", 0, d * f, 0))
    sorted_cuts = CutSet.from_cuts(sorted(cuts, key=lambda c: c.id))
    print(f"{len(sorted_cuts)} cuts, sampler buffer {BUCKET_BUFFER}")
    for name, shuffle_set in (("manifest order", False), ("make_sampler (shuffled)", True)):
        from lhotse.dataset import DynamicBucketingSampler

        if shuffle_set:
            sampler = make_sampler(sorted_cuts, 300, True, True, 10, seed=42)
        else:
            sampler = DynamicBucketingSampler(
                sorted_cuts, max_duration=300, shuffle=True, num_buckets=10, seed=42
            )
        sampler.set_epoch(1)
        seen, per_batch = set(), []
        for i, batch in enumerate(sampler):
            talks_in = {int(c.id[4:9]) for c in batch}
            per_batch.append(len(talks_in))
            seen |= talks_in
            if i == 99:
                break
        print(
            f"{name}: first 100 batches draw on {len(seen)} of {talks} talks; "
            f"{np.mean(per_batch):.1f} talks per batch"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
