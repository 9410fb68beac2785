#!/usr/bin/env bash
# Transfer emotion recognition on any corpus in the folder layout <corpus-dir>/<Label>/<file>.wav
# (Emo-DB, RAVDESS, URDU, ...), with the acoustic model and i-vector extractor of a finished
# run.sh (stages 3 and 4). The same steps as run.sh stages 6-9: manifests (label = folder, speaker
# from a regex on the file name, any rate -> 16 kHz), hires MFCC, online i-vectors, bottleneck,
# leave-speaker-group-out CV of the emotion head, report. Run from the recipe root:
#
#   recipes/emotion_folder.sh --corpus-dir ../shared/data/urdu --speaker-regex '^(S[MF]\d+)_'
#   -> exp/urdu/report/report.md, exp/urdu/report/metrics.json, exp/urdu/emotion/model/
set -euo pipefail
[ -f path.sh ] && [ -f utils/lib.sh ] || { echo "$0: run it from the recipe root (where run.sh is)" >&2; exit 1; }

stage=0
stop_stage=5
corpus_dir=
speaker_regex=
num_folds=5
name=
asr_exp_dir=exp
exp_dir=
data_dir=
conf_dir=
nj=2
device=cpu
seed=1

help_message="Usage: $0 --corpus-dir DIR --speaker-regex REGEX [options]
Stages:
  0  manifests <data-dir>/manifests/<name>_{recordings,supervisions}_all.jsonl.gz
  1  hires MFCC            2  online i-vectors (<asr-exp-dir>/ivector)
  3  bottleneck (<asr-exp-dir>/tdnnf)      4  emotion head CV + model      5  report
Options:
  --corpus-dir DIR      corpus root: DIR/<Label>/<file>.wav|flac (label = folder name, lowercased)
  --speaker-regex RE    regex on the file name; group 'speaker' or the first group = speaker,
                        optional group 'gender' (e.g. '^(?P<speaker>S(?P<gender>[MF])\\d+)_')
  --num-folds K         speaker groups for cross-validation; 0: one fold per speaker (default: $num_folds)
  --name NAME           manifest prefix (default: the corpus dir name, lowercased)
  --asr-exp-dir DIR     run.sh exp dir with ivector/ and tdnnf/ (default: $asr_exp_dir)
  --exp-dir DIR         outputs (default: exp/<name>)
  --data-dir DIR        manifests and features (default: data/<name>)
  --conf-dir DIR        mfcc_hires.conf, bottleneck.conf, emotion.conf (default: conf or conf/mini,
                        whichever the acoustic model in <asr-exp-dir>/tdnnf was trained with)
  --stage N --stop-stage N  slice of the stages above (default: $stage..$stop_stage)
  --nj N                parallel jobs (default: $nj)
  --device DEV          cpu, cuda or cuda:N (default: $device)
  --seed N              speaker-group assignment seed (default: $seed)
  --config FILE         any of these options as --key=value lines"

. utils/lib.sh
. utils/parse_options.sh

[ $# -eq 0 ] || die "unexpected argument '$1'; see $0 --help"
[ -n "$corpus_dir" ] || die "--corpus-dir is required; see $0 --help"
[ -n "$speaker_regex" ] || die "--speaker-regex is required; see $0 --help"
check_dir_exists --corpus-dir "$corpus_dir" "DIR/<Label>/<file>.wav"
check_int num-folds "$num_folds"
check_int stage "$stage"
check_int stop-stage "$stop_stage"
check_stage_range "$stage" "$stop_stage" 5
check_int nj "$nj"
. ./path.sh
. ./cmd.sh  # train_cmd: the job runner of the --nj steps
if [ -z "$conf_dir" ]; then
  if conf_dir=$(asr2emo model-conf "$asr_exp_dir/tdnnf" conf conf/mini 2>/dev/null); then
    log "--conf-dir $conf_dir: the one the acoustic model in $asr_exp_dir/tdnnf was trained with"
  else
    conf_dir=conf
    log "WARNING: no acoustic model of conf or conf/mini in $asr_exp_dir/tdnnf; using --conf-dir conf"
  fi
elif [ -f "$asr_exp_dir/tdnnf/final.pt" ] && ! asr2emo model-conf "$asr_exp_dir/tdnnf" "$conf_dir" >/dev/null 2>&1; then
  log "WARNING: $conf_dir/tdnnf.conf does not describe the acoustic model in $asr_exp_dir/tdnnf (trained with another conf dir?); its other confs are used as given"
fi
[ -d "$conf_dir" ] || die "--conf-dir '$conf_dir' does not exist"
if [ -z "$name" ]; then
  name=$(basename "$(cd "$corpus_dir" && pwd)" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9_\n' '_')
fi
exp_dir=${exp_dir:-exp/$name}
data_dir=${data_dir:-data/$name}
manifests=$data_dir/manifests
mfcc=$data_dir/mfcc
[ $stage -le 1 ] || asr2emo check-data-dir "$data_dir"  # features of an older run in fbank/

log "emotion_folder.sh: corpus $corpus_dir as '$name', stages $stage..$stop_stage, data $data_dir, exp $exp_dir"

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  log "Stage 0: folder corpus -> manifests ($num_folds speaker groups; 0 = one per speaker)"
  # Reruns only when the corpus or these options changed (the marker records both).
  asr2emo prepare-folder --speaker-regex "$speaker_regex" --num-folds "$num_folds" \
    --seed "$seed" --name "$name" "$corpus_dir" "$manifests"
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  log "Stage 1: hires MFCC"
  steps/make_mfcc.sh --nj $nj --config $conf_dir/mfcc_hires.conf --speed-perturb false \
    $manifests $name $mfcc
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  log "Stage 2: online i-vectors with $asr_exp_dir/ivector"
  steps/extract_ivectors.sh --nj $nj $asr_exp_dir/ivector $mfcc/${name}_cuts_all.jsonl.gz \
    $mfcc/${name}_cuts_all_ivec.jsonl.gz
fi

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  log "Stage 3: bottleneck of $asr_exp_dir/tdnnf"
  [ -x steps/extract_bottleneck.sh ] || not_implemented "bottleneck extraction (steps/extract_bottleneck.sh)"
  steps/extract_bottleneck.sh --device $device --num-threads $nj --nj $nj --cmd "$train_cmd" --config $conf_dir/bottleneck.conf $asr_exp_dir/tdnnf \
    $mfcc/${name}_cuts_all_ivec.jsonl.gz $exp_dir/bottleneck
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  log "Stage 4: emotion head, leave-speaker-group-out CV, deployable model"
  steps/train_emotion.sh --device $device --num-threads $nj --config $conf_dir/emotion.conf \
    --acoustic-model-dir $asr_exp_dir/tdnnf --ivector-dir $asr_exp_dir/ivector \
    $exp_dir/bottleneck $exp_dir/emotion
fi

if [ $stage -le 5 ] && [ $stop_stage -ge 5 ]; then
  log "Stage 5: report"
  steps/make_report.sh --corpus $name --asr-exp-dir $asr_exp_dir $manifests $exp_dir \
    $exp_dir/report
fi

if [ $stop_stage -ge 5 ]; then
  log "Done: stages $stage..$stop_stage; report: $exp_dir/report/report.md"
else
  log "Done: stages $stage..$stop_stage (the report is stage 5)"
fi
