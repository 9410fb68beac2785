#!/usr/bin/env bash
# asr2emo: speech emotion recognition by transfer from an LF-MMI TDNN-F acoustic model
# (Zhou & Beigi). TED-LIUM release 2 trains the acoustic model (stages 0-5); IEMOCAP is run
# through its layer 12 and an emotion head is cross-validated on the bottleneck (stages 6-9).
#
# With no corpus paths, small corpora in the real corpora's layouts are synthesized in stage 0
# and the whole recipe runs at conf/mini scale on a laptop.
#
#   ./run.sh                                        # demo, stages 0-9
#   ./run.sh --tedlium-dir /corpora/TEDLIUM_release2 --iemocap-dir /corpora/IEMOCAP_full_release
#   ./run.sh --stage 7 --stop-stage 8               # any slice; finished stages are no-ops
set -euo pipefail
[ -f path.sh ] && [ -f utils/lib.sh ] || { echo "run.sh: run it from the recipe directory (where run.sh is)" >&2; exit 1; }

stage=0
stop_stage=9
tedlium_dir=
iemocap_dir=
conf_dir=
data_dir=data
exp_dir=exp
nj=2
nj_train=1
device=cpu

help_message="Usage: $0 [options]
Stages:
  0  corpora -> lhotse manifests (demo corpora synthesized when no corpus path is given)
  1  lang: lexicon, phones, L, phone LM P (denominator), word 3-gram G, HLG
  2  TED-LIUM hires MFCC (40-dim, kaldi-native-fbank), speed perturbation, global CMVN
  3  i-vector extractor (PCA, diagonal UBM, T-matrix) + online i-vectors for TED-LIUM
  4  LF-MMI training of the TDNN-F with k2 (resumable; torchrun DDP when --nj-train > 1)
  5  decode TED-LIUM dev/test with HLG, WER
  6  IEMOCAP hires MFCC + online i-vectors with the stage-3 extractor
  7  bottleneck extraction: frozen TDNN-F up to the configured layer (default tdnnf12)
  8  emotion head: frame-level training, summed-softmax decision, leave-one-session-out CV
  9  report: paper Tables 1-3 beside ours, confusion matrix, curves, WER
Options:
  --stage N           first stage to run (default: $stage)
  --stop-stage N      last stage to run (default: $stop_stage)
  --tedlium-dir DIR   TEDLIUM_release2 root with {train,dev,test}/{sph,stm}/ (default: demo corpus)
  --iemocap-dir DIR   IEMOCAP_full_release root with Session{1..5}/ (default: demo corpus)
  --conf-dir DIR      config directory (default: conf, or conf/mini when both corpora are demos)
  --data-dir DIR      manifests, features, lang (default: $data_dir)
  --exp-dir DIR       models, logs, reports (default: $exp_dir)
  --nj N              parallel jobs (default: $nj)
  --nj-train N        training processes of stage 4 (torchrun DDP; default: $nj_train)
  --device DEV        cpu, cuda or cuda:N (default: $device)
  --config FILE       read any of these options from a file of --key=value lines
Rerunning a finished stage is a no-op; a killed stage restarts cleanly."

. utils/lib.sh
. utils/parse_options.sh

