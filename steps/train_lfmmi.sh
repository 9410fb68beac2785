#!/usr/bin/env bash
# Stage 4: LF-MMI training of the TDNN-F with k2 (asr2emo train-lfmmi).
# Writes <exp-dir>/{epoch-N.pt,checkpoint-S.pt,last_checkpoint,final.pt,loss.csv,loss.png,log/,.done}.
# A killed run restarts from its newest checkpoint when rerun; a finished one is a no-op.
set -euo pipefail

device=cpu
model_config=conf/tdnnf.conf
config=
world_size=1
ivector_extractor_dir=
help_message="Usage: $0 [options] <train-cuts> <valid-cuts> <lang-dir> <exp-dir>
  e.g.: $0 --model-config conf/tdnnf.conf --config conf/lfmmi.conf \\
          data/mfcc/tedlium2_cuts_train_ivec.jsonl.gz data/mfcc/tedlium2_cuts_dev_ivec.jsonl.gz \\
          data/lang exp/tdnnf
Options:
  --device DEV          cpu, cuda or cuda:N (default: $device)
  --model-config FILE   TDNN-F topology (default: $model_config)
  --config FILE         training + loss keys, conf/lfmmi.conf-style, passed to 'asr2emo train-lfmmi'
                        (--num-epochs --max-duration --initial-lr --final-lr --save-every-n
                         --average-n --seed --den-scale --ctc-weight ...; see asr2emo train-lfmmi --help)
  --ivector-extractor-dir DIR  stage-3 extractor, recorded in the model so inference (predict,
                        transcribe) finds the matching one (default: none recorded)
  --world-size N        processes on this node: N > 1 runs torchrun --standalone --nproc_per_node N
                        with DistributedDataParallel (gloo on CPU, nccl on CUDA) (default: $world_size)
Multi-node: run on every node, from the recipe directory, with the same arguments
  torchrun --nnodes M --nproc_per_node N --rdzv_backend c10d --rdzv_endpoint HOST:29400 \\
    --rdzv_id tdnnf --redirects 2 --tee 2 -m asr2emo train-lfmmi --config conf/lfmmi.conf --model-config conf/tdnnf.conf \\
    <train-cuts> <valid-cuts> <lang-dir> <exp-dir>
  (exp-dir on a shared file system; rank 0 writes the checkpoints)."

. utils/lib.sh
. utils/parse_options.sh

if [ $# -ne 4 ]; then
  echo "$help_message" >&2
  exit 1
fi
train_cuts=$1
valid_cuts=$2
lang_dir=$3
exp_dir=$4
check_int world-size "$world_size"
[ "$world_size" -ge 1 ] || die "--world-size must be at least 1"
[ -f "$train_cuts" ] || die "train cuts '$train_cuts' do not exist (run stages 2-3)"
[ -f "$valid_cuts" ] || die "valid cuts '$valid_cuts' do not exist (run stages 2-3)"
[ -f "$lang_dir/lang.json" ] || die "lang dir '$lang_dir' has no lang.json (run stage 1)"
[ -f "$model_config" ] || die "model config '$model_config' does not exist"
[ -z "$config" ] || [ -f "$config" ] || die "config file '$config' does not exist"

. ./path.sh

mkdir -p "$exp_dir/log"
log "train-lfmmi: $train_cuts -> $exp_dir ($world_size process(es), log: $exp_dir/log/train.log)"
if [ "$world_size" -gt 1 ]; then
  # --redirects/--tee 2 (stderr to a file and the terminal): torch 1.13's torchrun cannot parse
  # their default "0" on Python 3.11 (IntFlag iteration changed), so they are given explicitly.
  torchrun --standalone --nproc_per_node "$world_size" --redirects 2 --tee 2 \
    --log_dir "$exp_dir/log/torchrun" -m asr2emo train-lfmmi \
    ${config:+--config "$config"} --model-config "$model_config" --device "$device" \
    ${ivector_extractor_dir:+--ivector-extractor-dir "$ivector_extractor_dir"} \
    "$train_cuts" "$valid_cuts" "$lang_dir" "$exp_dir"
else
  asr2emo train-lfmmi ${config:+--config "$config"} --model-config "$model_config" \
    --device "$device" ${ivector_extractor_dir:+--ivector-extractor-dir "$ivector_extractor_dir"} \
    "$train_cuts" "$valid_cuts" "$lang_dir" "$exp_dir"
fi
log "done: $exp_dir/final.pt"
