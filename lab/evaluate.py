#!/usr/bin/env python3
"""Judges a lab run: reads RUN/<kernel>/ (the commands' stdout, stderr and
status, run.json, kernel.vars, commands.json), checks every kernel's
expectations, writes RUN/matrix.json and RUN/matrix.md, prints the matrix and
the failed expectations. Exit 0 when every expectation holds, 1 otherwise.

  evaluate.py RUN KERNEL...     (KERNEL "host" first if it was run)
"""

import json
import os
import sys

BUG_COMMIT = "92f6d4130497"
# The checks of cmmio verify that cover what coalesced_io_test checks: a ring
# filled to capacity from many start indexes, every entry right, the next write
# exiting, and unregister making the next write exit (MMIO and PIO).
SELFTEST_GROUND = ["capacity", "ring-fill-mmio", "ring-fill-pio",
                   "unregister-exit-mmio", "unregister-exit-pio"]
ZONE_COMMANDS = ["zone-register", "zone-subrange", "zone-exact", "zone-partial",
                 "zone-superset", "zone-other-kind", "zone-pio"]


def read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


class Kernel:
    def __init__(self, run, name):
        self.name, self.dir = name, os.path.join(run, name)
        self.vars = {}
        for line in (read(os.path.join(self.dir, "kernel.vars")) or "").splitlines():
            key, _, value = line.partition("=")
            self.vars[key] = value
        self.run = json.loads(read(os.path.join(self.dir, "run.json")) or
                              '{"outcome": "missing", "detail": "no run.json"}')
        self.commands = json.loads(read(os.path.join(self.dir, "commands.json")) or "[]")
        self.failures = []   # (check, message)
        self.cells = {}      # check -> verdict text for the matrix

    def result(self, name):
        """(status, timed_out, stdout, stderr) or None when it did not come back."""
        status = read(os.path.join(self.dir, name + ".status"))
        stdout = read(os.path.join(self.dir, name + ".stdout"), "rb")
        stderr = read(os.path.join(self.dir, name + ".stderr"), "rb")
        if status is None or stdout is None or stderr is None:
            return None
        fields = status.split()
        return int(fields[0]), fields[2] == "yes", stdout, stderr.decode(errors="replace")

    def json_of(self, name, check):
        """The command's stdout as JSON, or None with the failure recorded."""
        r = self.result(name)
        if r is None:
            self.fail(check, f"`{name}` did not come back ({self.run['outcome']}: {self.run['detail']})")
            return None
        status, timed_out, stdout, stderr = r
        if timed_out:
            self.fail(check, f"`{name}` timed out")
            return None
        try:
            return json.loads(stdout)
        except ValueError:
            first = stderr.strip().splitlines()[:1]
            self.fail(check, f"`{name}` (exit {status}) printed no valid JSON report"
                      + (f"; stderr: {first[0]}" if first else ""))
            return None

    def fail(self, check, message):
        self.failures.append((check, message))

    def expect(self, var):
        return self.vars.get(var) if var in self.vars else None


def judge_check_cap(k):
    doc = k.json_of("check-cap", "check-cap")
    if doc is None:
        k.cells["check-cap"] = "FAIL"
        return
    mmio = doc.get("features", {}).get("coalesced_mmio", {})
    ring = f"{mmio.get('ring_entries')}/{mmio.get('usable_entries')}"
    k.cells["check-cap"] = f"{doc.get('backend')} {ring}"
    k.release = doc.get("kernel_release")
    backend = k.expect("LAB_EXPECT_BACKEND")
    if backend and doc.get("backend") != backend:
        k.fail("check-cap", f"backend {doc.get('backend')}, expected {backend}")
    want = k.expect("LAB_EXPECT_RING")
    if want and ring != want:
        k.fail("check-cap", f"ring {ring} (entries/usable), expected {want}")


