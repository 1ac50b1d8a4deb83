import CMMIOTestSupport
import Foundation
import Testing

@Suite("cmmio bench --save", .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct BenchSaveTests {
  @Test("writes JSON, CSV, markdown and SVG of the one measurement it printed")
  func save() throws {
    let folder = try TemporaryFolder()
    let prefix = folder.path("run")
    let run = try CMMIOBinary.run([
      "bench", "--modes", "plain,coalesced", "--writes", "300", "--runs", "1", "--warmup", "0", "--ring-sizes", "4,max",
      "--format", "json", "--save", prefix, "--no-progress",
    ])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(try folder.contents() == ["run.csv", "run.json", "run.md", "run.svg"])
    // Same measurement: the saved JSON is byte for byte what was printed.
    #expect(try String(contentsOfFile: prefix + ".json", encoding: .utf8) == run.stdout)
    let csv = try String(contentsOfFile: prefix + ".csv", encoding: .utf8).split(separator: "\n")
    #expect(csv.count == 1 + 3, "a header and one row per result (plain, coalesced K=4, K=max)")
    #expect(try String(contentsOfFile: prefix + ".md", encoding: .utf8).contains("| mode |"))
    #expect(try String(contentsOfFile: prefix + ".svg", encoding: .utf8).contains("<svg xmlns="))
  }

  @Test("an empty or folder-only prefix is a usage error")
  func badPrefix() throws {
    for prefix in ["", "/tmp/"] {
      let run = try CMMIOBinary.run(["bench", "--writes", "10", "--save", prefix])
      #expect(run.status == 64, "\(prefix): \(run.stderr)")
    }
  }
}
