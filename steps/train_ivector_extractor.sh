#!/usr/bin/env bash
# Train the online i-vector extractor on the hires MFCC of <train-cuts>: splice +-3, PCA,
# diagonal UBM (EM), total-variability matrix (EM on 2-utterance pseudo-speakers).
# Writes <ivector-dir>/{final.pca,final.ubm,final.ie,ivector.json}, log/ and .done.
set -euo pipefail

nj=1
# Options of conf/ivector.conf (Kaldi run_ivector_common.sh values by default)
splice_context=3
pca_dim=40
num_gauss=512
num_iters_ubm=8
ubm_max_frames=700000
ivector_dim=100
num_iters=10
utts_per_spk=2
subsample=2
max_utts=0
min_frames=10
num_gselect=5
min_post=0.025
posterior_scale=0.1
ivector_period=10
max_count=0
seed=0

help_message="Usage: $0 [options] <train-cuts> <ivector-dir>
 e.g.: $0 --nj 2 --config conf/ivector.conf data/fbank/tedlium2_cuts_train.jsonl.gz exp/ivector
Options:
  --nj N                 threads (default: $nj)
  --config FILE          the options below as --key=value lines (conf/ivector.conf)
  --splice-context N     frames spliced each side before PCA (default: $splice_context)
  --pca-dim N            PCA output dim (default: $pca_dim)
  --num-gauss N          UBM Gaussians (default: $num_gauss)
  --num-iters-ubm N      UBM EM iterations (default: $num_iters_ubm)
  --ubm-max-frames N     frames for PCA and UBM (default: $ubm_max_frames)
  --ivector-dim N        i-vector dim (default: $ivector_dim)
  --num-iters N          T-matrix EM iterations (default: $num_iters)
  --utts-per-spk N       utterances per pseudo-speaker (default: $utts_per_spk)
  --subsample N          use every N-th frame in training (default: $subsample)
  --max-utts N           train on a random subset of N cuts, 0 = all (default: $max_utts)
  --min-frames N         shorter cuts are skipped and listed (default: $min_frames)
  --num-gselect N        Gaussians selected per frame (default: $num_gselect)
  --min-post P           posteriors below P are pruned (default: $min_post)
  --posterior-scale S    posterior scale (default: $posterior_scale)
  --ivector-period N     frames per online i-vector (default: $ivector_period)
  --max-count N          cap on the statistics count, 0 = none (default: $max_count)
  --seed N               random seed (default: $seed)"

. utils/lib.sh
. utils/parse_options.sh

[ $# -eq 2 ] || { echo "$help_message" >&2; exit 1; }
train_cuts=$1
dir=$2

[ -f "$train_cuts" ] || die "training cuts '$train_cuts' do not exist (run steps/make_mfcc.sh first)"
. ./path.sh
mkdir -p "$dir/log"

log "Training the i-vector extractor on $train_cuts -> $dir (log: $dir/log/train_ivector_extractor.log)"
asr2emo train-ivector-extractor --nj "$nj" --splice-context "$splice_context" --pca-dim "$pca_dim" \
  --num-gauss "$num_gauss" --num-iters-ubm "$num_iters_ubm" --ubm-max-frames "$ubm_max_frames" \
  --ivector-dim "$ivector_dim" --num-iters "$num_iters" --utts-per-spk "$utts_per_spk" \
  --subsample "$subsample" --max-utts "$max_utts" --min-frames "$min_frames" \
  --num-gselect "$num_gselect" --min-post "$min_post" --posterior-scale "$posterior_scale" \
  --ivector-period "$ivector_period" --max-count "$max_count" --seed "$seed" \
  "$train_cuts" "$dir"
