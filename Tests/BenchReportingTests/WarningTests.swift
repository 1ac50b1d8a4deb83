import BenchReporting
import Benchmarking
import Foundation
import KVM
import Testing

/// Each warning rule on reports built to sit just inside and just outside it, so a rule
/// with the wrong threshold, direction or statistic fails here.
@Suite("bench warnings: CV, IQR outliers, few runs, a loaded host, below the RAM floor, a contended drainer")
struct WarningTests {
  /// `result` with these writes/s samples in run order (ns/write follows from them).
  func with(_ result: BenchResult, writesPerSec samples: [Double]) -> BenchResult {
    var result = result
    result.writesPerSec = Summary(samples: samples)
    result.nsPerWrite = Summary(samples: samples.map { 1e9 / $0 })
    result.runs = samples.count
    return result
  }

  /// The synthetic report with the result of `key`'s mode, ring and CPU replaced.
  func report(
    replacing mode: BenchMode = .coalesced, ring: UInt32? = 169, cpu: Int = 0, backend: String = "kvm_pvm",
    load: [Double]? = nil, runs: Int = 5, _ change: (BenchResult) -> BenchResult = { $0 }
  ) -> BenchReport {
    var report = Synthetic.report()
    if let index = report.results.firstIndex(where: {
      $0.key.mode == mode && $0.key.ringSize == ring && $0.key.vcpuCPU == cpu
    }) {
      report.results[index] = change(report.results[index])
    }
    (report.comparisons, report.costModels) = analyze(results: report.results)
    report.host.backend = backend
    report.host.cpusOnline = CPUList([0, 1])
    report.configuration.runs = runs
    if let load {
      report.provenance = Provenance(
        timestamp: "2026-11-30T06:40:00Z", unixTime: 1_795_941_600, cmmioVersion: "0.1.0", gitCommit: nil,
        gitDirty: nil, commandLine: ["cmmio", "bench"], kernelCmdline: nil, cpufreqGovernor: nil, boost: nil,
        smt: nil, loadAverage: load, kvmParameters: [])
    }
    return report
  }

  func kinds(_ report: BenchReport) -> [BenchWarning.Kind] { benchWarnings(report).map(\.kind) }

  @Test("the synthetic report (five close runs, plausible ratios) has no warning, and the JSON says so")
  func quiet() throws {
    #expect(benchWarnings(Synthetic.report()).isEmpty)
    let document = try JSONSerialization.jsonObject(with: Data(renderBench(Synthetic.report(), format: .json).utf8))
    #expect(((document as? [String: Any])?["warnings"] as? [Any])?.isEmpty == true)
    #expect(!renderBench(Synthetic.report(), format: .table).contains("warning:"))
  }

  @Test("statistics against known values: CV, type-7 quartiles, Tukey's fences")
  func statistics() throws {
    // Sample sd of 2,4,4,4,5,5,7,9 is 2.138 (n − 1), mean 5.
    let cv = try #require(coefficientOfVariation([2, 4, 4, 4, 5, 5, 7, 9]))
    #expect(abs(cv - 0.427_617) < 1e-6)
    #expect(coefficientOfVariation([5]) == nil)
    // numpy.percentile([1, 2, 3, 4], [25, 75]) = 1.75, 3.25.
    #expect(quantile(sorted: [1, 2, 3, 4], 0.25) == 1.75)
    #expect(quantile(sorted: [1, 2, 3, 4], 0.75) == 3.25)
    // Q1 11, Q3 13, IQR 2: fences 8 and 16, inclusive.
    #expect(tukeyOutliers([10, 11, 12, 13, 100]) == [4])
    #expect(tukeyOutliers([10, 11, 12, 13, 16]) == [])
    #expect(tukeyOutliers([10, 11, 12, 13, 16.01]) == [4])
    #expect(tukeyOutliers([6.99, 11, 12, 13, 10]) == [0])
    #expect(tukeyOutliers([7.01, 11, 12, 13, 10]) == [])
    #expect(tukeyOutliers([1, 2, 1000]) == [], "three samples: quartiles say nothing")
  }

