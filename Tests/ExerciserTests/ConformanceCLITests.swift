import CMMIOTestSupport
import Foundation
import Testing

/// The built `cmmio verify` binary, run as scripts run it.
@Suite("cmmio verify, the binary", .enabled(if: KVMAvailability.usable, KVMAvailability.reason), .serialized)
struct ConformanceCLITests {
  func cmmio(_ arguments: [String]) throws -> CommandLineRun {
    try #require(
      FileManager.default.isExecutableFile(atPath: CMMIOBinary.path),
      "build the cmmio product first: \(CMMIOBinary.path) is missing")
    let run = try CMMIOBinary.run(arguments)
    #expect(!run.crashed, "cmmio \(arguments) died of a signal: \(run.stderr)")
    return run
  }

  @Test("verify --format json parses, every check passed, exit 0")
  func json() throws {
    let run = try cmmio(["verify", "--format", "json"])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stderr.isEmpty)
    let document = try #require(run.json)
    #expect(document["schema"] as? String == "cmmio.verify/1")
    #expect(document["passed"] as? Bool == true)
    #expect(document["spaces"] as? [String] == ["mmio", "pio"])
    let checks = try #require(document["checks"] as? [[String: Any]])
    #expect(checks.count == 18)
    for check in checks {
      #expect(check["name"] is String)
      #expect(check["passed"] as? Bool == true, "\(check)")
      #expect((check["detail"] as? String)?.isEmpty == false)
    }
    let host = try #require(document["host"] as? [String: Any])
    #expect(host["kernel_release"] is String)
    #expect(host["page_size"] is Int)
  }

  @Test("verify --space bogus is a usage error: exit 64, one sentence on stderr")
  func bogusSpace() throws {
    let run = try cmmio(["verify", "--space", "bogus"])
    #expect(run.status == 64)
    #expect(run.stdout.isEmpty)
    #expect(run.stderr.contains("bogus"))
    #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
  }

  @Test("verify on a missing device: exit 2")
  func missingDevice() throws {
    let run = try cmmio(["verify", "--device", "/nonexistent/kvm"])
    #expect(run.status == 2)
    #expect(run.stderr.contains("ENOENT"))
  }

  @Test("table, csv and markdown: one line per check")
  func otherFormats() throws {
    let table = try cmmio(["verify", "--space", "mmio"])
    #expect(table.status == 0)
    let rows = table.stdout.split(separator: "\n").filter { $0.hasPrefix("PASS") || $0.hasPrefix("FAIL") }
    #expect(rows.count == 10)
    #expect(table.stdout.contains("all 10 checks passed"))
    let csv = try cmmio(["verify", "--space", "mmio", "--format", "csv"])
    let lines = csv.stdout.split(separator: "\n")
    #expect(lines.first == "name,passed,detail")
    #expect(lines.count == 11)
    #expect(lines.dropFirst().allSatisfy { $0.contains(",true,") })
    let markdown = try cmmio(["verify", "--space", "pio", "--format", "markdown"])
    #expect(markdown.stdout.hasPrefix("| result | check | detail |"))
    #expect(markdown.stdout.split(separator: "\n").count == 12)
  }
}
