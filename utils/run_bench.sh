#!/usr/bin/env bash
# make bench: every entry of pysrc/asr2emo/bench/ in its own process -> exp/bench/bench.json.
# Extra arguments go to `asr2emo bench` (e.g. --entries mfcc,ivector --quick true).
set -euo pipefail
cd "$(dirname "$0")/.."
. ./path.sh
asr2emo bench "$@"
