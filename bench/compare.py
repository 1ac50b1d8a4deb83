"""Alternating runs of cmmio and cmmio-ref, and the median of their ratios with a 95% interval.

Used by compare.sh: `compare`, cmmio against cmmio-ref in every mode and space; `threads`
(`compare.sh threads`), cmmio-ref in a second thread, with and without a private fd table,
and cmmio, against cmmio-ref as it is. Each pair runs A then B on the same CPU with the same
writes; the ratio of a pair is B's writes/s over A's.
"""
import json
import math
import statistics
import subprocess
import sys


def run_cmmio(cmmio, mode, space, writes, cpu):
    """cmmio bench, one run, no warm-up; its writes/s (every write verified)."""
    # --ring-sizes is a usage error (64) for plain, which has no ring.
    ring = ["--ring-sizes", "max"] if mode == "coalesced" else []
    out = subprocess.run([cmmio, "bench", "--modes", mode, "--space", space, "--writes", str(writes), "--runs", "1",
                          "--warmup", "0", *ring, "--vcpu-cpus", str(cpu), "--format", "json", "--no-progress"],
                         check=True, capture_output=True, text=True).stdout
    result = json.loads(out)["results"][0]
    assert result["verification"]["lost"] == 0 and result["verification"]["out_of_order"] == 0
    return result["writes_per_sec"]["median"]


def run_ref(ref, mode, space, writes, cpu, extra=()):
    """cmmio-ref, one run; its writes/s (every write verified)."""
    args = [ref, "--mode", mode, "--space", space, "--writes", str(writes), "--cpu", str(cpu), *extra]
    out = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    assert out["verified"]
    return out["writes_per_sec"]


def interval(values):
    """The median's 95% interval from order statistics (binomial, normal approximation):
    1-based ranks floor(n/2 - h) and ceil(1 + n/2 + h), h = 1.96 sqrt(n) / 2."""
    ordered, n = sorted(values), len(values)
    half = 1.96 * n ** 0.5 / 2
    low, high = max(math.floor(n / 2 - half) - 1, 0), min(math.ceil(1 + n / 2 + half) - 1, n - 1)
    return ordered[low], ordered[high]


def host_line(cmmio, cpu, pairs, writes, what):
    caps = json.loads(subprocess.run([cmmio, "check-cap", "--format", "json"], check=True, capture_output=True,
                                     text=True).stdout)
    return (f"host: {caps['kernel_release']} {caps['arch']}, backend {caps['backend']}, "
            f"{caps['host']['cpu_model']}, CPU {cpu}; {pairs} pairs of {writes} writes, {what}")


def row(label, ours, theirs, ratios, goal=None):
    """One line: medians, the median ratio, its interval, and the goal's verdict (True: met)."""
    ratio = statistics.median(ratios)
    low, high = interval(ratios)
    line = (f"{label:<36}{statistics.median(ours):>16,.0f}{statistics.median(theirs):>16,.0f}{ratio:>14.3f}"
            f"{f'[{low:.3f}, {high:.3f}]':>18}")
    if goal is None:
        return line, True
    ok = ratio >= goal
    verdict = f">= {goal} ok" if ok else f"< {goal} SHORT" + ("" if high < goal else f" ({goal} inside the interval)")
    return f"{line}  {verdict}", ok


HEADER = f"{'':<36}{'B writes/s':>16}{'A writes/s':>16}{'median B/A':>14}{'95% interval':>18}"


def compare(cmmio, ref, pairs, writes, cpu):
    """cmmio (B) against cmmio-ref (A), every mode and space. Exit 1 where a median is below 0.98."""
    print(host_line(cmmio, cpu, pairs, writes, "alternating cmmio-ref (A) / cmmio (B)"))
    print(HEADER + "  goal")
    failed = False
    for space in ("mmio", "pio"):
        for mode in ("plain", "coalesced"):
            ours, theirs, ratios = [], [], []
            for _ in range(pairs):
                b = run_cmmio(cmmio, mode, space, writes, cpu)
                a = run_ref(ref, mode, space, writes, cpu)
                ours.append(b)
                theirs.append(a)
                ratios.append(b / a)
            label = f"{mode} {space}" + (" K=max" if mode == "coalesced" else "")
            line, ok = row(label, ours, theirs, ratios, goal=0.98)
            print(line, flush=True)
            failed |= not ok
    return 1 if failed else 0


def threads(cmmio, ref, pairs, writes, cpu):
    """Plain MMIO: cmmio-ref in a second thread, with and without a private fd table, and cmmio
    (each B) against cmmio-ref as it is (A), in rotation."""
    print(host_line(cmmio, cpu, pairs, writes, "in rotation, each against cmmio-ref (A) of its round"))
    print(HEADER)
    variants = [("cmmio-ref --thread", lambda: run_ref(ref, "plain", "mmio", writes, cpu, ["--thread"])),
                ("cmmio-ref --thread --unshare-files",
                 lambda: run_ref(ref, "plain", "mmio", writes, cpu, ["--thread", "--unshare-files"])),
                ("cmmio bench --modes plain", lambda: run_cmmio(cmmio, "plain", "mmio", writes, cpu))]
    base, seen = [], {name: [] for name, _ in variants}
    for _ in range(pairs):
        base.append(run_ref(ref, "plain", "mmio", writes, cpu))
        for name, run in variants:
            seen[name].append(run())
    for name, _ in variants:
        print(row(name, seen[name], base, [b / a for a, b in zip(base, seen[name])])[0])
    return 0


if __name__ == "__main__":
    what, cmmio, ref, pairs, writes, cpu = sys.argv[1:7]
    sys.exit({"compare": compare, "threads": threads}[what](cmmio, ref, int(pairs), int(writes), int(cpu)))
