#!/usr/bin/env bash
# cmmio bench against bench/reference/cmmio-ref, the minimal C program running the
# same guest bytes with nothing between KVM_RUN calls but the drain. The two run
# alternately (A B A B ...) on the same CPU with the same writes; per mode and
# space it prints the median over pairs of cmmio's writes/s divided by the
# reference's, with a distribution-free 95% interval for that median
# (bench/compare.py). On the kvm_pvm VM one pair's ratio strays by several percent,
# so it takes some 40 pairs to pin a median within about 2%. Goal: median >= 0.98
# for plain and for coalesced at the full ring; exit 1 otherwise.
#
# `bench/compare.sh threads`: what a second thread costs a plain exit, and what a
# private fd table gives back: cmmio-ref as it is (A), then, each against it,
# cmmio-ref in a second thread (--thread), in a second thread that first calls
# unshare(CLONE_FILES) (--thread --unshare-files, as cmmio's vCPU threads do), and
# cmmio bench, in rotation, plain MMIO.
#
# usage: bench/compare.sh [threads] [PAIRS [WRITES [CPU]]]   (defaults 41, 50000, 0)
# The run is appended to bench/results/<compare|threads>-<date>-<host>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
what=compare
if [ "${1:-}" = threads ]; then
  what=threads
  shift
fi
pairs=${1:-41}
writes=${2:-50000}
cpu=${3:-0}
make -s -C bench/reference
cmmio=$(scripts/build-release.sh)
ref=bench/reference/build/cmmio-ref
# Guest bytes must be identical, or the comparison means nothing.
for space in mmio pio; do
  for mode in plain coalesced; do
    ours=$("$cmmio" bench --show-guest --modes "$mode" --space "$space" --writes "$writes" | sed -n 2p | sed 's/^# bytes: //')
    theirs=$("$ref" --mode "$mode" --space "$space" --writes "$writes" --show-guest)
    [ "$ours" = "$theirs" ] || { echo "compare: guest bytes differ for $mode $space" >&2; exit 1; }
  done
done
mkdir -p bench/results
record="bench/results/$what-$(date +%Y-%m-%d)-$(hostname).txt"
bench/run-header.sh "bench/compare.sh${what/compare/} $pairs $writes $cpu" | tee -a "$record"
python3 bench/compare.py "$what" "$cmmio" "$ref" "$pairs" "$writes" "$cpu" | tee -a "$record"
