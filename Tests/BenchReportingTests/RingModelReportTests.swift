import Benchmarking
import Foundation
import KVM
import Reporting
import Testing

@testable import BenchReporting

/// Reports of a pre-6.12 kernel: what the renderings say when K could not be granted
/// exactly, and when the exits did not match the model. Synthetic figures (no kernel).
@Suite("Bench report: the ring model, the half-ring bug and failed exit checks")
struct RingModelReportTests {
  /// A fill as the probe measures it on a pre-6.12 kernel (85 from 0 and 84, 169 from 85 and 169).
  static let pre612Fill = RingFill(slots: 170, starts: [0, 84, 85, 169], counts: [85, 85, 169, 169])

  static func report(problem: String? = nil) -> BenchReport {
    var exact = Synthetic.result(.coalesced, ring: 8, cpu: 0, nsPerWrite: 8_000, exitsPerWrite: 1 / 9)
    exact.exitCheck = ExitCheck(
      promise: .exact, modelExitsPerWrite: 1 / 9, arithmetic: .pre612, achievedRingSize: 8, leastGrant: 8,
      greatestGrant: 8, drains: 2_223, brokenGrants: problem == nil ? 0 : 3, problem: problem)
    var inexact = Synthetic.result(.coalesced, ring: 169, cpu: 0, nsPerWrite: 7_000, exitsPerWrite: 1 / 127.5)
    inexact.exitCheck = ExitCheck(
      promise: .exact, modelExitsPerWrite: 1 / 127.5, arithmetic: .pre612, achievedRingSize: 126.5,
      leastGrant: 84, greatestGrant: 169, drains: 158, brokenGrants: 0, problem: nil)
    var plain = Synthetic.result(.plain, cpu: 0, nsPerWrite: 15_000, exitsPerWrite: 1)
    plain.exitCheck = ExitCheck(
      promise: .exact, modelExitsPerWrite: 1, arithmetic: nil, achievedRingSize: nil, leastGrant: nil,
      greatestGrant: nil, drains: 0, brokenGrants: 0, problem: nil)
    let results = [plain, exact, inexact]
    let (comparisons, models) = analyze(results: results)
    return BenchReport(
      host: Synthetic.host, ringCapacity: 169, ring: pre612Fill, configuration: BenchConfiguration(),
      results: results, comparisons: comparisons, costModels: models, interrupted: false)
  }

  @Test("table: K achieved is marked and explained, the run line and headline name the bug, all ok")
  func tableNamesBug() {
    let text = renderBench(Self.report(), format: .table)
    #expect(text.contains("pre-6.12 has-room arithmetic (85 entries from an empty ring at index 0"))
    #expect(text.contains("126.50*"))
    #expect(text.contains("* coalesced mmio K = 169 asked"))
    #expect(text.contains("the cursor granted 84 to 169 per fill"))
    #expect(text.contains("92f6d4130497"))
    #expect(benchHeadline(Self.report()).contains("pre-6.12 half-ring bug"))
    #expect(benchHeadline(Self.report()).contains("126.50-entry ring"))
    #expect(!text.contains("FAILED"))
  }

  @Test("a failed exit check: FAILED in the table, never ok; the problem in a note, JSON and the headline")
  func failedCheck() throws {
    let report = Self.report(problem: "a drain from ring position 168 found 87 entries where the cursor had granted 1")
    let text = renderBench(report, format: .table)
    let row = try #require(text.split(separator: "\n").first { $0.hasPrefix("coalesced") && $0.contains("  8  ") })
    #expect(row.contains("FAILED: exits ≠ model"))
    #expect(!row.hasSuffix("ok"))
    #expect(text.contains("! coalesced mmio, CPU 0 K=8: exits per write did not match the ring model"))
    #expect(benchHeadline(report).contains("did not match the ring model for 1 result(s)"))
    #expect(!report.results[1].passed)

    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(renderBench(report, format: .json).utf8)) as? [String: Any])
    let ring = try #require(json["ring"] as? [String: Any])
    #expect(ring["has_room_arithmetic"] as? String == "pre-6.12")
    #expect(ring["half_ring_bug"] as? Bool == true)
    #expect(ring["fix_commit"] as? String == "92f6d4130497")
    #expect(ring["largest_exact_ring_size"] as? Int == 83)
    let results = try #require(json["results"] as? [[String: Any]])
    let failed = try #require(results[1]["exit_check"] as? [String: Any])
    #expect(failed["passed"] as? Bool == false)
    #expect((failed["problem"] as? String)?.contains("87 entries") == true)
    let inexact = try #require(results[2]["exit_check"] as? [String: Any])
    #expect(inexact["exact_ring_size"] as? Bool == false)
    #expect(inexact["achieved_ring_size"] as? Double == 126.5)
    #expect(results[2]["ring_size"] as? Int == 169)
    #expect((json["headline"] as? String)?.contains("92f6d4130497") == true)

    let csv = renderBench(report, format: .csv)
    #expect(csv.contains("exit_check_passed"))
    #expect(renderBench(report, format: .markdown).contains("\\* coalesced mmio K = 169 asked"))
  }

  @Test("the cost model is fitted at the ring size achieved, not the one asked")
  func costModelUsesAchieved() throws {
    let report = Self.report()
    #expect(report.results[2].effectiveRingSize == 126.5)
    #expect(report.results[1].effectiveRingSize == 8)
    #expect(report.costModels.count == 1)
  }
}