def judge_verify(k):
    doc = k.json_of("verify", "verify")
    if doc is None:
        k.cells["verify"] = "FAIL (no report)"
        return None
    checks = {c["name"]: c for c in doc.get("checks", [])}
    failed = [n for n, c in checks.items() if not c.get("passed")]
    k.cells["verify"] = (f"{len(checks) - len(failed)}/{len(checks)} pass"
                         + (f"; fails {', '.join(failed)}" if failed else ""))
    for name, c in checks.items():
        k.cells["verify:" + name] = "pass" if c.get("passed") else "FAIL"
    count = k.expect("LAB_EXPECT_VERIFY_CHECKS")
    if count and len(checks) != int(count):
        k.fail("verify", f"{len(checks)} checks reported, expected {count}")
    fails = k.expect("LAB_EXPECT_VERIFY_FAILS")
    if fails is not None and sorted(failed) != sorted(fails.split()):
        k.fail("verify", f"failed [{', '.join(failed)}], expected [{', '.join(fails.split())}]")
    status = k.result("verify")[0]
    if (status == 0) != (not failed):
        k.fail("verify", f"exit status {status} does not match {len(failed)} failed checks")
    bug = k.expect("LAB_EXPECT_HALF_RING_BUG")
    named = BUG_COMMIT in json.dumps(doc)
    if bug == "yes" and not named:
        k.fail("verify", f"the report does not name the half-ring bug ({BUG_COMMIT})")
    if bug == "no" and named:
        k.fail("verify", f"the report names the half-ring bug ({BUG_COMMIT}) on a kernel without it")
    return checks


def zone_outcome(doc):
    """What a register/unregister scenario shows, without host-specific text."""
    return {
        "operations": [(o.get("op"), o.get("addr"), o.get("size"), o.get("pio"),
                        o.get("result"), o.get("errno")) for o in doc.get("operations", [])],
        "probes": [(p.get("addr"), p.get("pio"), p.get("outcome")) for p in doc.get("probes", [])],
        "zones_after": [(z.get("addr"), z.get("size"), z.get("pio"), z.get("registered"),
                         z.get("present")) for z in doc.get("zones_after", [])],
        "passed": doc.get("verification", {}).get("passed"),
    }


def judge_zones(k, host):
    for name in ZONE_COMMANDS:
        doc = k.json_of(name, name)
        if doc is None:
            k.cells[name] = "FAIL"
            continue
        mine = k.zone_results[name] = zone_outcome(doc)
        if not mine["passed"]:
            k.fail(name, "the probes' writes were not all observed as written")
        if host is None or k is host:
            k.cells[name] = "pass" if mine["passed"] else "FAIL"
            if k is not host and k.expect("LAB_EXPECT_ZONES") == "host":
                k.fail(name, "the host was not run, so there is nothing to compare with")
            continue
        theirs = host.zone_results.get(name)
        if theirs == mine:
            k.cells[name] = "= host"
            continue
        k.cells[name] = "DIFFERS from host"
        if k.expect("LAB_EXPECT_ZONES") == "host":
            differ = [key for key in mine if theirs is None or mine[key] != theirs.get(key)]
            k.fail(name, f"differs from the host in {', '.join(differ)}: {mine}, host {theirs}")


