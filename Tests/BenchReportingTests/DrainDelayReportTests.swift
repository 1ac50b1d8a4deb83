import Benchmarking
import Foundation
import KVM
import Reporting
import Testing

@testable import BenchReporting

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// The synthetic report with drain delays on its coalesced results: measured at CPU 0 (with
/// exit and thread drains at K = 169), omitted with a reason at CPU 1.
private func reportWithDelays() -> BenchReport {
  var report = Synthetic.report()
  var thread: [BenchResult] = []
  for index in report.results.indices where report.results[index].key.mode == .coalesced {
    let key = report.results[index].key
    guard key.vcpuCPU == 0, let size = key.ringSize else {
      report.results[index].drainDelay = .omitted("KVM_GET_TSC_KHZ answered 0 kHz")
      continue
    }
    let median = UInt64(size) * 3_000
    report.results[index].drainDelay = DrainDelay(
      figures: LatencySummary(p50: median, p90: median * 2, p99: median * 3, p999: median * 4, max: median * 5),
      reason: nil, uncertaintyNs: 1_400, entries: 19_000, early: 0, tscKHz: 2_445_404, measuredKHz: 2_445_100,
      clock: DrainDelay.Clock(basis: .cpuFlags, runKHz: 2_445_300, rateError: 0.0001),
      verification: Verification(entries: 20_000, lost: 0, outOfOrder: 0), stampedNsPerWrite: 6_000,
      writeIntervalNs: 5_800)
    if size == 169 {
      var other = report.results[index]
      other.key.drain = .thread
      other.writesPerSec = Summary(samples: other.writesPerSec.samples.map { $0 * 0.9 })
      other.drainDelay?.figures = LatencySummary(
        p50: 35_000, p90: 600_000, p99: 5_000_000, p999: 6_000_000, max: 8_000_000)
      thread.append(other)
    }
  }
  report.results += thread
  return report
}

@Suite("The drain delay in the bench report")
struct DrainDelayReportTests {
  @Test("JSON: every result has drain_delay_ns and drain_delay_reason; figures with uncertainty, or null with a reason")
  func json() throws {
    let data = Data(renderBench(reportWithDelays(), format: .json).utf8)
    let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let results = try #require(document["results"] as? [[String: Any]])
    var measured = 0
    var omitted = 0
    for result in results {
      let mode = try #require(result["mode"] as? String)
      #expect(result.keys.contains("drain_delay_ns") && result.keys.contains("drain_delay_reason"))
      #expect(result.keys.contains("drain_delay_verification"))
      if let delay = result["drain_delay_ns"] as? [String: Any] {
        measured += 1
        for key in ["p50", "p90", "p99", "p999", "max", "uncertainty_ns", "method", "write_interval_ns", "run_tsc_khz"]
        {
          #expect(delay[key] != nil, "\(key)")
        }
        #expect(delay["tsc_basis"] as? String == "constant_tsc")
        #expect(delay["rate_error"] as? Double == 0.0001)
        #expect(result["drain_delay_reason"] is NSNull)
      } else {
        let reason = try #require(result["drain_delay_reason"] as? String)
        if mode == "coalesced" {
          omitted += 1
          #expect(reason == "KVM_GET_TSC_KHZ answered 0 kHz")
        } else {
          #expect(reason == "\(mode) has no ring")
        }
      }
    }
    #expect(measured == Synthetic.rings.count + 1)
    #expect(omitted == Synthetic.rings.count)
  }

  @Test("CSV: the delay columns on every row, empty where not measured, the reason where omitted")
  func csv() throws {
    let lines = renderBench(reportWithDelays(), format: .csv).split(separator: "\n")
    let header = lines[0].split(separator: ",", omittingEmptySubsequences: false)
    let p50 = try #require(header.firstIndex(of: "drain_delay_ns_p50"))
    let reason = try #require(header.firstIndex(of: "drain_delay_reason"))
    for line in lines.dropFirst() {
      // No cell here holds a comma or a quote, so a plain split is the RFC 4180 parse.
      let cells = line.split(separator: ",", omittingEmptySubsequences: false)
      #expect(cells.count == header.count)
      if cells[0] == "coalesced" {
        #expect(cells[p50].isEmpty != cells[reason].isEmpty, "\(line)")
      } else {
        #expect(cells[p50].isEmpty && cells[reason].isEmpty)
      }
    }
  }

  @Test("table: a delay p50 column, a note with the uncertainty, a † note per omitted figure")
  func table() {
    let text = renderBench(reportWithDelays(), format: .table)
    #expect(text.contains("delay p50"))
    #expect(text.contains("507 µs"))  // K = 169: 169 × 3,000 ns
    #expect(text.contains("omitted"))
    #expect(text.contains("± 1.40 µs at most"))
    #expect(text.contains("† coalesced mmio, CPU 1 K=169: drain delay omitted: KVM_GET_TSC_KHZ answered 0 kHz."))
    #expect(!text.contains("reports no constant_tsc"))
  }

  @Test("table: where the CPU gives no word for a steady TSC, a note says the figures rest on the measured rate")
  func measuredBasisNote() {
    var report = reportWithDelays()
    for index in report.results.indices where report.results[index].drainDelay?.clock != nil {
      report.results[index].drainDelay?.clock = DrainDelay.Clock(basis: .measured, runKHz: 2_440_000, rateError: 0.0022)
    }
    let text = renderBench(report, format: .table)
    #expect(
      text.contains(
        "the host CPU reports no constant_tsc and nonstop_tsc, so a steady TSC rests only on its rate, measured over "
          + "each stamped run against CLOCK_MONOTONIC: within 0.22% of KVM_GET_TSC_KHZ"))
  }

  @Test("headline: the exit drain's wait at the largest K, and what the thread drain did to it and to the throughput")
  func headline() {
    let sentence = benchHeadline(reportWithDelays())
    #expect(
      sentence.contains(
        "At K=169 a coalesced MMIO write waited a median of 507 µs in the ring (p99 1.52 ms) with exit drains; "
          + "a thread drain cut that to 35.0 µs at 90% of the throughput (± 1.40 µs, from a stamped run)."))
    var omitted = Synthetic.report()
    for index in omitted.results.indices where omitted.results[index].key.mode == .coalesced {
      omitted.results[index].drainDelay = .omitted("KVM_GET_TSC_KHZ failed: ENOTTY")
    }
    #expect(benchHeadline(omitted).contains("The drain delay was not measured: KVM_GET_TSC_KHZ failed: ENOTTY."))
  }

  @Test("plot: a second chart of delay against ring size, stacked below, the whole well-formed")
  func plot() throws {
    let svg = renderBenchSVG(reportWithDelays())
    let parser = XMLParser(data: Data(svg.utf8))
    let inspector = SVGInspector()
    parser.delegate = inspector
    #expect(parser.parse(), "not well-formed XML: \(String(describing: parser.parserError))")
    // Writes/s: exit drains on CPUs 0 and 1 and the thread drain; delays: CPU 0 exit and thread drains.
    #expect(inspector.polylinesInSeries == 3 + 2)
    #expect(inspector.texts.contains { $0.contains("drain delay against ring size") })
    #expect(inspector.texts.contains("drain delay, median (µs)"))
    #expect(svg.components(separatedBy: "<svg").count == 4)
    #expect(!renderBenchSVG(Synthetic.report()).contains("drain delay"))
  }
}
