#!/usr/bin/env bash
# Run the test suite (make test). Extra arguments go to pytest, e.g. -k iemocap or -m "not slow".
# Exits non-zero when a test fails and also when no test ran (pytest's exit 5).
set -euo pipefail
cd "$(dirname "$0")/.."
. ./path.sh
set +e
python -m pytest -p no:cacheprovider "$@"
rc=$?
set -e
if [ $rc -eq 5 ]; then
  echo "run_tests.sh: ERROR: no tests were collected" >&2
  exit 1
fi
exit $rc
