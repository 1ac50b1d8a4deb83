#!/usr/bin/env bash
# Start-up time of `cmmio check-cap` against check-cap-min, a minimal C program
# making the same system calls, run alternately (A B A B ...) in one run.
# Goal: cmmio's median wall time at most 3x the C program's.
#
# usage: bench/startup.sh [PAIRS]   (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-300}
make -s -C bench/reference
bin=$(scripts/build-release.sh)
result=$(bench/reference/build/alternate "$pairs" -- bench/reference/build/check-cap-min -- "$bin" check-cap --format json)
echo "$result"
ratio=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ratio_of_medians"])' "$result")
python3 - "$ratio" <<'PY'
import sys
ratio = float(sys.argv[1])
print(f"check-cap / C median wall time: {ratio:.2f}x (goal <= 3x): {'ok' if ratio <= 3 else 'OVER'}")
sys.exit(0 if ratio <= 3 else 1)
PY
