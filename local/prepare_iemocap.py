#!/usr/bin/env python3
"""Stage 0: IEMOCAP_full_release -> data/manifests/iemocap_{recordings,supervisions}_all.jsonl.gz.

Reads Session{1..5}/dialog/EmoEvaluation/*.txt and Session{1..5}/sentences/wav/; keeps the
configured classes (conf/iemocap.conf), logs skipped items and the paper's Table 1 counts.
Usage: local/prepare_iemocap.py [--config conf/iemocap.conf] <corpus-dir> <manifest-dir>
The logic is asr2emo.data.iemocap (`asr2emo prepare-iemocap`).
"""

import sys

from asr2emo.cli import main

if __name__ == "__main__":
    sys.exit(main(["prepare-iemocap", *sys.argv[1:]]))
