#!/usr/bin/env bash
# Everything beyond the paper in one command, after run.sh stages 0-8 (or recipes/emotion_folder.sh
# for a folder-layout corpus): baselines on stage 8's exact folds, the layer sweep, frozen vs
# fine-tuned layers, dimensional emotion (IEMOCAP only: it needs valence/arousal/dominance), and
# the report with all of it beside the paper's tables.
#
#   recipes/beyond_paper.sh --conf-dir conf/mini                       # the demo (after ./run.sh)
#   recipes/beyond_paper.sh --conf-dir conf/mini --corpus urdu --data-dir data/urdu \
#       --exp-dir exp/urdu                                             # after emotion_folder.sh
set -euo pipefail
[ -f path.sh ] && [ -f utils/lib.sh ] || { echo "$0: run it from the recipe root (where run.sh is)" >&2; exit 1; }

conf_dir=conf
corpus=iemocap
data_dir=data
exp_dir=exp
asr_exp_dir=exp
device=cpu
nj=2
stage=0
stop_stage=4

help_message="Usage: $0 [options]
Stages:
  0  baselines on stage 8's folds (eGeMAPS+SVM, MFCC stats+LR, i-vector+LR, TDNN-F from scratch)
  1  layer sweep (every TDNN-F layer through stage 8)
  2  frozen vs fine-tuned top-k layers
  3  dimensional emotion (valence/arousal/dominance; IEMOCAP only)
  4  report (<exp-dir>/report/report.md)
Options:
  --conf-dir DIR     the ASR run's conf dir (default: $conf_dir)
  --corpus NAME      iemocap or the folder corpus name given to emotion_folder.sh (default: $corpus)
  --data-dir DIR     holds manifests/ and mfcc/ of the corpus (default: $data_dir)
  --exp-dir DIR      holds emotion/ and bottleneck/ of stage 7-8; outputs go here (default: $exp_dir)
  --asr-exp-dir DIR  holds tdnnf/ and ivector/ (default: $asr_exp_dir)
  --device DEV       cpu, cuda or cuda:N (default: $device)
  --nj N             torch threads of each system (default: $nj)
  --stage N --stop-stage N   slice of the stages above (default: $stage..$stop_stage)
  --config FILE      any of these options as --key=value lines"

. utils/lib.sh
. utils/parse_options.sh

[ $# -eq 0 ] || die "unexpected argument '$1'; see $0 --help"
check_int stage "$stage"
check_int stop-stage "$stop_stage"
check_stage_range "$stage" "$stop_stage" 4
[ -d "$conf_dir" ] || die "--conf-dir '$conf_dir' does not exist"
[ -f "$exp_dir/emotion/.done" ] || ls "$exp_dir"/emotion/*/metrics.json >/dev/null 2>&1 ||
  die "no stage-8 results under '$exp_dir/emotion'; run ./run.sh (or recipes/emotion_folder.sh) first"
. ./path.sh
asr2emo check-data-dir "$data_dir"
if [ "$corpus" = iemocap ]; then cuts=$data_dir/mfcc/iemocap_cuts_all_ivec.jsonl.gz
else cuts=$data_dir/mfcc/${corpus}_cuts_all_ivec.jsonl.gz; fi
[ -f "$cuts" ] || die "cuts '$cuts' do not exist; expected the stage-6 cuts of --corpus $corpus"

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  log "Stage 0: baselines on stage 8's folds"
  recipes/baselines.sh --device "$device" --num-threads "$nj" --conf-dir "$conf_dir" --manifest-dir "$data_dir/manifests" --corpus "$corpus" \
    --ivector-dir "$asr_exp_dir/ivector" --emotion-dir "$exp_dir/emotion" --exp-dir "$exp_dir/baselines"
fi
if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  log "Stage 1: layer sweep"
  recipes/layer_sweep.sh --conf-dir "$conf_dir" --asr-exp-dir "$asr_exp_dir" --cuts "$cuts" \
    --device "$device" --exp-dir "$exp_dir/sweep"
fi
if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  log "Stage 2: frozen vs fine-tuned layers"
  recipes/finetune.sh --device "$device" --num-threads "$nj" --conf-dir "$conf_dir" --asr-exp-dir "$asr_exp_dir" --cuts "$cuts" \
    --exp-dir "$exp_dir/finetune"
fi
if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  if [ "$corpus" = iemocap ]; then
    log "Stage 3: dimensional emotion"
    recipes/dimensional.sh --device "$device" --num-threads "$nj" --conf-dir "$conf_dir" --bottleneck-dir "$exp_dir/bottleneck" \
      --emotion-dir "$exp_dir/emotion" --feature-cache "$exp_dir/baselines/features" \
      --exp-dir "$exp_dir/dimensional"
  else
    log "Stage 3: skipped, folder corpus '$corpus' has no valence/arousal/dominance ratings"
  fi
fi
if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  log "Stage 4: report"
  steps/make_report.sh --corpus "$corpus" --asr-exp-dir "$asr_exp_dir" "$data_dir/manifests" \
    "$exp_dir" "$exp_dir/report"
fi
log "Done: $exp_dir/report/report.md"
