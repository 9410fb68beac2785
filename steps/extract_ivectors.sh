#!/usr/bin/env bash
# Online i-vectors (one per 10 frames, from the statistics since the utterance start) for every
# cut of <in-cuts>, attached as the TemporalArray field 'ivector'; writes <out-cuts> and, next to
# it, the arrays in <out-stem>_ivectors/, a .<out-stem>.done marker and log/.
set -euo pipefail

nj=1
cmd=

help_message="Usage: $0 [options] <ivector-dir> <in-cuts> <out-cuts>
 e.g.: $0 --nj 2 exp/ivector data/mfcc/tedlium2_cuts_dev.jsonl.gz data/mfcc/tedlium2_cuts_dev_ivec.jsonl.gz
Options:
  --cmd CMD               job runner of the --nj jobs, as in Kaldi (utils/run.pl, utils/slurm.pl;
                          run.sh passes \$train_cmd of cmd.sh); empty: local processes
  --nj N     parallel jobs (default: $nj)"

. utils/lib.sh
. utils/parse_options.sh

[ $# -eq 3 ] || { echo "$help_message" >&2; exit 1; }
ivector_dir=$1
in_cuts=$2
out_cuts=$3

[ -f "$ivector_dir/final.ie" ] || die "no i-vector extractor in '$ivector_dir' (run steps/train_ivector_extractor.sh)"
[ -f "$in_cuts" ] || die "input cuts '$in_cuts' do not exist (run steps/make_mfcc.sh first)"
. ./path.sh
mkdir -p "$(dirname "$out_cuts")/log"

log "Online i-vectors with $ivector_dir: $in_cuts -> $out_cuts"
asr2emo extract-ivectors --nj "$nj" ${cmd:+--cmd "$cmd"} "$ivector_dir" "$in_cuts" "$out_cuts"
