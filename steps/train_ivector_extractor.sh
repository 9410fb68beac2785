#!/usr/bin/env bash
# Train the online i-vector extractor on the hires MFCC of <train-cuts>: splice +-3, PCA,
# diagonal UBM (EM) on online-CMVN'd frames, total-variability matrix (EM over every utterance).
# Writes <ivector-dir>/{final.pca,final.ubm,final.ie,global_cmvn.stats,ivector.json}, log/, .done.
set -euo pipefail

nj=1
config=

help_message="Usage: $0 [options] <train-cuts> <ivector-dir>
 e.g.: $0 --nj 2 --config conf/ivector.conf data/mfcc/tedlium2_cuts_train.jsonl.gz exp/ivector
Options:
  --nj N          threads (default: $nj)
  --config FILE   extractor options as Kaldi --key=value lines (conf/ivector.conf: --num-gauss,
                  --ivector-dim, --num-iters, --posterior-scale, ...), passed to
                  'asr2emo train-ivector-extractor' (see its --help for the keys)"

. utils/lib.sh
. utils/parse_options.sh

[ $# -eq 2 ] || { echo "$help_message" >&2; exit 1; }
train_cuts=$1
dir=$2

[ -f "$train_cuts" ] || die "training cuts '$train_cuts' do not exist (run steps/make_mfcc.sh first)"
[ -z "$config" ] || [ -f "$config" ] || die "config file '$config' does not exist"
. ./path.sh
mkdir -p "$dir/log"

log "Training the i-vector extractor on $train_cuts -> $dir (log: $dir/log/train_ivector_extractor.log)"
asr2emo train-ivector-extractor ${config:+--config "$config"} --nj "$nj" "$train_cuts" "$dir"
