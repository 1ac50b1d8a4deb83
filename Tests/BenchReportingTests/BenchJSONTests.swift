import BenchReporting
import Benchmarking
import Foundation
import KVM
import Reporting
import Testing

@Suite("cmmio bench JSON (schema cmmio.bench/1)")
struct BenchJSONTests {
  func parse(_ report: BenchReport) throws -> [String: Any] {
    let text = renderBench(report, format: .json)
    let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
    return try #require(object as? [String: Any])
  }

  func expectKeys(_ object: Any?, _ keys: [String], _ context: String) throws {
    let dictionary = try #require(object as? [String: Any], "\(context) is not an object")
    for key in keys { #expect(dictionary.keys.contains(key), "\(context) lacks \(key)") }
  }

  static let keyKeys = [
    "mode", "space", "ring_size", "flush_every", "drain", "vcpus", "vcpu_cpu", "drain_cpu", "numa_node",
  ]
  static let summaryKeys = ["mean", "stddev", "median", "min", "max", "samples"]

  @Test("every key of the docs/cli.md contract, at every level")
  func contractKeys() throws {
    let document = try parse(Synthetic.report())
    try expectKeys(
      document,
      ["schema", "host", "config", "results", "comparisons", "cost_models", "headline", "interrupted"], "document")
    #expect(document["schema"] as? String == "cmmio.bench/1")
    try expectKeys(
      document["host"],
      ["kernel_release", "arch", "backend", "cpu_model", "page_size", "cpus_online", "numa_nodes", "ring_capacity"],
      "host")
    try expectKeys(
      document["config"],
      [
        "modes", "space", "writes", "runs", "warmup", "ring_sizes", "flush_every", "drain", "vcpus", "vcpu_cpus",
        "drain_cpus", "numa_node", "verify", "timeout",
      ], "config")
    let results = try #require(document["results"] as? [[String: Any]])
    #expect(results.count == Synthetic.report().results.count)
    for result in results {
      try expectKeys(
        result,
        Self.keyKeys + [
          "writes", "runs", "writes_per_sec", "ns_per_write", "userspace_exits_per_write", "exits_per_sec",
          "kvm_run_ns", "kernel_stats", "verification", "drain_delay_ns", "drain_delay_reason",
          "drain_delay_verification",
        ], "result")
      try expectKeys(result["writes_per_sec"], Self.summaryKeys, "writes_per_sec")
      try expectKeys(result["ns_per_write"], Self.summaryKeys, "ns_per_write")
      try expectKeys(result["kvm_run_ns"], ["p50", "p90", "p99", "p999", "max"], "kvm_run_ns")
      try expectKeys(result["kernel_stats"], ["exits", "mmio_exits", "io_exits"], "kernel_stats")
      if result["mode"] as? String != "ram" {
        try expectKeys(result["verification"], ["entries", "lost", "out_of_order"], "verification")
      } else {
        #expect(result["verification"] is NSNull)
      }
    }
    let comparisons = try #require(document["comparisons"] as? [[String: Any]])
    #expect(comparisons.count == 2 * Synthetic.rings.count)
    for comparison in comparisons {
      try expectKeys(comparison, Self.keyKeys + ["speedup_vs_plain", "ratio_to_floor"], "comparison")
    }
    let models = try #require(document["cost_models"] as? [[String: Any]])
    #expect(models.count == 2)
    for model in models {
      try expectKeys(
        model, ["configuration", "coalesced_ns", "exit_ns", "round_trip_ns", "r_squared", "points"], "cost model")
      try expectKeys(model["configuration"], Self.keyKeys.filter { $0 != "ring_size" }, "cost model configuration")
    }
    #expect((document["headline"] as? String)?.hasPrefix("Coalescing at a 169-entry ring") == true)
    #expect(document["interrupted"] as? Bool == false)
  }

  @Test("figures carry through: medians, the ring size, ram and plain have no ring size or drain")
  func values() throws {
    let report = Synthetic.report()
    let results = try #require(try parse(report)["results"] as? [[String: Any]])
    for (json, result) in zip(results, report.results) {
      let median = try #require((json["writes_per_sec"] as? [String: Any])?["median"] as? Double)
      #expect(abs(median - result.writesPerSec.median) <= 1e-9 * median)
      if result.key.mode.usesRing {
        #expect(json["ring_size"] as? Int == result.key.ringSize.map(Int.init))
        #expect(json["drain"] as? String == "exit")
      } else {
        #expect(json["ring_size"] is NSNull)
        #expect(json["drain"] is NSNull)
      }
    }
  }

  @Test("an interrupted report with a result that kept no run: interrupted true, figures null, still valid JSON")
  func interrupted() throws {
    var report = Synthetic.report(interrupted: true)
    report.results[0].runs = 0
    report.results[0].writesPerSec = Summary(samples: [])
    report.results[0].nsPerWrite = Summary(samples: [])
    let document = try parse(report)
    #expect(document["interrupted"] as? Bool == true)
    let first = try #require((document["results"] as? [[String: Any]])?.first)
    #expect((first["writes_per_sec"] as? [String: Any])?["median"] is NSNull)
  }

  @Test("samples: one per kept run, in run order, for writes/s and ns/write")
  func samplesInRunOrder() throws {
    // Run order deliberately unsorted: a sorted or shuffled array fails.
    let key = CaseKey(
      mode: .plain, space: .mmio, ringSize: nil, flushEvery: 0, drain: .exit, vcpus: 1, vcpuCPU: 0, drainCPU: nil,
      numaNode: 0)
    let times: [Double] = [30, 10, 20, 50, 40]
    let result = BenchResult(
      key: key, writes: 1000, runs: times.count, writesPerSec: Summary(samples: times.map { 1e9 / $0 }),
      nsPerWrite: Summary(samples: times), userspaceExitsPerWrite: 1, exitsPerSec: 1,
      kvmRunNs: LatencySummary(p50: 1, p90: 1, p99: 1, p999: 1, max: 1), kernelStats: [], verification: nil,
      observedVCPUCPUs: [0], observedDrainCPU: nil)
    var report = Synthetic.report()
    report.results = [result]
    let document = try parse(report)
    let first = try #require((document["results"] as? [[String: Any]])?.first)
    let rates = try #require((first["writes_per_sec"] as? [String: Any])?["samples"] as? [Double])
    let nanoseconds = try #require((first["ns_per_write"] as? [String: Any])?["samples"] as? [Double])
    #expect(nanoseconds == times)
    #expect(rates == times.map { 1e9 / $0 })
  }

  @Test("every result of a report carries as many samples as kept runs")
  func samplesPerResult() throws {
    let document = try parse(Synthetic.report())
    for result in try #require(document["results"] as? [[String: Any]]) {
      let runs = try #require(result["runs"] as? Int)
      for figure in ["writes_per_sec", "ns_per_write"] {
        let samples = try #require((result[figure] as? [String: Any])?["samples"] as? [Double])
        #expect(samples.count == runs, "\(figure)")
      }
    }
  }
}
