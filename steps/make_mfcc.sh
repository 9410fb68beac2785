#!/usr/bin/env bash
# Hires MFCC (40-dim, kaldi-native-fbank as a lhotse FeatureExtractor) and global CMVN for every
# part <manifest-dir>/<corpus>_{recordings,supervisions}_<part>.jsonl.gz. Writes
# <mfcc-dir>/<corpus>_cuts_<part>.jsonl.gz, <mfcc-dir>/<corpus>_feats_<part>/ and
# <mfcc-dir>/<corpus>_cmvn.json; finished parts (.done) are skipped.
set -euo pipefail

nj=1
cmd=
config=
speed_perturb=false

help_message="Usage: $0 [options] <manifest-dir> <corpus> <mfcc-dir>
 e.g.: $0 --nj 2 --config conf/mfcc_hires.conf --speed-perturb true data/manifests tedlium2 data/mfcc
Options:
  --cmd CMD               job runner of the --nj jobs, as in Kaldi (utils/run.pl, utils/slurm.pl;
                          run.sh passes \$train_cmd of cmd.sh); empty: local processes
  --nj N                  parallel jobs (default: $nj)
  --config FILE           MFCC options as Kaldi --key=value lines (conf/mfcc_hires.conf), passed to
                          'asr2emo compute-mfcc' (see its --help for the keys)
  --speed-perturb BOOL    add 0.9/1.1 speed-perturbed copies of the train part (default: $speed_perturb);
                          with --volume-perturb=true in the config, each train cut is also scaled
                          by a volume factor (Kaldi utils/data/perturb_data_dir_volume.sh)"

. utils/lib.sh
. utils/parse_options.sh

[ $# -eq 3 ] || { echo "$help_message" >&2; exit 1; }
manifest_dir=$1
corpus=$2
mfcc_dir=$3

[ -d "$manifest_dir" ] || die "manifest directory '$manifest_dir' does not exist (run stage 0)"
[ -z "$config" ] || [ -f "$config" ] || die "config file '$config' does not exist"
. ./path.sh
mkdir -p "$mfcc_dir/log"

log "MFCC for $corpus: $manifest_dir -> $mfcc_dir (log: $mfcc_dir/log/compute_mfcc_$corpus.log)"
asr2emo compute-mfcc ${config:+--config "$config"} --nj "$nj" ${cmd:+--cmd "$cmd"} \
  --speed-perturb "$speed_perturb" \
  "$manifest_dir" "$corpus" "$mfcc_dir"
