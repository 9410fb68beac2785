#!/usr/bin/env bash
# Layer sweep (the paper's Table 2 generalized): UA of the emotion head on every TDNN-F
# layer (tdnn1, tdnnf2 .. tdnnfN, prefinal), on exactly the folds of stage 8 (same emotion.conf).
# Run from the recipe root after run.sh stage 6 (features + i-vectors) and stage 4 (model):
#
#   recipes/layer_sweep.sh --conf-dir conf/mini
#   -> exp/sweep/{sweep.md,sweep.json,ua_vs_depth.png}, exp/sweep/emotion/<layer>/metrics.json
set -euo pipefail
[ -f path.sh ] && [ -f utils/lib.sh ] || { echo "$0: run it from the recipe root (where run.sh is)" >&2; exit 1; }

conf_dir=conf
asr_exp_dir=exp
cuts=data/mfcc/iemocap_cuts_all_ivec.jsonl.gz
exp_dir=exp/sweep
layers=
device=cpu

help_message="Usage: $0 [options]
Options:
  --conf-dir DIR     bottleneck.conf (chunk size), emotion.conf (head, folds), tdnnf.conf
                     (number of layers) (default: $conf_dir)
  --asr-exp-dir DIR  holds tdnnf/ (acoustic model) and ivector/ (default: $asr_exp_dir)
  --cuts FILE        IEMOCAP cuts with MFCC + i-vectors, stage 6 (default: $cuts)
  --exp-dir DIR      outputs: bottleneck/, emotion/, sweep.{md,json}, ua_vs_depth.png (default: $exp_dir)
  --layers LIST      comma list overriding 'every layer' (default: tdnn1,tdnnf2..tdnnfN,prefinal)
  --device DEV       cpu, cuda or cuda:N (default: $device)
  --config FILE      any of these options as --key=value lines"

. utils/lib.sh
. utils/parse_options.sh

[ $# -eq 0 ] || die "unexpected argument '$1'; see $0 --help"
for f in bottleneck.conf emotion.conf tdnnf.conf; do
  [ -f "$conf_dir/$f" ] || die "no $conf_dir/$f"
done
[ -e "$asr_exp_dir/tdnnf" ] || die "no acoustic model $asr_exp_dir/tdnnf (run stage 4)"
. ./path.sh
asr2emo check-data-dir "$cuts"
[ -f "$cuts" ] || die "cuts '$cuts' do not exist (run stage 6)"

if [ -z "$layers" ]; then
  num_layers=$(sed -n 's/^--num-layers=\([0-9]*\).*/\1/p' "$conf_dir/tdnnf.conf" | tail -n 1)
  check_int --num-layers "${num_layers:-}"
  layers=tdnn1
  for i in $(seq 2 "$num_layers"); do layers="$layers,tdnnf$i"; done
  layers="$layers,prefinal"
fi

# bottleneck.conf with every swept layer: same chunking/storage as stage 7.
mkdir -p "$exp_dir/conf" "$exp_dir/log"
{ grep -v -e '^--layers=' "$conf_dir/bottleneck.conf"; echo "--layers=$layers"; } \
  > "$exp_dir/conf/bottleneck.conf"

log "Layer sweep over $layers -> $exp_dir"
steps/extract_bottleneck.sh --device "$device" --config "$exp_dir/conf/bottleneck.conf" \
  "$asr_exp_dir/tdnnf" "$cuts" "$exp_dir/bottleneck"
steps/train_emotion.sh --device "$device" --config "$conf_dir/emotion.conf" \
  --acoustic-model-dir "$asr_exp_dir/tdnnf" --ivector-dir "$asr_exp_dir/ivector" \
  "$exp_dir/bottleneck" "$exp_dir/emotion"

# The paper's Table 2 points only make sense for IEMOCAP.
case "$(basename "$cuts")" in iemocap*) paper=true ;; *) paper=false ;; esac
python -m asr2emo.report.sweep --layers "$layers" --paper $paper "$exp_dir/emotion" "$exp_dir" \
  2>&1 | tee "$exp_dir/log/sweep_table.log"
log "done: $exp_dir/sweep.md"