def judge_bench(k, name):
    doc = k.json_of(name, name)
    if doc is None:
        k.cells[name] = "FAIL"
        return
    status = k.result(name)[0]
    problems = []
    if status != 0:
        problems.append(f"exit status {status}")
    rows = []
    for r in doc.get("results", []):
        writes, epw, mode = r.get("writes"), r.get("userspace_exits_per_write"), r.get("mode")
        check = r.get("exit_check") or {}
        if mode == "plain":
            k_size = 0
        elif mode in ("coalesced", "coalesced-v2"):
            # The ring size the kernel really granted: on a pre-6.12 kernel a large K asked for
            # cannot always be had, and cmmio reports the mean achieved (exit_check).
            k_size = check.get("achieved_ring_size") or r.get("ring_size")
        elif mode == "ioeventfd":
            judge_ioeventfd((doc.get("host") or {}).get("backend"), r, rows, problems)
            continue
        else:
            continue
        if not writes or epw is None or k_size is None:
            problems.append(f"{mode} K={k_size}: no exits per write measured")
            continue
        exits, expected = epw * writes, writes / (k_size + 1)
        rows.append(f"{'plain' if not k_size else f'K={k_size:g}'} {epw:.4g}")
        if check and not check.get("passed", False):
            problems.append(f"{mode} K={k_size:g}: cmmio's own exit check failed: {check.get('problem')}")
        if abs(exits - expected) > 1 + 1e-6:
            problems.append(f"{mode} K={k_size:g}: {epw:.5g} userspace exits per write "
                            f"({exits:.1f} of {writes} writes), 1/(K+1) is {1 / (k_size + 1):.5g} "
                            f"({expected:.1f})")
        v = r.get("verification")
        if v and (v.get("lost") or v.get("out_of_order")):
            problems.append(f"{mode} K={k_size:g}: {v.get('lost')} lost, "
                            f"{v.get('out_of_order')} out of order")
    if not rows:
        problems.append("no plain or coalesced result")
    k.cells[name] = ("ok: " if not problems else "FAIL: ") + ", ".join(rows)
    k.bench_problems = getattr(k, "bench_problems", []) + [f"{name}: {p}" for p in problems]
    if k.expect("LAB_EXPECT_BENCH") == "exact":
        for p in problems:
            k.fail(name, p)
    bug, named = k.expect("LAB_EXPECT_HALF_RING_BUG"), BUG_COMMIT in json.dumps(doc)
    if bug == "yes" and not named:
        k.fail(name, f"the report does not name the half-ring bug ({BUG_COMMIT})")
    if bug == "no" and named:
        k.fail(name, f"the report names the half-ring bug ({BUG_COMMIT}) on a kernel without it")


def judge_ioeventfd(backend, r, rows, problems):
    """ioeventfd: no write reaches userspace, the eventfd counted every write, and (where the
    backend exits to the kernel for a write at all, as SVM does) the kernel saw every write."""
    writes, runs, epw = r.get("writes"), r.get("runs") or 1, r.get("userspace_exits_per_write")
    count = (r.get("verification") or {}).get("eventfd_count")
    kernel_exits = (r.get("kernel_stats") or {}).get("exits")
    rows.append(f"ioeventfd {epw:.4g}" if epw is not None else "ioeventfd ?")
    if epw is None or epw * writes >= 1:
        problems.append(f"ioeventfd: {epw} userspace exits per write, expected 0")
    if count != writes * runs:
        problems.append(f"ioeventfd: the eventfd counted {count} of {writes * runs} writes")
    # kvm_pvm emulates the guest without a hardware exit per write: its `exits` stays low.
    if backend != "kvm_pvm" and (kernel_exits is None or kernel_exits < writes):
        problems.append(f"ioeventfd: the kernel counted {kernel_exits} exits for {writes} writes")


DELAY_KEYS = ["p50", "p90", "p99", "p999", "max"]


def bench_documents(k):
    """(command, report) of every bench command that came back with a JSON report."""
    for c in k.commands:
        name = c["name"]
        if not (name.startswith("bench") or name.startswith("extra:bench")):
            continue
        r = k.result(name)
        if r is None or r[1]:
            continue
        if r[0] != 0 and not name.startswith("extra:"):
            k.fail("drain-delay", f"`{name}` exited {r[0]}")
        try:
            yield name, json.loads(r[2])
        except ValueError:
            continue


