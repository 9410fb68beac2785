#!/usr/bin/env bash
# Stage 5: 1-best HLG decoding of a cut set with a trained TDNN-F, WER with kaldialign.
# Writes <decode-dir>/{wer.txt,errs.txt,hyp.txt,decode.json,.done}.
set -euo pipefail

device=cpu
num_threads=1
nj=1
cmd=
config=
help_message="Usage: $0 [options] <model-dir> <lang-dir> <cuts> <decode-dir>
  e.g.: $0 --config conf/decode.conf exp/tdnnf data/lang data/mfcc/tedlium2_cuts_test_ivec.jsonl.gz exp/tdnnf/decode_test
Options:
  --device DEV        cpu, cuda or cuda:N (default: $device)
  --num-threads N       torch intra-op threads on the CPU (default: $num_threads)
  --nj N                parallel decoding jobs, each with its own HLG (default: $nj)
  --cmd CMD             job runner of the jobs (run.sh: \$decode_cmd of cmd.sh); empty: local
  --config FILE       conf/decode.conf-style file, passed to 'asr2emo decode'
                      (its keys: --search-beam --output-beam --min-active-states
                       --max-active-states --max-duration)"

. utils/lib.sh
. utils/parse_options.sh

if [ $# -ne 4 ]; then
  echo "$help_message" >&2
  exit 1
fi
model_dir=$1
lang_dir=$2
cuts=$3
decode_dir=$4
[ -e "$model_dir" ] || die "model '$model_dir' does not exist (run stage 4)"
[ -f "$lang_dir/HLG.pt" ] || die "lang dir '$lang_dir' has no HLG.pt (run stage 1)"
[ -f "$cuts" ] || die "cuts '$cuts' do not exist"
[ -z "$config" ] || [ -f "$config" ] || die "config file '$config' does not exist"

. ./path.sh

mkdir -p "$decode_dir/log"
log "decode: $cuts -> $decode_dir (log: $decode_dir/log/decode.log)"
asr2emo decode ${config:+--config "$config"} --device "$device" \
  --num-threads "$num_threads" --nj "$nj" ${cmd:+--cmd "$cmd"} \
  --log-file "$decode_dir/log/decode.log" "$model_dir" "$lang_dir" "$cuts" "$decode_dir"
log "$(cat "$decode_dir/wer.txt")"
