#!/usr/bin/env bash
# The demo recipe end to end once per job runner, and a check that every run wrote the same.
#
# For each runner in --runners ("local": the steps' own Python processes, no runner; or a
# command such as utils/run.pl or utils/slurm.pl, exported as train_cmd and decode_cmd), run.sh
# runs stages 0-8 with --nj N into <out-dir>/<name>/{data,exp}; recipes/compare_runs.py then
# compares every manifest (paths relative to the run), every feature, i-vector and bottleneck
# array, the WERs and the emotion metrics against the first runner's.
#
#   recipes/compare_job_runners.sh --nj 4 --runners "local utils/run.pl utils/slurm.pl"
set -euo pipefail
[ -f path.sh ] && [ -f utils/lib.sh ] || { echo "$0: run it from the recipe root (where run.sh is)" >&2; exit 1; }

nj=4
runners="local utils/run.pl"
out_dir=exp/runners
stop_stage=8
help_message="Usage: $0 [options]
Options:
  --nj N              parallel jobs of every --nj step (default: $nj)
  --runners LIST      space-separated: local and/or job-runner commands (default: '$runners')
  --out-dir DIR       one <runner name>/ per runner (default: $out_dir)
  --stop-stage N      last run.sh stage (default: $stop_stage)"

. utils/lib.sh
. utils/parse_options.sh
[ $# -eq 0 ] || die "unexpected argument '$1'; see $0 --help"
check_int nj "$nj"
utils/setup_env.sh
. ./path.sh

mkdir -p "$out_dir"
dirs=()
for runner in $runners; do
  name=$(basename "${runner%% *}")
  name=${name%.pl}
  work=$out_dir/$name
  cmd=$runner
  [ "$runner" = local ] && cmd=
  log "runner '$runner': ./run.sh --nj $nj -> $work"
  start=$(date +%s)
  train_cmd=$cmd decode_cmd=$cmd ./run.sh --nj "$nj" --stage 0 --stop-stage "$stop_stage" \
    --data-dir "$work/data" --exp-dir "$work/exp" > "$work.log" 2>&1 \
    || die "runner '$runner' failed; see $work.log"
  log "runner '$runner': $(( $(date +%s) - start )) s"
  dirs+=("$work")
done
python recipes/compare_runs.py "${dirs[@]}"
