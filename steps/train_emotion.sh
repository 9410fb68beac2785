#!/usr/bin/env bash
# Stage 8: emotion head on bottleneck frames, leave-one-session-out CV, deployable model.
# Reads <bottleneck-dir>/<layer>/cuts.jsonl.gz (every finished layer), writes
# <emotion-dir>/<layer>/{fold-*/,metrics.json} and <emotion-dir>/model/.
set -euo pipefail

device=cpu
num_threads=1
config=
acoustic_model_dir=
ivector_dir=
help_message="Usage: $0 [options] <bottleneck-dir> <emotion-dir>
  e.g.: $0 --config conf/emotion.conf exp/bottleneck exp/emotion
Options:
  --device DEV        cpu, cuda or cuda:N (default: $device)
  --num-threads N       torch intra-op threads on the CPU (default: $num_threads)
  --acoustic-model-dir DIR  TDNN-F dir copied into <emotion-dir>/model (default: <bottleneck-dir>/../tdnnf)
  --ivector-dir DIR   i-vector extractor dir copied into the model (default: <bottleneck-dir>/../ivector)
  --config FILE       conf/emotion.conf-style file, passed to 'asr2emo train-emotion'
                      (its keys: --classes --hidden-dims --dropout --lr --batch-size
                       --max-epochs --patience --class-weight --seed --model-layer ...)"

. utils/lib.sh
. utils/parse_options.sh

if [ $# -ne 2 ]; then
  echo "$help_message" >&2
  exit 1
fi
bottleneck_dir=$1
emotion_dir=$2
[ -d "$bottleneck_dir" ] || die "bottleneck dir '$bottleneck_dir' does not exist (run stage 7)"
[ -z "$config" ] || [ -f "$config" ] || die "config file '$config' does not exist"

. ./path.sh

# Finished layers, folds and the model each have their own .done: a rerun only does what is missing.
mkdir -p "$emotion_dir/log"
log "emotion head: $bottleneck_dir -> $emotion_dir (log: $emotion_dir/log/train_emotion.log)"
asr2emo train-emotion ${config:+--config "$config"} --device "$device" \
  --num-threads "$num_threads" \
  ${acoustic_model_dir:+--acoustic-model-dir "$acoustic_model_dir"} \
  ${ivector_dir:+--ivector-dir "$ivector_dir"} \
  "$bottleneck_dir" "$emotion_dir"
log "done: $(ls -d "$emotion_dir"/*/metrics.json | tr '\n' ' ')"
