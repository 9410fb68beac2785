#!/usr/bin/env bash
# Emotion baselines on exactly the folds of stage 8, and the comparison table against the
# transfer system: eGeMAPS + SVM, MFCC statistics + logistic regression, offline
# i-vector + logistic regression, and the TDNN-F + head trained from scratch on the emotion data.
# Run from the recipe root after run.sh stage 8 (or without it: then there is no transfer row
# and no fold check). For the paper recipe's IEMOCAP:
#
#   recipes/baselines.sh --conf-dir conf/mini
#   -> exp/baselines/comparison.md, exp/baselines/<system>/metrics.json
#
# For a folder corpus prepared by recipes/emotion_folder.sh (name 'urdu'):
#
#   recipes/baselines.sh --manifest-dir data/urdu/manifests --corpus urdu \
#     --emotion-dir exp/urdu/emotion --exp-dir exp/urdu/baselines
set -euo pipefail
[ -f path.sh ] && [ -f utils/lib.sh ] || { echo "$0: run it from the recipe root (where run.sh is)" >&2; exit 1; }

conf_dir=conf
device=cpu
num_threads=1
manifest_dir=data/manifests
corpus=iemocap
ivector_dir=exp/ivector
emotion_dir=exp/emotion
exp_dir=exp/baselines
systems=

help_message="Usage: $0 [options]
Options:
  --device DEV          cpu, cuda or cuda:N (default: $device)
  --num-threads N       torch intra-op threads on the CPU (default: $num_threads)
  --conf-dir DIR       baselines.conf, emotion.conf (folds' seed/classes), mfcc_hires.conf,
                       tdnnf.conf (default: $conf_dir)
  --manifest-dir DIR   stage-0 manifests <corpus>_{recordings,supervisions}_*.jsonl.gz (default: $manifest_dir)
  --corpus NAME        manifest prefix: iemocap or the folder corpus name (default: $corpus)
  --ivector-dir DIR    stage-3 i-vector extractor, for the i-vector baseline (default: $ivector_dir)
  --emotion-dir DIR    stage-8 outputs: transfer system + fold check; may be absent (default: $emotion_dir)
  --exp-dir DIR        outputs (default: $exp_dir)
  --systems LIST       comma list overriding baselines.conf (egemaps_svm,mfcc_lr,ivector_lr,tdnnf_scratch)
  --config FILE        any of these options as --key=value lines"

. utils/lib.sh
. utils/parse_options.sh

[ $# -eq 0 ] || die "unexpected argument '$1'; see $0 --help"
[ -d "$conf_dir" ] || die "--conf-dir '$conf_dir' does not exist"
[ -f "$conf_dir/baselines.conf" ] || die "no $conf_dir/baselines.conf"
check_dir_exists --manifest-dir "$manifest_dir" "stage-0 manifests (run stage 0 / emotion_folder.sh stage 0)"

. ./path.sh

mkdir -p "$exp_dir/log"
log "baselines: $corpus manifests $manifest_dir -> $exp_dir (log: $exp_dir/log/run_baselines.log)"
asr2emo run-baselines --device "$device" --num-threads "$num_threads" --config "$conf_dir/baselines.conf" \
  --emotion-config "$conf_dir/emotion.conf" --mfcc-config "$conf_dir/mfcc_hires.conf" \
  --tdnnf-config "$conf_dir/tdnnf.conf" \
  --ivector-dir "$ivector_dir" --emotion-dir "$emotion_dir" ${systems:+--systems "$systems"} \
  "$manifest_dir" "$corpus" "$exp_dir"
log "done: $exp_dir/comparison.md"
