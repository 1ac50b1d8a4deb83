import BenchReporting
import Benchmarking
import KVM
import Testing

@Suite("ioeventfd in the bench report")
struct IoeventfdReportTests {
  private func report(counted: Int) -> BenchReport {
    var results = Synthetic.report().results.filter { $0.key.vcpuCPU == 0 && $0.key.mode != .coalesced }
    var ioeventfd = Synthetic.result(.ioeventfd, cpu: 0, nsPerWrite: 4_500, exitsPerWrite: 0)
    let writes = ioeventfd.writes * ioeventfd.runs
    ioeventfd.verification = Verification(
      entries: 0, lost: 0, outOfOrder: 0, eventfdCount: counted, eventfdExpected: writes)
    ioeventfd.exitCheck = ExitCheck(
      promise: .exact, modelExitsPerWrite: 0, arithmetic: nil, achievedRingSize: nil, leastGrant: nil,
      greatestGrant: nil, drains: 0, brokenGrants: 0, problem: nil)
    results.append(ioeventfd)
    let (comparisons, models) = analyze(results: results)
    return BenchReport(
      host: Synthetic.host, ringCapacity: 169, configuration: BenchConfiguration(), results: results,
      comparisons: comparisons, costModels: models, interrupted: false)
  }

  @Test("a wrong eventfd count is shown as a failure in the table, never ok")
  func wrongCountInTable() {
    let writes = Synthetic.writes * Synthetic.spread.count
    let table = renderBench(report(counted: writes - 1), format: .table)
    let row = table.split(separator: "\n").first { $0.hasPrefix("ioeventfd") } ?? ""
    #expect(row.contains("the eventfd counted \(writes - 1) of \(writes) writes"), "\(row)")
    #expect(!row.hasSuffix(" ok"))
    let good = renderBench(report(counted: writes), format: .table)
    #expect((good.split(separator: "\n").first { $0.hasPrefix("ioeventfd") } ?? "").hasSuffix(" ok"))
  }

  @Test("JSON and CSV carry eventfd_count; the headline compares ioeventfd with plain")
  func figures() throws {
    let writes = Synthetic.writes * Synthetic.spread.count
    let report = report(counted: writes)
    let json = renderBench(report, format: .json)
    #expect(json.contains("\"eventfd_count\": \(writes)") || json.contains("\"eventfd_count\":\(writes)"))
    let csv = parseCSV(renderBench(report, format: .csv))
    let column = try #require(csv.first?.firstIndex(of: "verification_eventfd_count"))
    let row = try #require(csv.first { $0.first == "ioeventfd" })
    #expect(row[column] == String(writes))
    #expect(report.comparisons.contains { $0.key.mode == .ioeventfd })
    #expect(renderBench(report, format: .markdown).contains("KVM_IOEVENTFD made MMIO writes"))
  }

  @Test("with plain and ioeventfd only, the headline is the ioeventfd comparison alone")
  func headlineWithoutRing() {
    var report = report(counted: Synthetic.writes * Synthetic.spread.count)
    report.results.removeAll { $0.key.mode == .ram }
    (report.comparisons, report.costModels) = analyze(results: report.results)
    let text = renderBench(report, format: .table)
    #expect(text.contains("KVM_IOEVENTFD made MMIO writes"))
    #expect(!text.contains("nothing to compare"))
    #expect(!text.contains("no coalesced result"))
  }
}
