#!/usr/bin/env python3
"""Stage 0: TEDLIUM_release2 -> data/manifests/tedlium2_{recordings,supervisions}_{part}.jsonl.gz.

Runs lhotse's prepare_tedlium2 after checking every talk (bad .sph/.stm are skipped and logged).
Usage: local/prepare_tedlium.py [--nj N] <corpus-dir> <manifest-dir>
The logic is asr2emo.data.tedlium (`asr2emo prepare-tedlium`).
"""

import sys

from asr2emo.cli import main

if __name__ == "__main__":
    sys.exit(main(["prepare-tedlium", *sys.argv[1:]]))