def judge_drain_delay(k):
    """Every coalesced result carries its drain delay with its uncertainty, or null with a
    reason; with the exit drain (one vCPU, no doorbell) the median at the largest K of a
    report is K/2 x the time per write within a factor of 2; a poll drain's median, and a
    thread drain's pinned to a CPU of its own, is below the exit drain's at the same mode,
    space and K. A poll drainer sharing the vCPU's one CPU (every TCG guest here) gets it
    only when the vCPU thread is preempted, which a short fill usually outlasts: the vCPU
    then fills and drains the ring itself (at K = 15 in the v2 guest, one CI run measured
    poll 959 us against exit 504 us). So a shared-CPU drainer is judged only at the full
    ring, the largest K of its mode and space, where a fill outlasts a scheduler slice."""
    problems, medians, omitted, law, largest_of, rate_errors = [], {}, [], [], {}, {}
    want_basis = k.expect("LAB_EXPECT_TSC_BASIS")
    for name, doc in bench_documents(k):
        results = [r for r in doc.get("results", []) if r.get("mode") in ("coalesced", "coalesced-v2")]
        largest = max((r.get("ring_size") or 0 for r in results), default=0)
        for r in results:
            label = f"{name} {r.get('mode')} {r.get('space')} K={r.get('ring_size')} {r.get('drain')}"
            if "drain_delay_ns" not in r:
                problems.append(f"{label}: no drain_delay_ns key")
                continue
            d, reason = r.get("drain_delay_ns"), r.get("drain_delay_reason")
            stamped = r.get("drain_delay_verification") or {}
            if stamped.get("lost") or stamped.get("out_of_order") or not stamped.get("entries"):
                problems.append(f"{label}: the stamped run's writes were not all verified: {stamped}")
            if d is None:
                if not reason:
                    problems.append(f"{label}: drain_delay_ns is null without a reason")
                else:
                    omitted.append(reason)
                continue
            figures = [d.get(x) for x in DELAY_KEYS]
            if any(not isinstance(x, int) for x in figures) or figures != sorted(figures):
                problems.append(f"{label}: drain delay percentiles {figures} are not rising integers")
                continue
            u = d.get("uncertainty_ns")
            if not isinstance(u, (int, float)) or u < 0:
                problems.append(f"{label}: drain delay without its uncertainty ({u})")
            basis, rate_error = d.get("tsc_basis"), d.get("rate_error")
            if want_basis and basis != want_basis:
                problems.append(f"{label}: tsc_basis {basis}, expected {want_basis}")
            if not isinstance(rate_error, (int, float)) or not 0 <= rate_error <= 0.01:
                problems.append(f"{label}: rate_error {rate_error} is not within the 1% the figures rest on")
            else:
                rate_errors[basis] = max(rate_errors.get(basis, 0), rate_error)
            size = (r.get("exit_check") or {}).get("achieved_ring_size") or r.get("ring_size")
            key = (r.get("mode"), r.get("space"), r.get("ring_size"))
            own_cpu = r.get("drain_cpu") is not None and r.get("drain_cpu") != r.get("vcpu_cpu")
            if r.get("drain") != "thread" or own_cpu:
                # A thread drainer's CPU share is named with its median: below 0.9 it did not
                # have its CPU to itself (cmmio's contended_drainer warning).
                share = r.get("drainer_cpu_share")
                where = name if share is None else f"{name}, drainer CPU share {share:.2f}"
                shared = r.get("drain") != "exit" and not own_cpu
                medians.setdefault(key, {})[r.get("drain")] = (d["p50"], where, shared)
            largest_of[key[:2]] = max(largest_of.get(key[:2], 0), r.get("ring_size") or 0)
            interval = d.get("write_interval_ns")
            if (r.get("drain") == "exit" and r.get("vcpus") == 1 and not r.get("flush_every")
                    and r.get("ring_size") == largest and size):
                if not interval:
                    problems.append(f"{label}: no write_interval_ns to judge the exit-drain law by")
                    continue
                ratio = d["p50"] / (size / 2 * interval)
                law.append(f"{r.get('mode')} {r.get('space')} K={size:g} {ratio:.2f}")
                if not 0.5 <= ratio <= 2:
                    problems.append(f"{label}: median delay {d['p50']} ns is {ratio:.2f} x K/2 x "
                                    f"{interval:.0f} ns per write, outside a factor of 2")
    unjudged = []
    for key, drains in medians.items():
        if "exit" not in drains:
            continue
        exit_median = drains["exit"][0]
        for drain in ("thread", "poll"):
            if drain in drains and drains[drain][2] and key[2] != largest_of.get(key[:2]):
                unjudged.append(f"{key[0]} {key[1]} K={key[2]} {drain}")
                continue
            if drain in drains and drains[drain][0] >= exit_median:
                problems.append(f"{key[0]} {key[1]} K={key[2]}: the {drain} drain's median delay "
                                f"{drains[drain][0]} ns ({drains[drain][1]}) is not below the exit "
                                f"drain's {exit_median} ns ({drains['exit'][1]})")
    parts = []
    for key, drains in medians.items():
        if key[2] != largest_of.get(key[:2]):
            continue  # the matrix shows the largest K of each mode and space
        shown = ", ".join(f"{drain} {fmt_ns(drains[drain][0])}"
                          for drain in ("exit", "thread", "poll") if drain in drains)
        parts.append(f"{key[0]} {key[1]} K={key[2]}: {shown}")
    if law:
        parts.append("median / (K/2 x write interval): " + ", ".join(law))
    if unjudged:
        parts.append("below exit not judged (drainer sharing the vCPU's CPU, below the full ring): "
                     + ", ".join(unjudged))
    for basis, worst in sorted(rate_errors.items(), key=lambda item: str(item[0])):
        parts.append(f"tsc_basis {basis}, rate error <= {worst * 100:.2g}%")
    if omitted:
        parts.append(f"{len(omitted)} omitted: {omitted[0].split(' (')[0]}")
    if not parts:
        problems.append("no coalesced result to judge")
    want = k.expect("LAB_EXPECT_DRAIN_DELAY")
    if want == "measured" and omitted:
        problems.append(f"{len(omitted)} drain delay figure(s) omitted where they should be measured: {omitted[0]}")
    if want == "omitted" and medians:
        problems.append("drain delay figures were given where the guest's TSC cannot be related to the host's")
    k.cells["drain-delay"] = ("ok: " if not problems else "FAIL: ") + "; ".join(parts)
    for p in problems:
        k.fail("drain-delay", p)


