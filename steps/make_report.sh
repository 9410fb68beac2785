#!/usr/bin/env bash
# Stage 9: report.md, metrics.json and PNGs (paper Tables 1-3 beside ours, confusion matrix,
# head training curves, WER). Cheap, so it is always rewritten from the current outputs.
set -euo pipefail

corpus=iemocap
emotion_dir=
asr_exp_dir=
layer=
help_message="Usage: $0 [options] <manifest-dir> <exp-dir> <report-dir>
  e.g.: $0 data/manifests exp exp/report
Options:
  --corpus NAME       manifest prefix <corpus>_supervisions_all.jsonl.gz (default: $corpus;
                      the paper's figures are printed for iemocap only)
  --emotion-dir DIR   stage 8 output (default: <exp-dir>/emotion)
  --asr-exp-dir DIR   run.sh exp dir with tdnnf/decode_*/wer.txt (default: <exp-dir>)
  --layer NAME        layer of Table 3 (default: the deployable model's layer)"

. utils/lib.sh
. utils/parse_options.sh

if [ $# -ne 3 ]; then
  echo "$help_message" >&2
  exit 1
fi
manifest_dir=$1
exp_dir=$2
report_dir=$3
[ -d "$exp_dir" ] || die "exp dir '$exp_dir' does not exist"

. ./path.sh

mkdir -p "$report_dir/log"
asr2emo make-report --corpus "$corpus" ${emotion_dir:+--emotion-dir "$emotion_dir"} \
  ${asr_exp_dir:+--asr-exp-dir "$asr_exp_dir"} \
  ${layer:+--layer "$layer"} "$manifest_dir" "$exp_dir" "$report_dir"
log "report: $report_dir/report.md"
