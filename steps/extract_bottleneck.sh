#!/usr/bin/env bash
# Stage 7: frame-level outputs of named layers of the frozen TDNN-F over a cut set
# (asr2emo extract-bottleneck). Writes <out-dir>/<layer>/{cuts.jsonl.gz,feats/,.done}.
set -euo pipefail

device=cpu
num_threads=1
nj=1
cmd=
config=
help_message="Usage: $0 [options] <model-dir> <in-cuts> <out-dir>
  e.g.: $0 --config conf/bottleneck.conf exp/tdnnf data/mfcc/iemocap_cuts_all_ivec.jsonl.gz exp/bottleneck
Options:
  --device DEV        cpu, cuda or cuda:N (default: $device)
  --num-threads N       torch intra-op threads on the CPU (default: $num_threads)
  --nj N                parallel extraction jobs (default: $nj)
  --cmd CMD             job runner of the jobs (run.sh: \$train_cmd of cmd.sh); empty: local
  --config FILE       conf/bottleneck.conf-style file, passed to 'asr2emo extract-bottleneck'
                      (its keys: --layers=tdnnf12[,tdnnf13,prefinal,...] --chunk-size)"

. utils/lib.sh
. utils/parse_options.sh

if [ $# -ne 3 ]; then
  echo "$help_message" >&2
  exit 1
fi
model_dir=$1
in_cuts=$2
out_dir=$3
[ -e "$model_dir" ] || die "model '$model_dir' does not exist (run stage 4)"
[ -f "$in_cuts" ] || die "cuts '$in_cuts' do not exist (run stage 6)"
[ -z "$config" ] || [ -f "$config" ] || die "config file '$config' does not exist"

. ./path.sh

mkdir -p "$out_dir/log"
log "extract-bottleneck: $in_cuts -> $out_dir (log: $out_dir/log/extract_bottleneck.log)"
asr2emo extract-bottleneck ${config:+--config "$config"} --device "$device" \
  --num-threads "$num_threads" --nj "$nj" ${cmd:+--cmd "$cmd"} \
  --log-file "$out_dir/log/extract_bottleneck.log" "$model_dir" "$in_cuts" "$out_dir"
log "done: $out_dir"