def fmt_ns(ns):
    return f"{ns / 1e3:.1f} us" if ns < 1e6 else f"{ns / 1e6:.2f} ms"


def judge_selftest(k):
    r = k.result("selftest")
    if r is None:
        k.cells["selftest"] = "did not come back"
        k.fail("selftest", f"no result ({k.run['outcome']}: {k.run['detail']})")
        return None
    status, timed_out = r[0], r[1]
    verdict = "timed out" if timed_out else {0: "pass", 4: "skip"}.get(status, "fail")
    k.cells["selftest"] = verdict
    want = k.expect("LAB_EXPECT_SELFTEST")
    if want and verdict != want:
        k.fail("selftest", f"{verdict} (exit {status}), expected {want}")
    return verdict


def agreement(checks, selftest):
    if checks is None or selftest is None:
        return "n/a"
    if selftest == "skip":
        return "n/a: the selftest skipped"
    cmmio_ok = all(checks.get(n, {}).get("passed") for n in SELFTEST_GROUND)
    if cmmio_ok == (selftest == "pass"):
        return "yes"
    return f"NO: cmmio {'passes' if cmmio_ok else 'fails'}, selftest {selftest}"


def expectation_holds(condition, status, stdout, stderr):
    if condition.startswith("exit="):
        return str(status) == condition[5:]
    if condition.startswith("json:"):
        path, _, value = condition[5:].partition("=")
        try:
            node = json.loads(stdout)
            for key in path.split("."):
                node = node[int(key)] if isinstance(node, list) else node[key]
        except (ValueError, KeyError, IndexError, TypeError):
            return False
        try:
            want = json.loads(value)
        except ValueError:
            want = value
        return node == want
    if condition.startswith("stdout~"):
        return condition[7:] in stdout.decode(errors="replace")
    if condition.startswith("stderr~"):
        return condition[7:] in stderr
    return False


