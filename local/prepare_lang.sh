#!/usr/bin/env bash
# Stage 1: lang directory (lexicon, phones, L, phone LM P, word 3-gram G, HLG) from the TED-LIUM
# dictionary and the training transcripts.
set -euo pipefail

config=
help_message="Usage: $0 [options] <tedlium-dir> <manifest-dir> <lang-dir>
  e.g.: $0 --config conf/lang.conf data/corpora/TEDLIUM_release2 data/manifests data/lang
Reads <tedlium-dir>/TEDLIUM.152k.dic and <manifest-dir>/tedlium2_supervisions_train.jsonl.gz,
writes <lang-dir>/{lexicon.txt,phones.txt,words.txt,L.pt,L_disambig.pt,P.pt,G.pt,HLG.pt,lang.json}.
Options:
  --config FILE   conf/lang.conf-style file, passed to 'asr2emo prepare-lang'
                  (its keys: --vocab --sil-prob --phone-lm-order --word-lm-order --seed --build-hlg
                   --topology --min-biphone-count --min-monophone-count --ci-silence)"

. utils/lib.sh
. utils/parse_options.sh

if [ $# -ne 3 ]; then
  echo "$help_message" >&2
  exit 1
fi
tedlium_dir=$1
manifest_dir=$2
lang_dir=$3
dic=$tedlium_dir/TEDLIUM.152k.dic
[ -f "$dic" ] || die "dictionary '$dic' does not exist; expected TEDLIUM_release2 layout with TEDLIUM.152k.dic"
[ -z "$config" ] || [ -f "$config" ] || die "config file '$config' does not exist"

. ./path.sh

mkdir -p "$lang_dir/log"
log "lang: $dic + $manifest_dir -> $lang_dir (log: $lang_dir/log/prepare_lang.log)"
asr2emo prepare-lang ${config:+--config "$config"} --log-file "$lang_dir/log/prepare_lang.log" \
  "$dic" "$manifest_dir" "$lang_dir"
