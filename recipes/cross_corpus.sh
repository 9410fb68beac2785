#!/usr/bin/env bash
# Cross-corpus emotion recognition: the stage-8 head trained on one or more corpora and tested
# on another, beside the test corpus's in-domain (cross-validated) UA. Every corpus must have its
# bottleneck from the same acoustic model: run.sh stage 7 for IEMOCAP, recipes/emotion_folder.sh
# for folder corpora. The shipped example (conf/mini/cross_corpus.conf): demo IEMOCAP <-> Urdu,
#
#   ./run.sh && recipes/emotion_folder.sh --corpus-dir ../shared/data/urdu \
#       --speaker-regex '^(?P<speaker>S(?P<gender>[MF])\d+)_' --conf-dir conf/mini
#   recipes/cross_corpus.sh --config conf/mini/cross_corpus.conf
#   -> exp/cross_corpus/cross_corpus.md
set -euo pipefail
[ -f path.sh ] && [ -f utils/lib.sh ] || { echo "$0: run it from the recipe root (where run.sh is)" >&2; exit 1; }

corpora=
runs=
label_maps=
classes=
layer=tdnnf12
emotion_config=conf/mini/emotion.conf
exp_dir=exp/cross_corpus
nj=2
help_message="Usage: $0 [options]   (all of them usually in --config FILE)
Options:
  --corpora LIST        NAME=BOTTLENECK_DIR[=EMOTION_DIR],... (e.g. iemocap=exp/bottleneck=exp/emotion)
  --runs SPEC           'A->B;B->A;A+B->C'
  --label-maps SPEC     'A=label:class,...;B=label:class,...' onto --classes
  --classes LIST        the common classes, e.g. angry,happy,neutral,sad
  --layer NAME          bottleneck layer (default: $layer)
  --emotion-config FILE the head and its training, emotion.conf keys (default: $emotion_config)
  --exp-dir DIR         outputs (default: $exp_dir)
  --nj N                torch threads (default: $nj)
  --config FILE         any of these options as --key=value lines"

. utils/lib.sh
. utils/parse_options.sh
[ $# -eq 0 ] || die "unexpected argument '$1'; see $0 --help"
for v in corpora runs label_maps classes; do
  [ -n "${!v}" ] || die "--${v//_/-} is required; see $0 --help"
done
check_int nj "$nj"
[ -f "$emotion_config" ] || die "--emotion-config '$emotion_config' does not exist"
. ./path.sh

log "cross-corpus runs '$runs' on $layer -> $exp_dir"
asr2emo cross-corpus --corpora "$corpora" --runs "$runs" --label-maps "$label_maps" \
  --classes "$classes" --layer "$layer" --emotion-config "$emotion_config" --num-threads "$nj" \
  "$exp_dir"
log "done: $exp_dir/cross_corpus.md"