[ $# -eq 0 ] || die "unexpected argument '$1'; see $0 --help"
check_int stage "$stage"
check_int stop-stage "$stop_stage"
check_int nj "$nj"
check_int nj-train "$nj_train"
[ "$nj_train" -ge 1 ] || die "--nj-train must be at least 1"
[ "$nj" -ge 1 ] || die "--nj must be at least 1"
[[ $device =~ ^(cpu|cuda|cuda:[0-9]+)$ ]] || die "--device must be cpu, cuda or cuda:N, got '$device'"
check_stage_range "$stage" "$stop_stage" 9

tedlium_layout="TEDLIUM_release2 layout: DIR/{train,dev,test}/{sph,stm}/ and DIR/TEDLIUM.152k.dic"
iemocap_layout="IEMOCAP_full_release layout: DIR/Session{1..5}/dialog/EmoEvaluation/*.txt and DIR/Session{1..5}/sentences/wav/<dialog>/<utt>.wav"
demo_tedlium=false
demo_iemocap=false
if [ -z "$tedlium_dir" ]; then
  demo_tedlium=true
  tedlium_dir=$data_dir/corpora/TEDLIUM_release2
else
  check_dir_exists --tedlium-dir "$tedlium_dir" "$tedlium_layout"
  for part in train dev test; do
    for sub in sph stm; do
      [ -d "$tedlium_dir/$part/$sub" ] || die "--tedlium-dir '$tedlium_dir' has no $part/$sub/; expected $tedlium_layout"
    done
  done
  [ -f "$tedlium_dir/TEDLIUM.152k.dic" ] || die "--tedlium-dir '$tedlium_dir' has no TEDLIUM.152k.dic; expected $tedlium_layout"
fi
if [ -z "$iemocap_dir" ]; then
  demo_iemocap=true
  iemocap_dir=$data_dir/corpora/IEMOCAP_full_release
else
  check_dir_exists --iemocap-dir "$iemocap_dir" "$iemocap_layout"
  # The whole layout before any work (the demo TED-LIUM synthesis would come first).
  ls -d "$iemocap_dir"/Session[1-5] >/dev/null 2>&1 || die "--iemocap-dir '$iemocap_dir' has no Session1..Session5; expected $iemocap_layout"
  for s in 1 2 3 4 5; do
    for sub in dialog/EmoEvaluation sentences/wav; do
      [ -d "$iemocap_dir/Session$s/$sub" ] || die "--iemocap-dir '$iemocap_dir' has no Session$s/$sub/ (the 5-fold protocol needs all five sessions); expected $iemocap_layout"
    done
  done
fi
if [ -z "$conf_dir" ]; then
  if $demo_tedlium && $demo_iemocap; then conf_dir=conf/mini; else conf_dir=conf; fi
fi
[ -d "$conf_dir" ] || die "--conf-dir '$conf_dir' does not exist"

utils/setup_env.sh
. ./path.sh
. ./cmd.sh  # train_cmd / decode_cmd: the job runner of every --nj step

manifests=$data_dir/manifests
mfcc=$data_dir/mfcc
lang=$data_dir/lang
# Stages 3-9 read $data_dir/mfcc/: features an older run left in $data_dir/fbank/ stop the run
# here, naming the fix (a run from stage 2 or before writes mfcc/ anew).
[ $stage -le 2 ] || asr2emo check-data-dir "$data_dir"
log "asr2emo run.sh: stages $stage..$stop_stage, conf $conf_dir, data $data_dir, exp $exp_dir"
$demo_tedlium && log "TED-LIUM: demo corpus ($tedlium_dir)"
$demo_iemocap && log "IEMOCAP: demo corpus ($iemocap_dir)"

# require_step SCRIPT: a stage whose step does not exist yet fails instead of being skipped.
require_step() { [ -x "$1" ] || not_implemented "$2 ($1)"; }

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  log "Stage 0: corpora -> lhotse manifests"
  if $demo_tedlium || $demo_iemocap; then
    corpora=
    $demo_tedlium && corpora=tedlium
    $demo_iemocap && corpora=${corpora:+$corpora,}iemocap
    python local/make_demo_corpora.py --config $conf_dir/demo.conf --corpora $corpora \
      $data_dir/corpora
  fi
  python local/prepare_tedlium.py --nj $nj "$tedlium_dir" $manifests
  python local/prepare_iemocap.py --config $conf_dir/iemocap.conf "$iemocap_dir" $manifests
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  log "Stage 1: lang (lexicon, L, P, G, HLG)"
  require_step local/prepare_lang.sh "stage 1 (lang)"
  local/prepare_lang.sh --config $conf_dir/lang.conf "$tedlium_dir" $manifests $lang
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  log "Stage 2: TED-LIUM hires MFCC, speed perturbation, CMVN"
  require_step steps/make_mfcc.sh "stage 2 (MFCC)"
  steps/make_mfcc.sh --nj $nj --cmd "$train_cmd" --config $conf_dir/mfcc_hires.conf --speed-perturb true \
    $manifests tedlium2 $mfcc
fi

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ]; then
  log "Stage 3: i-vector extractor + TED-LIUM online i-vectors"
  require_step steps/train_ivector_extractor.sh "stage 3 (i-vector extractor)"
  steps/train_ivector_extractor.sh --nj $nj --config $conf_dir/ivector.conf \
    $mfcc/tedlium2_cuts_train.jsonl.gz $exp_dir/ivector
  for part in train dev test; do
    steps/extract_ivectors.sh --nj $nj --cmd "$train_cmd" $exp_dir/ivector $mfcc/tedlium2_cuts_$part.jsonl.gz \
      $mfcc/tedlium2_cuts_${part}_ivec.jsonl.gz
  done
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  log "Stage 4: LF-MMI training of the TDNN-F (k2)"
  require_step steps/train_lfmmi.sh "stage 4 (LF-MMI training)"
  steps/train_lfmmi.sh --device $device --world-size $nj_train \
    --ivector-extractor-dir $exp_dir/ivector --model-config $conf_dir/tdnnf.conf \
    --config $conf_dir/lfmmi.conf $mfcc/tedlium2_cuts_train_ivec.jsonl.gz \
    $mfcc/tedlium2_cuts_dev_ivec.jsonl.gz $lang $exp_dir/tdnnf