  @Test("CV above 10% warns, below it does not")
  func variation() {
    // Mean 100,000: sd 15,000 (CV 15%) against sd 5,000 (CV 5%).
    let noisy = report { with($0, writesPerSec: [85_000, 115_000, 85_000, 115_000, 100_000]) }
    let calm = report { with($0, writesPerSec: [95_000, 105_000, 95_000, 105_000, 100_000]) }
    let warning = benchWarnings(noisy).first { $0.kind == .highVariation }
    #expect(abs((warning?.value ?? 0) - 0.15) < 1e-9)
    #expect(warning?.key?.ringSize == 169)
    #expect(!kinds(calm).contains(.highVariation))
    #expect(
      renderBench(noisy, format: .table).contains(
        "warning: coalesced mmio, CPU 0, K=169: writes/s varied by 15.0% of their mean"))
  }

  @Test("an IQR outlier names its run and value; a close run is not one")
  func outliers() {
    let disturbed = report { with($0, writesPerSec: [150_000, 149_000, 80_000, 151_000, 150_500]) }
    let warning = benchWarnings(disturbed).first { $0.kind == .outliers }
    #expect(warning?.runs == [3])
    #expect(renderBench(disturbed, format: .table).contains("run 3 of 5 lay outside Tukey's fences"))
    #expect(renderBench(disturbed, format: .table).contains("80,000 against a median of 150,000"))
    let steady = report { with($0, writesPerSec: [150_000, 149_000, 148_000, 151_000, 150_500]) }
    #expect(!kinds(steady).contains(.outliers))
  }

  @Test("fewer than 3 runs warns once for the run, 3 do not")
  func fewRuns() {
    let two = report(runs: 2)
    #expect(benchWarnings(two).filter { $0.kind == .fewRuns }.count == 1)
    #expect(benchWarnings(two).first { $0.kind == .fewRuns }?.key == nil)
    #expect(!kinds(report(runs: 3)).contains(.fewRuns))
    // An interrupted result with 2 kept runs of 5 asked is named by itself.
    let cut = report { with($0, writesPerSec: [150_000, 151_000]) }
    #expect(benchWarnings(cut).first { $0.kind == .fewRuns }?.key?.ringSize == 169)
  }

  @Test("a 1-minute load above 0.5 per online CPU at start warns; at the limit it does not")
  func loadedHost() {
    let loaded = report(load: [1.01, 0.2, 0.1])
    let warning = benchWarnings(loaded).first
    #expect(warning?.kind == .loadedHost)
    #expect(warning?.limit == 1.0)
    #expect(!kinds(report(load: [1.0, 5, 5])).contains(.loadedHost), "the 5- and 15-minute loads do not count")
    #expect(renderBench(loaded, format: .table).contains("1-minute load average was 1.01 on 2 online CPUs"))
  }

  @Test("below the RAM floor: warned, explained for kvm_pvm, and the headline does not say 'as fast as'")
  func belowFloor() throws {
    // RAM on CPU 0 is 5,618 ns a write; this coalesced result 5,000.
    let fast = report { _ in Synthetic.result(.coalesced, ring: 169, cpu: 0, nsPerWrite: 5_000, exitsPerWrite: 1 / 170)
    }
    let warning = try #require(benchWarnings(fast).first { $0.kind == .belowRAMFloor })
    #expect(abs(warning.value - 5_000 / 5_618) < 1e-3)
    let headline = benchHeadline(fast)
    #expect(!headline.contains("as fast as"))
    #expect(headline.contains("which no hardware allows"), "\(headline)")
    let table = renderBench(fast, format: .table)
    #expect(table.contains("On kvm_pvm, which emulates every guest instruction, the RAM store is emulated too"))
    let native = report(backend: "kvm_intel") { _ in
      Synthetic.result(.coalesced, ring: 169, cpu: 0, nsPerWrite: 5_000, exitsPerWrite: 1 / 170)
    }
    #expect(!renderBench(native, format: .table).contains("emulates every guest instruction"))
    #expect(renderBench(native, format: .table).contains("Suspect the measurement"))
    // At 5,700 ns (above the floor) nothing is flagged.
    let slower = report { _ in
      Synthetic.result(.coalesced, ring: 169, cpu: 0, nsPerWrite: 5_700, exitsPerWrite: 1 / 170)
    }
    #expect(!kinds(slower).contains(.belowRAMFloor))
  }

  @Test("a thread drainer on its CPU for less than 90% of a run warns, naming the CPU; at 90% it does not")
  func contendedDrainer() throws {
    func drained(_ share: Double?) -> BenchReport {
      // The headline quotes CPU 1's full ring.
      report(cpu: 1) { result in
        var result = result
        result.observedDrainCPU = 0
        result.drainerCPUShare = share
        return result
      }
    }
    let contended = drained(0.62)
    let warning = try #require(benchWarnings(contended).first { $0.kind == .contendedDrainer })
    #expect(warning.value == 0.62 && warning.limit == 0.9)
    #expect(warning.key?.ringSize == 169)
    #expect(benchHeadline(contended).contains("a drainer sharing its CPU"))
    #expect(!kinds(drained(0.9)).contains(.contendedDrainer))
    #expect(!kinds(drained(nil)).contains(.contendedDrainer))
    let document = try #require(
      try JSONSerialization.jsonObject(with: Data(renderBench(contended, format: .json).utf8)) as? [String: Any])
    let results = try #require(document["results"] as? [[String: Any]])
    #expect(results.compactMap { $0["drainer_cpu_share"] as? Double } == [0.62])
    let warnings = try #require(document["warnings"] as? [[String: Any]])
    let sentence = try #require(warnings.first { $0["kind"] as? String == "contended_drainer" }?["message"] as? String)
    #expect(sentence.contains("ran for only 62.0% of a run's wall time"), "\(sentence)")
    #expect(sentence.contains("other tasks had CPU 0"), "\(sentence)")
  }

  @Test("the headline reads with care only about the results it quotes")
  func headlineDoubts() {
    // The headline quotes CPU 1 at K = 169 (the larger speedup there) against CPU 1's plain and RAM.
    let noisyQuoted = report(cpu: 1) { with($0, writesPerSec: [120_000, 160_000, 148_000, 170_000, 130_000]) }
    #expect(benchHeadline(noisyQuoted).contains("on CPU 1"))
    #expect(benchHeadline(noisyQuoted).contains("Read with care: run-to-run variation above 10.0%"))
    let noisyElsewhere = report(ring: 1, cpu: 0) { with($0, writesPerSec: [60_000, 90_000, 80_000, 100_000, 70_000]) }
    #expect(kinds(noisyElsewhere).contains(.highVariation))
    #expect(!benchHeadline(noisyElsewhere).contains("Read with care"))
    #expect(benchHeadline(report(load: [3, 3, 3])).contains("Read with care: the host was loaded at start"))
  }

  @Test("JSON: kind, configuration, value, limit, runs for outliers, and the sentence")
  func json() throws {
    let disturbed = report(load: [2, 2, 2]) { with($0, writesPerSec: [150_000, 149_000, 80_000, 151_000, 150_500]) }
    let document = try #require(
      try JSONSerialization.jsonObject(with: Data(renderBench(disturbed, format: .json).utf8)) as? [String: Any])
    let warnings = try #require(document["warnings"] as? [[String: Any]])
    #expect(warnings.map { $0["kind"] as? String } == ["loaded_host", "high_cv", "outliers"])
    #expect(warnings[0]["configuration"] is NSNull)
    #expect((warnings[2]["configuration"] as? [String: Any])?["ring_size"] as? Int == 169)
    #expect(warnings[2]["runs"] as? [Int] == [3])
    #expect(warnings[1]["limit"] as? Double == 0.1)
    #expect(warnings.allSatisfy { ($0["message"] as? String)?.isEmpty == false })
    #expect(renderBench(disturbed, format: .markdown).contains("## Warnings"))
  }
}
