#!/usr/bin/env bash
# cmmio bench against bench/reference/cmmio-ref, the minimal C program running the
# same guest bytes with nothing between KVM_RUN calls but the drain. The two run
# alternately (A B A B ...) on the same CPU with the same writes; per mode and
# space it prints the median over pairs of cmmio's writes/s divided by the
# reference's. Goal: >= 0.98 for plain and for coalesced at the full ring.
#
# usage: bench/compare.sh [PAIRS [WRITES [CPU]]]   (defaults 7, 100000, 0)
# The run is recorded in bench/results/compare-<date>-<host>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-7}
writes=${2:-100000}
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
record="bench/results/compare-$(date +%Y-%m-%d)-$(hostname).txt"
python3 - "$cmmio" "$ref" "$pairs" "$writes" "$cpu" <<'PY' | tee "$record"
import json, platform, statistics, subprocess, sys
cmmio, ref, pairs, writes, cpu = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]

def run_cmmio(mode, space):
    # --ring-sizes is a usage error (64) for plain, which has no ring.
    ring = ["--ring-sizes", "max"] if mode == "coalesced" else []
    out = subprocess.run([cmmio, "bench", "--modes", mode, "--space", space, "--writes", writes, "--runs", "1",
                          "--warmup", "0", *ring, "--vcpu-cpus", cpu, "--format", "json",
                          "--no-progress"], check=True, capture_output=True, text=True).stdout
    result = json.loads(out)["results"][0]
    assert result["verification"]["lost"] == 0 and result["verification"]["out_of_order"] == 0
    return result["writes_per_sec"]["median"]

def run_ref(mode, space):
    args = [ref, "--mode", mode, "--space", space, "--writes", writes, "--cpu", cpu]
    out = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    assert out["verified"]
    return out["writes_per_sec"]

caps = json.loads(subprocess.run([cmmio, "check-cap", "--format", "json"], check=True, capture_output=True,
                                 text=True).stdout)
print(f"host: {caps['kernel_release']} {caps['arch']}, backend {caps['backend']}, "
      f"{caps['host']['cpu_model']}, CPU {cpu}; {pairs} pairs of {writes} writes, alternating cmmio / cmmio-ref")
print(f"{'mode':<22}{'cmmio writes/s':>16}{'ref writes/s':>16}{'median ratio':>14}  goal")
failed = False
for space in ("mmio", "pio"):
    for mode in ("plain", "coalesced"):
        ours, theirs, ratios = [], [], []
        for _ in range(pairs):
            a = run_cmmio(mode, space)
            b = run_ref(mode, space)
            ours.append(a); theirs.append(b); ratios.append(a / b)
        ratio = statistics.median(ratios)
        label = f"{mode} {space}" + (" K=max" if mode == "coalesced" else "")
        ok = ratio >= 0.98
        failed |= not ok
        print(f"{label:<22}{statistics.median(ours):>16,.0f}{statistics.median(theirs):>16,.0f}{ratio:>14.3f}"
              f"  {'>= 0.98 ok' if ok else '< 0.98 SHORT'}")
sys.exit(1 if failed else 0)
PY
