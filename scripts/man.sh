#!/usr/bin/env bash
# Generates the manual, docs/man/cmmio.1, from the parser itself: swift-argument-parser's
# GenerateManual plugin runs `cmmio --experimental-dump-help` and writes mdoc. Run it after
# changing any subcommand, option, help text or default, and commit the page; .ci/run
# regenerates it into a temporary file and fails if the committed page differs.
#
#   scripts/man.sh [OUTPUT]    (default: docs/man/cmmio.1)
#
# The page's date is the version's (MAN_DATE below), not today's, so the page changes
# only when the command line does, and the CI check does not fail from one day to the
# next. Bump it with the version in Sources/cmmio/CMMIO.swift.
set -euo pipefail
cd "$(dirname "$0")/.."
MAN_DATE=2026-11-30
output=${1:-docs/man/cmmio.1}
# The debug build is the one `swift test` makes, so this adds little to a CI run.
swift package --disable-sandbox plugin generate-manual --configuration debug --date "$MAN_DATE" >&2
generated=.build/plugins/GenerateManual/outputs/cmmio/cmmio.1
if [[ ! -s $generated ]]; then
  echo "man.sh: the GenerateManual plugin did not write $generated" >&2
  exit 1
fi
mkdir -p "$(dirname "$output")"
cp "$generated" "$output"
