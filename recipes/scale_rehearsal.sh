#!/usr/bin/env bash
# Rehearse the paper-scale experiment on synthetic corpora of growing size and project it.
#
# For every size H in --hours (hours of TED-LIUM train speech): the demo generator writes a
# TED-LIUM-layout corpus of H hours (10-minute talks) and an IEMOCAP-layout corpus of about
# 0.15 H hours; the TED-LIUM dictionary is replaced by the whole CMU dictionary (133k entries, as
# large as TEDLIUM.152k.dic); then run.sh stages 0-8 run one by one with the paper's settings
# (conf/, copied, with stage 4 bounded to --steps steps; its last checkpoint becomes final.pt so
# that stages 5-8 have a model). Each stage's wall time, CPU time (all processes), peak RSS
# (largest process) and disk use are recorded; asr2emo scale-report fits the growth over H and
# projects to TED-LIUM 2 (207 h) + IEMOCAP (12 h):
#
#   recipes/scale_rehearsal.sh --hours 1,2,4 --nj 2 --steps 3
#   -> exp/scale/report.md, exp/scale/scale.json, exp/scale/rows.jsonl
set -euo pipefail
[ -f path.sh ] && [ -f utils/lib.sh ] || { echo "$0: run it from the recipe root (where run.sh is)" >&2; exit 1; }

hours=1,2,4
nj=2
steps=3
out_dir=exp/scale
conf_dir=conf
cores=16
gpus=1
gpu_speedup=30
help_message="Usage: $0 [options]
Options:
  --hours LIST        TED-LIUM train hours of each rehearsal size (default: $hours)
  --nj N              parallel jobs of every stage (default: $nj)
  --steps N           LF-MMI training steps timed per size (default: $steps)
  --out-dir DIR       work dirs h<H>/, rows.jsonl, report.md, scale.json (default: $out_dir)
  --conf-dir DIR      the settings rehearsed (default: $conf_dir, the paper's)
  --cores N --gpus N --gpu-speedup X   the machine the projection is for (default: $cores, $gpus, $gpu_speedup)"

. utils/lib.sh
. utils/parse_options.sh

[ $# -eq 0 ] || die "unexpected argument '$1'; see $0 --help"
check_int nj "$nj"
check_int steps "$steps"
[ -d "$conf_dir" ] || die "--conf-dir '$conf_dir' does not exist"
[[ $hours =~ ^[0-9]+(\.[0-9]+)?(,[0-9]+(\.[0-9]+)?)*$ ]] || die "--hours must be a comma list of numbers, got '$hours'"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is needed to measure each stage"
utils/setup_env.sh
. ./path.sh

mkdir -p "$out_dir"
rows=$out_dir/rows.jsonl
: > "$rows"
for h in ${hours//,/ }; do
  work=$out_dir/h$h
  talks=$(python -c "import math; print(max(1, math.ceil($h * 6)))")  # 600 s of speech each
  iemocap_per_speaker=$(python -c "print(max(8, round(22 * $h)))")
  log "size $h h: $talks talks of 10 min, IEMOCAP $iemocap_per_speaker kept utterances per speaker"
  start=$(date +%s)
  python local/make_demo_corpora.py --size demo --seed 0 --nj "$nj" --train-talks "$talks" \
    --train-talk-seconds 600 --eval-talks 1 --eval-talk-seconds 150 \
    --iemocap-kept-per-speaker "$iemocap_per_speaker" "$work/corpora"
  # TED-LIUM with a dictionary of TED-LIUM's size: a view of the synthetic talks + the CMU dic
  view=$work/tedlium_view
  mkdir -p "$view"
  for part in train dev test; do ln -sfn "$(cd "$work/corpora/TEDLIUM_release2/$part" && pwd)" "$view/$part"; done
  [ -f "$view/TEDLIUM.152k.dic" ] ||
    python -c "from asr2emo.data.demo.lexicon import write_full_cmudict as w; w('$view/TEDLIUM.152k.dic')"
  log "size $h h: corpora ready in $(( $(date +%s) - start )) s"
  rm -rf "$work/conf" && cp -r "$conf_dir" "$work/conf"
  printf -- '--max-steps=%s\n--log-interval=1\n' "$steps" >> "$work/conf/lfmmi.conf"
  rm -rf "$work/data" "$work/exp"  # every stage is measured doing its work, never a no-op
  mkdir -p "$work/data" "$work/exp"
  for stage in 0 1 2 3 4 5 6 7 8; do
    timing=$work/time.$stage
    /usr/bin/time -o "$timing" -f '%e %U %S %M' ./run.sh --tedlium-dir "$view" \
      --iemocap-dir "$work/corpora/IEMOCAP_full_release" --conf-dir "$work/conf" \
      --data-dir "$work/data" --exp-dir "$work/exp" --nj "$nj" --stage $stage --stop-stage $stage \
      > "$work/stage$stage.log" 2>&1 || die "size $h h, stage $stage failed; see $work/stage$stage.log"
    if [ $stage -eq 4 ]; then  # a bounded run has no final.pt: its last checkpoint stands in
      python -c "from asr2emo.model.checkpoint import final_from_last_checkpoint as f; f('$work/exp/tdnnf')"
    fi
    disk=$(du -sm "$work/data" "$work/exp" | awk '{s += $1} END {print s}')
    read -r wall user sys rss < "$timing"
    echo "{\"size\": $h, \"work\": \"$work\", \"stage\": $stage, \"nj\": $nj, \"wall_s\": $wall, \"cpu_s\": $(python -c "print($user + $sys)"), \"peak_rss_mb\": $(python -c "print($rss / 1024)"), \"disk_mb\": $disk}" >> "$rows"
    log "size $h h, stage $stage: $wall s wall, $(( ${rss} / 1024 )) MB peak RSS"
  done
done
asr2emo scale-report --conf-dir "$conf_dir" --steps "$steps" --cores "$cores" --gpus "$gpus" \
  --gpu-speedup "$gpu_speedup" "$rows" "$out_dir"
log "report: $out_dir/report.md"
