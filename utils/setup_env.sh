#!/usr/bin/env bash
# Create or refresh the project environment (.venv) for asr2emo.
#
# Idempotent: a stamp (.venv/.asr2emo-stamp) holds a hash of the requirement files and of this
# script; when it matches and the core imports work, the script returns in about a second.
#
# What it installs (README, 'Two commands'):
#   - Debian packages espeak-ng sox libsndfile1 (apt-get, only when root and missing);
#   - .venv with pip==23.2.1: newer pips reject the k2 wheel's "py3.11" tag;
#   - requirements.txt (pinned: torch==1.13.1, numpy<2, lhotse==1.33.0, onnx==1.17.0,
#     onnxruntime==1.20.1, ...) + requirements-dev.txt; requirements-deploy.txt is the subset an
#     ONNX export needs at inference (no torch/k2), for machines that only run `asr2emo predict`;
#   - k2 from requirements-k2.txt, hash-pinned to the cp311 wheel and installed --no-deps
#     (without the hash pip picks a wheel built for another Python and `import _k2` fails).
# torchaudio is deliberately absent: no release exists for torch 1.13.1 on Python 3.11.
#
# Usage: utils/setup_env.sh [--force]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=$root/.venv
stamp=$venv/.asr2emo-stamp
python=${PYTHON:-python3}
force=false
[ "${1:-}" = "--force" ] && force=true

log() { echo "$(date '+%Y-%m-%d %H:%M:%S') (setup_env.sh) $*" >&2; }

want=$(cat requirements.txt requirements-dev.txt requirements-k2.txt utils/setup_env.sh | sha256sum | cut -d' ' -f1)

check_imports() {
  "$venv/bin/python" -c "import k2, torch, lhotse, kaldi_native_fbank, sklearn, soundfile, onnx, onnxruntime" 2>/dev/null
}

installed() {
  # Cheap check for the up-to-date case (importing torch + k2 costs seconds on every run.sh call):
  # the stamp is written only after check_imports passed, so the packages' presence suffices.
  local site
  site=$(echo "$venv"/lib/python3.*/site-packages)
  [ -x "$venv/bin/python" ] && [ -d "$site/k2" ] && [ -d "$site/torch" ] && [ -d "$site/lhotse" ] &&
    [ -f "$site/$backend_pth" ]
}

# lhotse's default backend needs an sph2pipe binary for .sph; TED-LIUM's are plain PCM, which
# libsndfile reads. The package selects that backend when imported (pysrc/asr2emo/__init__.py);
# this .pth does the same for any Python of the environment, e.g. code that imports only lhotse.
backend_pth=asr2emo-audio-backend.pth
write_backend_pth() {
  local site
  site=$(echo "$venv"/lib/python3.*/site-packages)
  {
    echo "# asr2emo (utils/setup_env.sh): lhotse reads .sph with libsndfile, no sph2pipe needed"
    echo "import os; os.environ.setdefault('LHOTSE_AUDIO_BACKEND', 'LibsndfileBackend')"
  } > "$site/$backend_pth"
}

# 1. system packages
missing=()
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v sox >/dev/null || missing+=(sox)
ldconfig -p 2>/dev/null | grep -q 'libsndfile\.so' || missing+=(libsndfile1)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    log "ERROR: missing system packages: ${missing[*]}; install them (e.g. sudo apt-get install ${missing[*]}) and rerun"
    exit 1
  fi
fi

# 2. python environment
if ! $force && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && installed; then
  log "environment up to date ($venv)"
  exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
  "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || {
    log "ERROR: Python 3.11 is required (k2 1.23.4 cp311 wheel, torch 1.13.1); got $("$python" --version 2>&1). Set PYTHON=/path/to/python3.11"
    exit 1
  }
  log "creating $venv"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
log "installing pinned requirements (torch 1.13.1, lhotse 1.33.0, ...); the first run downloads ~3 GB"
"${pip[@]}" install "pip==23.2.1"
"${pip[@]}" install -r requirements.txt -r requirements-dev.txt
log "installing k2 (hash-pinned cp311 wheel, --no-deps)"
"${pip[@]}" install --no-deps -r requirements-k2.txt
"${pip[@]}" install --no-deps --no-build-isolation -e . >/dev/null
write_backend_pth
check_imports || { log "ERROR: environment built but 'import k2, torch, lhotse' fails; see above"; exit 1; }
echo "$want" > "$stamp"
log "environment ready: $venv"
