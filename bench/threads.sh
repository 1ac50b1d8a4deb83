#!/usr/bin/env bash
# What a second thread costs a plain exit, and what a private fd table gives back:
# cmmio-ref as it is (A), then, each against it, cmmio-ref in a second thread
# (--thread), in a second thread that first calls unshare(CLONE_FILES)
# (--thread --unshare-files, as cmmio's vCPU threads do), and cmmio bench, in
# rotation, plain MMIO on one CPU. Prints each one's median ratio of writes/s to
# A's, with a 95% interval (bench/compare.py).
#
# usage: bench/threads.sh [PAIRS [WRITES [CPU]]]   (defaults 41, 50000, 0)
# The run is appended to bench/results/threads-<date>-<host>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-41}
writes=${2:-50000}
cpu=${3:-0}
make -s -C bench/reference
cmmio=$(scripts/build-release.sh)
mkdir -p bench/results
record="bench/results/threads-$(date +%Y-%m-%d)-$(hostname).txt"
bench/run-header.sh "bench/threads.sh $pairs $writes $cpu" | tee -a "$record"
python3 bench/compare.py threads "$cmmio" bench/reference/build/cmmio-ref "$pairs" "$writes" "$cpu" | tee -a "$record"
