#!/usr/bin/env bash
# Builds the libFuzzer target over cmmio's command-line parsers (CPUList,
# ZoneSpec.zone, ZoneSpec.probe, ZoneSpec.number) with -sanitize=fuzzer,address
# and runs it for RUNS inputs (default 1,000,000).
#
#   Fuzz/run.sh [RUNS]
#
# The fuzz package (Fuzz/Package.swift) depends on the main package by path, so
# `swift build` and `swift test` at the top level never see it. The corpus lives
# in fuzz-corpus/ at the top of the repository (git-ignored): seeds are written
# to fuzz-corpus/inputs, libFuzzer adds what it finds there, and any crashing
# input is saved under fuzz-corpus/crashes/. Exit status: 0 clean, non-zero on a
# finding or a build failure.
set -euo pipefail

runs="${1:-1000000}"
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "run.sh: RUNS must be a positive whole number, got '$runs'." >&2
  exit 64
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
corpus="$root/fuzz-corpus"
# One -sanitize=fuzzer,address: given as two flags (what `swift build --sanitize=fuzzer
# --sanitize=address` passes, in no fixed order) swiftc keeps only the last, and
# without `fuzzer` nothing is instrumented for coverage. lld, because gold warns
# about an ASan symbol it cannot export.
flags=(--package-path "$here" -c release --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld)

swift build "${flags[@]}"
fuzzer="$(swift build "${flags[@]}" --show-bin-path)/ParserFuzzer"

mkdir -p "$corpus/inputs" "$corpus/crashes"
seed=0
for input in 0 7 0,2 0-3 0-3,8 1,5,8-15 65535 0-65535 3-1 ",," 1-2-3 " 1" \
  0x100000:0x1000 0x100000:8 0x80:8:pio 4096:1:pio 0xffffffff00000000:0xffffffff \
  0xffffffffffffffff:1 0:0 0:0x100000000 0x10:1:mmio 0x10:1:pio:x \
  0x100000 0x80:pio 18446744073709551615 18446744073709551616 0X1F 0x :pio \
  $'\xef\xbc\x911' $'0x\xef\xbc\xa1:8'; do # fullwidth digits, once taken as hex digits
  printf '%s' "$input" >"$corpus/inputs/seed-$seed"
  seed=$((seed + 1))
done

"$fuzzer" -runs="$runs" -max_len=128 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$corpus/crashes/" "$corpus/inputs"
