#!/usr/bin/env bash
# The line that opens a run in a bench/results record: when, what command, at which
# commit (dirty or not), and the load average then.
set -euo pipefail
cd "$(dirname "$0")/.."
head=$(git rev-parse --short HEAD 2>/dev/null || echo "no commit")
git diff --quiet HEAD 2>/dev/null || head="$head, uncommitted changes"
printf '\n# %s: %s, head %s, load %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$head" "$(cut -d' ' -f1-3 /proc/loadavg)"
