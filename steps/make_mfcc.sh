#!/usr/bin/env bash
# Hires MFCC (40-dim, kaldi-native-fbank as a lhotse FeatureExtractor) and global CMVN for every
# part <manifest-dir>/<corpus>_{recordings,supervisions}_<part>.jsonl.gz. Writes
# <fbank-dir>/<corpus>_cuts_<part>.jsonl.gz, <fbank-dir>/<corpus>_feats_<part>/ and
# <fbank-dir>/<corpus>_cmvn.json; finished parts (.done) are skipped.
set -euo pipefail

nj=1
speed_perturb=false
min_duration=0.1
# MFCC options (Kaldi names; conf/mfcc_hires.conf sets them)
sample_frequency=16000
frame_length=25
frame_shift=10
dither=0.0
num_ceps=40
num_mel_bins=40
low_freq=20
high_freq=-400
use_energy=false
snip_edges=true

help_message="Usage: $0 [options] <manifest-dir> <corpus> <fbank-dir>
 e.g.: $0 --nj 2 --config conf/mfcc_hires.conf --speed-perturb true data/manifests tedlium2 data/fbank
Options:
  --nj N                  parallel jobs (default: $nj)
  --config FILE           MFCC options as --key=value lines (e.g. conf/mfcc_hires.conf)
  --speed-perturb BOOL    add 0.9/1.1 speed-perturbed copies of the train part (default: $speed_perturb)
  --min-duration SEC      shorter cuts are skipped and listed (default: $min_duration)
  --sample-frequency HZ   feature sampling rate; other audio is resampled (default: $sample_frequency)
  --frame-length MS --frame-shift MS --dither D --num-ceps N --num-mel-bins N
  --low-freq HZ --high-freq HZ --use-energy BOOL --snip-edges BOOL   (Kaldi compute-mfcc-feats options)"

. utils/lib.sh
. utils/parse_options.sh

[ $# -eq 3 ] || { echo "$help_message" >&2; exit 1; }
manifest_dir=$1
corpus=$2
fbank_dir=$3

[ -d "$manifest_dir" ] || die "manifest directory '$manifest_dir' does not exist (run stage 0)"
. ./path.sh
mkdir -p "$fbank_dir/log"

log "MFCC for $corpus: $manifest_dir -> $fbank_dir (log: $fbank_dir/log/compute_mfcc_$corpus.log)"
asr2emo compute-mfcc --nj "$nj" --speed-perturb "$speed_perturb" --min-duration "$min_duration" \
  --sample-frequency "$sample_frequency" --frame-length "$frame_length" --frame-shift "$frame_shift" \
  --dither "$dither" --num-ceps "$num_ceps" --num-mel-bins "$num_mel_bins" --low-freq "$low_freq" \
  --high-freq "$high_freq" --use-energy "$use_energy" --snip-edges "$snip_edges" \
  "$manifest_dir" "$corpus" "$fbank_dir"
