import Foundation
import Testing

/// The built `cmmio verify` binary, run as scripts run it.
@Suite("cmmio verify, the binary", .enabled(if: ConformanceKVM.usable, ConformanceKVM.reason), .serialized)
struct ConformanceCLITests {
  /// `.build/debug/cmmio` of this package (built by `swift build --build-tests`).
  static let binary: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent(".build/debug/cmmio")

  struct Run {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  func cmmio(_ arguments: [String]) throws -> Run {
    try #require(
      FileManager.default.isExecutableFile(atPath: Self.binary.path),
      "build the cmmio product first: \(Self.binary.path) is missing")
    let process = Process()
    process.executableURL = Self.binary
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Run(
      status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
      stderr: String(decoding: stderr, as: UTF8.self))
  }

  @Test("verify --format json parses, every check passed, exit 0")
  func json() throws {
    let run = try cmmio(["verify", "--format", "json"])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stderr.isEmpty)
    let document = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    #expect(document["schema"] as? String == "cmmio.verify/1")
    #expect(document["passed"] as? Bool == true)
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