fi

if [ $stage -le 5 ] && [ $stop_stage -ge 5 ]; then
  log "Stage 5: decode dev/test, WER"
  require_step steps/decode.sh "stage 5 (decoding)"
  for part in dev test; do
    steps/decode.sh --device $device --num-threads $nj --nj $nj --cmd "$decode_cmd" --config $conf_dir/decode.conf $exp_dir/tdnnf $lang \
      $mfcc/tedlium2_cuts_${part}_ivec.jsonl.gz $exp_dir/tdnnf/decode_$part
  done
fi

if [ $stage -le 6 ] && [ $stop_stage -ge 6 ]; then
  log "Stage 6: IEMOCAP hires MFCC + online i-vectors"
  require_step steps/make_mfcc.sh "stage 6 (MFCC)"
  require_step steps/extract_ivectors.sh "stage 6 (i-vectors)"
  steps/make_mfcc.sh --nj $nj --cmd "$train_cmd" --config $conf_dir/mfcc_hires.conf --speed-perturb false \
    $manifests iemocap $mfcc
  steps/extract_ivectors.sh --nj $nj --cmd "$train_cmd" $exp_dir/ivector $mfcc/iemocap_cuts_all.jsonl.gz \
    $mfcc/iemocap_cuts_all_ivec.jsonl.gz
fi

if [ $stage -le 7 ] && [ $stop_stage -ge 7 ]; then
  log "Stage 7: bottleneck extraction"
  require_step steps/extract_bottleneck.sh "stage 7 (bottleneck extraction)"
  steps/extract_bottleneck.sh --device $device --num-threads $nj --nj $nj --cmd "$train_cmd" --config $conf_dir/bottleneck.conf $exp_dir/tdnnf \
    $mfcc/iemocap_cuts_all_ivec.jsonl.gz $exp_dir/bottleneck
fi

if [ $stage -le 8 ] && [ $stop_stage -ge 8 ]; then
  log "Stage 8: emotion head, leave-one-session-out CV"
  require_step steps/train_emotion.sh "stage 8 (emotion head)"
  steps/train_emotion.sh --device $device --num-threads $nj --config $conf_dir/emotion.conf $exp_dir/bottleneck \
    $exp_dir/emotion
fi

if [ $stage -le 9 ] && [ $stop_stage -ge 9 ]; then
  log "Stage 9: report"
  require_step steps/make_report.sh "stage 9 (report)"
  steps/make_report.sh $manifests $exp_dir $exp_dir/report
fi

log "Done: stages $stage..$stop_stage"
