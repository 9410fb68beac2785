#!/usr/bin/env python3
"""How well do the stage-3 i-vectors separate speakers? Mean cosine within vs between speakers.

Offline i-vectors of every (non speed-perturbed) cut of the given cut manifests, mean-removed
and length-normalized. Usage (after stages 2-3):

    python recipes/ivector_speaker_separation.py exp/ivector \\
        data/mfcc/tedlium2_cuts_dev.jsonl.gz data/mfcc/tedlium2_cuts_test.jsonl.gz
"""

import argparse

import numpy as np
import torch
from lhotse import CutSet

from asr2emo.ivector import IvectorExtractor
from asr2emo.report.speaker_separation import length_normalized, within_between


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("ivector_dir")
    p.add_argument("cuts", nargs="+")
    p.add_argument("--max-cuts-per-file", type=int, default=600)
    args = p.parse_args()
    torch.set_num_threads(1)
    extractor = IvectorExtractor.load(args.ivector_dir)
    ivectors, speakers = [], []
    for path in args.cuts:
        n = 0
        for cut in CutSet.from_file(path):
            if "_sp" in cut.id or n >= args.max_cuts_per_file:
                continue
            ivectors.append(extractor.extract_offline(cut.load_features()))
            speakers.append(cut.supervisions[0].speaker)
            n += 1
    iv = length_normalized(np.stack(ivectors))
    within, between = within_between(iv, speakers)
    print(
        f"{len(set(speakers))} speakers, {len(iv)} cuts: mean cosine within speaker "
        f"{within:.3f}, between speakers {between:.3f}"
    )


if __name__ == "__main__":
    main()
