#!/usr/bin/env bash
# Builds the release cmmio the way the README's main job and bench/ run it, and
# prints the binary's path on stdout (build output goes to stderr):
# - the Swift standard library linked statically (no runtime libraries to load);
# - a non-PIE executable (-no-pie): its ~37,000 relative relocations are resolved
#   at link time instead of by the dynamic loader at every start, which made
#   `check-cap` about 20% faster here (bench/README.md).
# Extra arguments go to `swift build` (CI adds -Xswiftc -warnings-as-errors).
set -euo pipefail
cd "$(dirname "$0")/.."
flags=(-c release --static-swift-stdlib --product cmmio -Xlinker -no-pie "$@")
swift build "${flags[@]}" >&2
echo "$(swift build "${flags[@]}" --show-bin-path)/cmmio"
