# Sourced by run.sh, steps/*.sh and local/*.sh: the project environment.
ASR2EMO_ROOT=${ASR2EMO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
export ASR2EMO_ROOT
if [ ! -x "$ASR2EMO_ROOT/.venv/bin/python" ]; then
  echo "path.sh: no environment at $ASR2EMO_ROOT/.venv; run utils/setup_env.sh (./run.sh and make test do it)" >&2
  return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
. "$ASR2EMO_ROOT/.venv/bin/activate"
export PATH=$ASR2EMO_ROOT/utils:$PATH
export PYTHONPATH=$ASR2EMO_ROOT/pysrc${PYTHONPATH:+:$PYTHONPATH}
export LC_ALL=C
export PYTHONUNBUFFERED=1
# TED-LIUM's .sph files are plain 16-bit PCM: read them with libsndfile instead of sph2pipe.
export LHOTSE_AUDIO_BACKEND=LibsndfileBackend
# One BLAS/OMP thread per process; parallelism comes from --nj jobs.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
