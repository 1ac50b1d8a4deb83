import Benchmarking
import KVM
import Reporting

/// The labels every cmmio gauge carries: where it was measured.
public func hostLabels(_ host: Host) -> [(String, String)] {
  [("kernel_release", host.kernelRelease), ("backend", host.backend)]
}

/// `<prefix>_report_timestamp_seconds`: when the report was made, labelled with the build
/// (version and commit) so a fleet's dashboards can tell binaries apart.
public func provenanceMetric(prefix: String, provenance: Provenance?, host: Host) -> MetricFamily {
  var family = MetricFamily(
    name: prefix + "_report_timestamp_seconds",
    help: "When the report was made (Unix time), labelled with the cmmio build that made it.", unit: "seconds")
  if let provenance {
    family.add(
      provenance.unixTime,
      [("cmmio_version", provenance.cmmioVersion), ("git_commit", provenance.gitCommit ?? "unknown")]
        + hostLabels(host))
  }
  return family
}

/// The labels of one result: the configuration (`none` where it has no such thing: no ring
/// size or drain for ram, plain and ioeventfd; `unpinned` CPUs) and the host.
func resultLabels(_ key: CaseKey, host: Host) -> [(String, String)] {
  [
    ("mode", key.mode.rawValue),
    ("space", key.space.rawValue),
    ("ring_size", key.ringSize.map(String.init) ?? "none"),
    ("drain", key.mode.usesRing ? key.drain.rawValue : "none"),
    ("cpu", key.vcpuCPU.map(String.init) ?? "unpinned"),
    ("vcpus", String(key.vcpus)),
    ("flush_every", String(key.flushEvery)),
    ("drain_cpu", key.drainCPU.map(String.init) ?? "none"),
    ("numa_node", key.numaNode.map(String.init) ?? "none"),
  ] + hostLabels(host)
}

/// `cmmio bench --format openmetrics`: each result's figures as gauges (names carry their
/// units), the comparisons, the warnings by kind, and when and by which build.
public func benchOpenMetrics(_ report: BenchReport) -> String {
  let host = report.host
  var writes = MetricFamily(
    name: "cmmio_bench_writes_per_second",
    help: "Guest register writes per second over the kept runs; statistic: median, mean, stddev, min, max.")
  var time = MetricFamily(
    name: "cmmio_bench_write_time_nanoseconds",
    help: "Wall time per guest write over the kept runs; statistic: median, mean, stddev, min, max.",
    unit: "nanoseconds")
  var exitsPerWrite = MetricFamily(
    name: "cmmio_bench_userspace_exits_per_write", help: "Exits to userspace (KVM_RUN returns) per guest write.")
  var exitsPerSecond = MetricFamily(
    name: "cmmio_bench_userspace_exits_per_second", help: "Exits to userspace per second of the KVM_RUN loop.")
  var modelExits = MetricFamily(
    name: "cmmio_bench_model_exits_per_write", help: "Exits per write the ring model gives: 1/(K + 1), 1 for plain.")
  var latency = MetricFamily(
    name: "cmmio_bench_kvm_run_nanoseconds",
    help: "KVM_RUN round-trip time percentiles (HdrHistogram over the kept runs); percentile 50, 90, 99, 99.9, max.",
    unit: "nanoseconds")
  var kernel = MetricFamily(
    name: "cmmio_bench_kernel_stat_per_run",
    help: "Mean delta per run of the vCPU's cumulative KVM_GET_STATS_FD counter named by stat.")
  var runs = MetricFamily(name: "cmmio_bench_runs", help: "Runs kept for the result.")
  var lost = MetricFamily(name: "cmmio_bench_lost_writes", help: "Writes never seen by verification, over all runs.")
  var outOfOrder = MetricFamily(
    name: "cmmio_bench_out_of_order_writes", help: "Writes seen out of order by verification, over all runs.")
  var passed = MetricFamily(
    name: "cmmio_bench_verified",
    help: "1 when every write was accounted for and the exits matched the ring model, else 0.")
  var speedup = MetricFamily(
    name: "cmmio_bench_speedup_vs_plain_ratio", help: "Median writes/s divided by the matching plain result's.")
  var floor = MetricFamily(
    name: "cmmio_bench_ram_floor_ratio", help: "Median time per write divided by the matching RAM floor's.")
  for result in report.results where result.runs > 0 {
    let labels = resultLabels(result.key, host: host)
    for (statistic, value) in statistics(result.writesPerSec) { writes.add(value, labels + [("statistic", statistic)]) }
    for (statistic, value) in statistics(result.nsPerWrite) { time.add(value, labels + [("statistic", statistic)]) }
    exitsPerWrite.add(result.userspaceExitsPerWrite, labels)
    exitsPerSecond.add(result.exitsPerSec, labels)
    if let check = result.exitCheck { modelExits.add(check.modelExitsPerWrite, labels) }
    let run = result.kvmRunNs
    for (percentile, value) in [
      ("50", run.p50), ("90", run.p90), ("99", run.p99), ("99.9", run.p999), ("max", run.max),
    ] {
      latency.add(Double(value), labels + [("percentile", percentile)])
    }
    for stat in result.kernelStats { kernel.add(stat.value, labels + [("stat", stat.name)]) }
    runs.add(Double(result.runs), labels)
    if let verification = result.verification {
      lost.add(Double(verification.lost), labels)
      outOfOrder.add(Double(verification.outOfOrder), labels)
    }
    if result.verification != nil || result.exitCheck != nil { passed.add(result.passed ? 1 : 0, labels) }
  }
  for comparison in report.comparisons {
    let labels = resultLabels(comparison.key, host: host)
    speedup.add(comparison.speedupVsPlain, labels)
    if let ratio = comparison.ratioToFloor { floor.add(ratio, labels) }
  }
  var warnings = MetricFamily(
    name: "cmmio_bench_warnings",
    help: "Warnings of the report by kind (high_cv, outliers, few_runs, loaded_host, below_ram_floor, "
      + "contended_drainer); see its JSON.")
  let found = benchWarnings(report)
  for kind in BenchWarning.Kind.allCases {
    warnings.add(Double(found.filter { $0.kind == kind }.count), [("kind", kind.rawValue)] + hostLabels(host))
  }
  var interrupted = MetricFamily(
    name: "cmmio_bench_interrupted", help: "1 when SIGINT or SIGTERM ended the run early, else 0.")
  interrupted.add(report.interrupted ? 1 : 0, hostLabels(host))
  var load = MetricFamily(
    name: "cmmio_bench_host_load_average", help: "The host's load average at the start of the run; minutes 1, 5, 15.")
  for (minutes, value) in zip(["1", "5", "15"], report.provenance?.loadAverage ?? []) {
    load.add(value, [("minutes", minutes)] + hostLabels(host))
  }
  return OpenMetrics.render([
    writes, time, exitsPerWrite, exitsPerSecond, modelExits, latency, kernel, runs, lost, outOfOrder, passed, speedup,
    floor, warnings, interrupted, load,
    provenanceMetric(prefix: "cmmio_bench", provenance: report.provenance, host: host),
  ])
}

func statistics(_ summary: Summary) -> [(String, Double)] {
  [
    ("median", summary.median), ("mean", summary.mean), ("stddev", summary.stddev), ("min", summary.min),
    ("max", summary.max),
  ]
}