def judge_extras(k):
    for c in k.commands:
        name = c["name"]
        if not (name.startswith("extra:") or name.startswith("test:")):
            continue
        r = k.result(name)
        if r is None:
            k.cells[name] = "did not come back"
            k.fail(name, f"no result ({k.run['outcome']}: {k.run['detail']})")
            continue
        status, timed_out, stdout, stderr = r
        if timed_out:
            k.cells[name] = "timed out"
            k.fail(name, f"timed out after {c['timeout']} s")
            continue
        held = [cond for cond in c["expect"].split(",") if cond != "-"]
        broken = [cond for cond in held if not expectation_holds(cond, status, stdout, stderr)]
        k.cells[name] = f"exit {status}" + (": FAIL" if broken else "")
        for cond in broken:
            k.fail(name, f"expected {cond} (exit status {status})")


def judge_run(k):
    run = k.run
    if run["outcome"] != "completed":
        k.fail("guest", f"{run['outcome']}: {run['detail']}")
    for damage in run.get("damaged", []):
        k.fail("transport", damage)
    for name in run.get("missing", []):
        k.fail("transport", f"{name}: not every stream came back")


def main():
    if len(sys.argv) < 3:
        print("usage: evaluate.py RUN KERNEL...", file=sys.stderr)
        return 64
    run, names = sys.argv[1], sys.argv[2:]
    kernels = [Kernel(run, n) for n in names]
    host = next((k for k in kernels if k.name == "host"), None)
    order = ([host] if host else []) + [k for k in kernels if k is not host]
    for k in order:
        k.release, k.zone_results = None, {}
        judge_run(k)
        if not any(c["name"] == "check-cap" for c in k.commands):
            judge_extras(k)  # LAB_BASE_COMMANDS=no: only the kernel's own checks
            continue
        judge_check_cap(k)
        checks = judge_verify(k)
        judge_zones(k, host)
        for name in ("bench-mmio", "bench-pio"):
            judge_bench(k, name)
        judge_drain_delay(k)
        selftest = judge_selftest(k)
        k.cells["cmmio and selftest agree"] = agreement(checks, selftest)
        judge_extras(k)
    rows = []
    for k in kernels:
        for check in k.cells:
            if check not in rows:
                rows.append(check)
    header = ["check"] + [f"{k.name} ({k.release or k.run.get('uname') or '?'})" for k in kernels]
    table = [[row] + [k.cells.get(row, "-") for k in kernels] for row in rows]
    widths = [max(len(r[i]) for r in [header] + table) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header] + table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    print("\n".join(lines))
    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(r) + " |" for r in table]
    failures = [(k.name, check, msg) for k in kernels for check, msg in k.failures]
    md.append("")
    md.append("Expectations: " + ("every one held." if not failures else f"{len(failures)} failed:"))
    md += [f"- {name}: {check}: {msg}" for name, check, msg in failures]
    doc = {"schema": "cmmio.lab-matrix/1", "kernels": [
        {"name": k.name, "release": k.release, "run": {x: k.run.get(x) for x in
                                                      ("outcome", "detail", "seconds")},
         "checks": k.cells, "expectations_failed": [{"check": c, "message": m} for c, m in k.failures]}
        for k in kernels], "passed": not failures}
    with open(os.path.join(run, "matrix.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    notes = []
    for k in kernels:
        r = k.result("selftest")
        if r and k.cells.get("selftest") != "pass":
            said = (r[2].decode(errors="replace") + r[3]).strip().splitlines()
            notes.append(f"selftest on {k.name}: {said[-1] if said else '(printed nothing)'}")
    if notes:
        print("\n" + "\n".join(notes))
        md += [""] + [f"- {n}" for n in notes]
    for k in kernels:
        for c in k.commands:
            if c["name"].startswith("test:") and k.result(c["name"]):
                print(f"\n{k.name}: {c['name']} printed:\n"
                      + k.result(c["name"])[2].decode(errors="replace").rstrip())
    with open(os.path.join(run, "matrix.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print()
    if failures:
        for name, check, msg in failures:
            print(f"lab: {name}: {check}: {msg}", file=sys.stderr)
        print(f"lab: {len(failures)} expectation(s) failed", file=sys.stderr)
        return 1
    print("lab: every expectation held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
