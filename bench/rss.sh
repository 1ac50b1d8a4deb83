#!/usr/bin/env bash
# Peak RSS of `cmmio bench` at 10^5 and 10^6 writes per run (modes ram, plain,
# coalesced, one kept run): nothing may grow with the work, so the two must be
# equal within 5%. Peak RSS is the child's ru_maxrss (getrusage RUSAGE_CHILDREN).
#
# usage: bench/rss.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cmmio=$(scripts/build-release.sh)
python3 - "$cmmio" <<'PY'
import resource, subprocess, sys, time
cmmio = sys.argv[1]
peaks = {}
for writes in (100_000, 1_000_000):
    start = time.monotonic()
    # A fresh interpreter per size, so RUSAGE_CHILDREN's maximum is this child's alone.
    code = ("import resource,subprocess,sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, cmmio, "bench", "--writes", str(writes), "--runs", "1",
                          "--warmup", "0", "--vcpu-cpus", "0", "--no-progress", "--format", "json"],
                         check=True, capture_output=True, text=True).stdout
    peaks[writes] = int(out.strip())
    print(f"{writes:>9,} writes: peak RSS {peaks[writes] / 1024:.1f} MiB ({time.monotonic() - start:.0f} s)")
ratio = peaks[1_000_000] / peaks[100_000]
print(f"10^6 / 10^5 peak RSS: {ratio:.3f} (goal: within 5%): {'ok' if abs(ratio - 1) <= 0.05 else 'GROWS'}")
sys.exit(0 if abs(ratio - 1) <= 0.05 else 1)
PY
