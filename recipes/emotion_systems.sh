#!/usr/bin/env bash
# Emotion systems beyond the paper on exactly stage 8's folds (the paper's frame head retrained
# per inner fold, its layer mixture, utterance heads, early and score fusion with eGeMAPS, each
# with its class balance), and the one chosen on training-session speakers (inner
# leave-one-session-out), beside the paper's system and eGeMAPS + SVM. After run.sh stages 0-8
# (or recipes/emotion_folder.sh for a folder corpus):
#
#   recipes/emotion_systems.sh --conf-dir conf/mini                       # the demo IEMOCAP
#   recipes/emotion_systems.sh --conf-dir conf/mini --corpus urdu --data-dir data/urdu \
#       --exp-dir exp/urdu                                                # a folder corpus
#   -> <exp-dir>/systems/comparison.md (+ .json, layer_weights.png), metrics.json (every
#      system's fold-mean UA/WA, the one to deploy), deploy/model (asr2emo predict reads it)
#
# Steps: every layer's bottleneck (tdnn1, tdnnf2..N; shared with recipes/layer_sweep.sh, so a
# finished sweep is reused), eGeMAPS + SVM of the baselines (recipes/baselines.sh, reused when
# done), then `asr2emo emotion-systems` (conf: <conf-dir>/systems.conf).
set -euo pipefail
[ -f path.sh ] && [ -f utils/lib.sh ] || { echo "$0: run it from the recipe root (where run.sh is)" >&2; exit 1; }

conf_dir=conf
corpus=iemocap
data_dir=data
exp_dir=exp
asr_exp_dir=exp
device=cpu
nj=2
help_message="Usage: $0 [options]
Options:
  --conf-dir DIR     the ASR run's conf dir: bottleneck.conf, tdnnf.conf, emotion.conf,
                     baselines.conf, systems.conf (default: $conf_dir)
  --corpus NAME      iemocap or the folder corpus name given to emotion_folder.sh (default: $corpus)
  --data-dir DIR     holds manifests/ and mfcc/ of the corpus (default: $data_dir)
  --exp-dir DIR      holds emotion/ and bottleneck/ of stages 7-8; outputs in systems/ (default: $exp_dir)
  --asr-exp-dir DIR  holds tdnnf/ and ivector/ (default: $asr_exp_dir)
  --device DEV       cpu, cuda or cuda:N: bottleneck extraction (default: $device)
  --nj N             parallel jobs / torch threads (default: $nj)
  --config FILE      any of these options as --key=value lines"

. utils/lib.sh
. utils/parse_options.sh

[ $# -eq 0 ] || die "unexpected argument '$1'; see $0 --help"
check_int nj "$nj"
for f in bottleneck.conf tdnnf.conf emotion.conf baselines.conf systems.conf; do
  [ -f "$conf_dir/$f" ] || die "no $conf_dir/$f"
done
ls "$exp_dir"/emotion/*/metrics.json >/dev/null 2>&1 ||
  die "no stage-8 results under '$exp_dir/emotion'; run ./run.sh (or recipes/emotion_folder.sh) first"
. ./path.sh
asr2emo check-data-dir "$data_dir"
if [ "$corpus" = iemocap ]; then cuts=$data_dir/mfcc/iemocap_cuts_all_ivec.jsonl.gz
else cuts=$data_dir/mfcc/${corpus}_cuts_all_ivec.jsonl.gz; fi
[ -f "$cuts" ] || die "cuts '$cuts' do not exist; expected the stage-6 cuts of --corpus $corpus"
. ./cmd.sh

num_layers=$(sed -n 's/^--num-layers=\([0-9]*\).*/\1/p' "$conf_dir/tdnnf.conf" | tail -n 1)
check_int --num-layers "${num_layers:-}"
layers=tdnn1
for i in $(seq 2 "$num_layers"); do layers="$layers,tdnnf$i"; done
sweep=$exp_dir/sweep
mkdir -p "$sweep/conf"
{ grep -v -e '^--layers=' "$conf_dir/bottleneck.conf"; echo "--layers=$layers"; } > "$sweep/conf/bottleneck_layers.conf"
log "every layer's bottleneck ($layers) -> $sweep/bottleneck"
steps/extract_bottleneck.sh --device "$device" --num-threads "$nj" --nj "$nj" --cmd "$train_cmd" \
  --config "$sweep/conf/bottleneck_layers.conf" "$asr_exp_dir/tdnnf" "$cuts" "$sweep/bottleneck"

if [ ! -f "$exp_dir/baselines/egemaps_svm/metrics.json" ]; then
  log "eGeMAPS + SVM on stage 8's folds (the reference) -> $exp_dir/baselines"
  recipes/baselines.sh --device "$device" --num-threads "$nj" --conf-dir "$conf_dir" --manifest-dir "$data_dir/manifests" \
    --corpus "$corpus" --ivector-dir "$asr_exp_dir/ivector" --emotion-dir "$exp_dir/emotion" \
    --exp-dir "$exp_dir/baselines" --systems egemaps_svm
fi

log "emotion systems -> $exp_dir/systems"
asr2emo emotion-systems --config "$conf_dir/systems.conf" --emotion-config "$conf_dir/emotion.conf" \
  --num-threads "$nj" --layers "$layers" --features-dir "$exp_dir/baselines/features" \
  --reference-dir "$exp_dir/baselines" "$exp_dir/emotion" "$exp_dir/bottleneck" "$sweep/bottleneck" \
  "$data_dir/manifests" "$corpus" "$exp_dir/systems"
log "done: $exp_dir/systems/comparison.md"
