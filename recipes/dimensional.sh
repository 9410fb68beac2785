#!/usr/bin/env bash
# Dimensional emotion: valence, arousal and dominance regression from the stage-7
# bottleneck frames on the folds of stage 8, with CCC / Pearson r / MSE per dimension against a
# mean predictor and eGeMAPS + ridge regression. Needs IEMOCAP-style evaluator ratings in the
# supervisions (folder corpora have none). Run from the recipe root after run.sh stage 7:
#
#   recipes/dimensional.sh --conf-dir conf/mini
#   -> exp/dimensional/<layer>/{table.md,metrics.json,predictions.jsonl}
set -euo pipefail
[ -f path.sh ] && [ -f utils/lib.sh ] || { echo "$0: run it from the recipe root (where run.sh is)" >&2; exit 1; }

conf_dir=conf
device=cpu
num_threads=1
bottleneck_dir=exp/bottleneck
emotion_dir=exp/emotion
feature_cache=exp/baselines/features
exp_dir=exp/dimensional
layers=
loss=

help_message="Usage: $0 [options]
Options:
  --device DEV          cpu, cuda or cuda:N (default: $device)
  --num-threads N       torch intra-op threads on the CPU (default: $num_threads)
  --conf-dir DIR        dimensional.conf, emotion.conf (folds' seed/classes) (default: $conf_dir)
  --bottleneck-dir DIR  stage-7 output <layer>/cuts.jsonl.gz (default: $bottleneck_dir)
  --emotion-dir DIR     stage-8 outputs, to check the folds; may be absent (default: $emotion_dir)
  --feature-cache DIR   eGeMAPS cache shared with recipes/baselines.sh (default: $feature_cache)
  --exp-dir DIR         outputs (default: $exp_dir)
  --layers LIST         comma list of layers (default: every finished layer)
  --loss ccc|mse        overrides dimensional.conf
  --config FILE         any of these options as --key=value lines"

. utils/lib.sh
. utils/parse_options.sh

[ $# -eq 0 ] || die "unexpected argument '$1'; see $0 --help"
[ -f "$conf_dir/dimensional.conf" ] || die "no $conf_dir/dimensional.conf"
check_dir_exists --bottleneck-dir "$bottleneck_dir" "<layer>/cuts.jsonl.gz (run stage 7)"
case "$loss" in ""|ccc|mse) ;; *) die "--loss must be ccc or mse, got '$loss'" ;; esac

. ./path.sh

mkdir -p "$exp_dir/log"
log "dimensional emotion: $bottleneck_dir -> $exp_dir (log: $exp_dir/log/train_dimensional.log)"
asr2emo train-dimensional --device "$device" --num-threads "$num_threads" --config "$conf_dir/dimensional.conf" \
  --emotion-config "$conf_dir/emotion.conf" --emotion-dir "$emotion_dir" \
  --feature-cache "$feature_cache" ${layers:+--layers "$layers"} ${loss:+--loss "$loss"} \
  "$bottleneck_dir" "$exp_dir"
log "done: $(ls "$exp_dir"/*/table.md | tr '\n' ' ')"
