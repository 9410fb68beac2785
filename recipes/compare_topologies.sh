#!/usr/bin/env bash
# CTC vs chain output units, several training seeds each: the same recipe (run.sh stages 0-9)
# with only lang.conf/lfmmi.conf --topology and lfmmi.conf --seed changed; per run the dev/test
# WER, layer-12/13 transfer UA (stage 8), optionally the layer sweep and the transfer UA on a
# folder corpus (recipes/emotion_folder.sh), then one table:
#
#   recipes/compare_topologies.sh --conf-dir conf/mini --seeds "42 43 44" \
#     --folder-corpus ../shared/data/urdu --folder-speaker-regex '^(?P<speaker>S(?P<gender>[MF])\d+)_'
#   -> exp/topology/topology.{md,json}
#
# Stages 0-3 (corpora, lang, MFCC, i-vectors) do not depend on the seed: they run once per
# topology into <work>/<topology>/{data,base}; every seed's exp dir links base/ivector and runs
# stages 4-9. Finished runs are no-ops on a rerun (each stage's own markers).
set -euo pipefail
[ -f path.sh ] && [ -f utils/lib.sh ] || { echo "$0: run it from the recipe root (where run.sh is)" >&2; exit 1; }

conf_dir=conf/mini
topologies="ctc chain"
seeds="42 43 44"
work=exp/topology
sweep_seeds=first
folder_seeds=all
folder_corpus=
folder_speaker_regex=
nj=2
device=cpu

help_message="Usage: $0 [options]
Options:
  --conf-dir DIR              settings every run starts from (default: $conf_dir)
  --topologies LIST           output units compared (default: '$topologies')
  --seeds LIST                lfmmi.conf --seed values, one training run each (default: '$seeds')
  --work DIR                  runs and the table (default: $work)
  --sweep-seeds first|all|none  which seeds also get the layer sweep (default: $sweep_seeds)
  --folder-corpus DIR         a folder-layout emotion corpus for the transfer UA (default: none)
  --folder-seeds first|all    which seeds also run it (default: $folder_seeds)
  --folder-speaker-regex RE   its speaker regex (recipes/emotion_folder.sh --speaker-regex)
  --nj N                      parallel jobs (default: $nj)
  --device DEV                cpu, cuda or cuda:N (default: $device)
  --config FILE               any of these options as --key=value lines"

. utils/lib.sh
. utils/parse_options.sh

[ $# -eq 0 ] || die "unexpected argument '$1'; see $0 --help"
[ -d "$conf_dir" ] || die "--conf-dir '$conf_dir' does not exist"
check_int nj "$nj"
case "$sweep_seeds" in first|all|none) ;; *) die "--sweep-seeds must be first, all or none, got '$sweep_seeds'" ;; esac
case "$folder_seeds" in first|all) ;; *) die "--folder-seeds must be first or all, got '$folder_seeds'" ;; esac
for t in $topologies; do
  case "$t" in ctc|chain) ;; *) die "--topologies: unknown topology '$t' (ctc, chain)" ;; esac
done
for s in $seeds; do check_int seeds "$s"; done
if [ -n "$folder_corpus" ]; then
  check_dir_exists --folder-corpus "$folder_corpus" "DIR/<Label>/<file>.wav"
  [ -n "$folder_speaker_regex" ] || die "--folder-corpus needs --folder-speaker-regex"
fi
. ./path.sh

# A conf dir that differs from --conf-dir in the named keys only (later lines win in Kaldi
# conf files, but a clean copy keeps what was run readable).
make_conf() {  # make_conf <dest> <topology> <seed>
  local dest=$1 topo=$2 seed=$3
  rm -rf "$dest.tmp" && cp -r "$conf_dir" "$dest.tmp"
  sed -i "s/^--topology=.*/--topology=$topo/" "$dest.tmp/lang.conf" "$dest.tmp/lfmmi.conf"
  sed -i "s/^--seed=.*/--seed=$seed/" "$dest.tmp/lfmmi.conf"
  grep -q "^--topology=$topo" "$dest.tmp/lang.conf" || die "$conf_dir/lang.conf has no --topology line"
  grep -q "^--seed=$seed" "$dest.tmp/lfmmi.conf" || die "$conf_dir/lfmmi.conf has no --seed line"
  if [ -d "$dest" ] && diff -rq "$dest" "$dest.tmp" >/dev/null; then
    rm -rf "$dest.tmp"
  else
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
  fi
}

first_seed=${seeds%% *}
for topo in $topologies; do
  tdir=$work/$topo
  mkdir -p "$tdir"
  make_conf "$tdir/conf-base" "$topo" "$first_seed"
  log "$topo: stages 0-3 (seed-independent) -> $tdir/{data,base}"
  ./run.sh --stage 0 --stop-stage 3 --conf-dir "$tdir/conf-base" --data-dir "$tdir/data" \
    --exp-dir "$tdir/base" --nj "$nj" --device "$device"
  for seed in $seeds; do
    run=$tdir/s$seed
    mkdir -p "$run/exp"
    make_conf "$run/conf" "$topo" "$seed"
    ln -sfn "$(cd "$tdir/base" && pwd)/ivector" "$run/exp/ivector"
    log "$topo seed $seed: stages 4-9 -> $run/exp"
    ./run.sh --stage 4 --stop-stage 9 --conf-dir "$run/conf" --data-dir "$tdir/data" \
      --exp-dir "$run/exp" --nj "$nj" --device "$device"
    if [ "$sweep_seeds" = all ] || { [ "$sweep_seeds" = first ] && [ "$seed" = "$first_seed" ]; }; then
      recipes/layer_sweep.sh --conf-dir "$run/conf" --asr-exp-dir "$run/exp" \
        --cuts "$tdir/data/mfcc/iemocap_cuts_all_ivec.jsonl.gz" \
        --exp-dir "$run/sweep" --device "$device"
    fi
    if [ -n "$folder_corpus" ] && { [ "$folder_seeds" = all ] || [ "$seed" = "$first_seed" ]; }; then
      name=$(basename "$(cd "$folder_corpus" && pwd)" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9_\n' '_')
      recipes/emotion_folder.sh --corpus-dir "$folder_corpus" --speaker-regex "$folder_speaker_regex" \
        --conf-dir "$run/conf" --asr-exp-dir "$run/exp" --data-dir "$tdir/data-$name" \
        --exp-dir "$run/$name" --nj "$nj" --device "$device"
    fi
  done
done

python -m asr2emo.report.topology --topologies "$topologies" --seeds "$seeds" "$work"
log "done: $work/topology.md"
