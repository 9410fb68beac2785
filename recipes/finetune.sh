#!/usr/bin/env bash
# Fine-tuning strategies: the frozen TDNN-F of the paper (k=0, = stage 8) vs training
# the top k TDNN-F layers ending at the bottleneck layer together with the emotion head, on the
# folds of stage 8 (same emotion.conf). Run from the recipe root after run.sh stage 6:
#
#   recipes/finetune.sh --conf-dir conf/mini
#   -> exp/finetune/tdnnf12/{finetune.md,finetune.json,k<k>/metrics.json}
set -euo pipefail
[ -f path.sh ] && [ -f utils/lib.sh ] || { echo "$0: run it from the recipe root (where run.sh is)" >&2; exit 1; }

conf_dir=conf
device=cpu
num_threads=1
asr_exp_dir=exp
cuts=data/mfcc/iemocap_cuts_all_ivec.jsonl.gz
exp_dir=exp/finetune

help_message="Usage: $0 [options]
Options:
  --device DEV          cpu, cuda or cuda:N (default: $device)
  --num-threads N       torch intra-op threads on the CPU (default: $num_threads)
  --conf-dir DIR     finetune.conf (layer, k list, lr factor) and emotion.conf (head, folds)
                     (default: $conf_dir)
  --asr-exp-dir DIR  holds tdnnf/ (acoustic model) (default: $asr_exp_dir)
  --cuts FILE        IEMOCAP cuts with MFCC + i-vectors, stage 6 (default: $cuts)
  --exp-dir DIR      outputs, one sub-directory per layer (default: $exp_dir)
  --config FILE      any of these options as --key=value lines"

. utils/lib.sh
. utils/parse_options.sh

[ $# -eq 0 ] || die "unexpected argument '$1'; see $0 --help"
for f in finetune.conf emotion.conf; do
  [ -f "$conf_dir/$f" ] || die "no $conf_dir/$f"
done
[ -e "$asr_exp_dir/tdnnf" ] || die "no acoustic model $asr_exp_dir/tdnnf (run stage 4)"
. ./path.sh
asr2emo check-data-dir "$cuts"
[ -f "$cuts" ] || die "cuts '$cuts' do not exist (run stage 6)"

mkdir -p "$exp_dir/log"
log "fine-tuning: $asr_exp_dir/tdnnf on $cuts -> $exp_dir (log: $exp_dir/<layer>/log/finetune_emotion.log)"
asr2emo finetune-emotion --device "$device" --num-threads "$num_threads" --config "$conf_dir/finetune.conf" \
  --emotion-config "$conf_dir/emotion.conf" "$asr_exp_dir/tdnnf" "$cuts" "$exp_dir"
log "done: $(ls "$exp_dir"/*/finetune.md | tr '\n' ' ')"
