#!/usr/bin/env bash
# The standard matrix: modes ram, plain, coalesced × ring sizes {1, 2, 4, 8, 16, 32,
# 64, 128, max} × every online CPU × drain exit and thread × MMIO and PIO, with 1
# and 2 vCPUs. One `cmmio bench` per (space, drain, vCPUs), each writing JSON, CSV,
# markdown and the SVG plot into bench/results/<date>-<host>/, with the machine
# described in machine.md and the sweep's total time at the end.
#
# usage: bench/sweep.sh [WRITES [RUNS]]   (defaults 20000, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
writes=${1:-20000}
runs=${2:-5}
cmmio=$(scripts/build-release.sh)
cpus=$(cat /sys/devices/system/cpu/online)
out="bench/results/$(date +%Y-%m-%d)-$(hostname)"
mkdir -p "$out"
start=$(date +%s)
nodes=(/sys/devices/system/node/node[0-9]*)
{
  echo "# The machine this sweep ran on"
  echo
  echo '```'
  "$cmmio" check-cap
  echo '```'
  echo
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "- online CPUs: $cpus; NUMA nodes: ${#nodes[@]}"
  echo "- cmmio: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "- each result: $writes writes per vCPU per run, $runs kept runs after 1 warm-up run"
} > "$out/machine.md"
for space in mmio pio; do
  for drain in exit thread; do
    for vcpus in 1 2; do
      name="$space-$drain-${vcpus}vcpu"
      drainers=()
      [ "$drain" = thread ] && drainers=(--drain-cpus "$cpus")
      echo "sweep: $name" >&2
      # shellcheck disable=SC2054 # the commas are cmmio's list syntax, inside one argument
      common=(bench --modes ram,plain,coalesced --space "$space" --drain "$drain" --vcpus "$vcpus"
        --ring-sizes 1,2,4,8,16,32,64,128,max --vcpu-cpus "$cpus" "${drainers[@]}"
        --writes "$writes" --runs "$runs" --warmup 1 --no-progress)
      # The table to the terminal; JSON, CSV, markdown and SVG of the same measurement saved.
      "$cmmio" "${common[@]}" --save "$out/$name"
    done
  done
done
end=$(date +%s)
echo "- sweep total time: $((end - start)) s" >> "$out/machine.md"
echo "sweep: results in $out ($((end - start)) s)" >&2
