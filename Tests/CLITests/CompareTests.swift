import CMMIOTestSupport
import Foundation
import Testing

/// `cmmio compare` on reports of a real short bench run on this host's /dev/kvm: the
/// report against itself, and against a copy whose every writes/s sample is halved.
///
/// Eight runs, not five: halving is a clear change, but this host's run-to-run noise
/// under a parallel test load can reach 2× on one run, and with 5 against 5 a single
/// overlap already costs significance (U ≤ 2 needed), with 8 against 8 U ≤ 13 is.
@Suite(
  "cmmio compare, the built binary", .serialized, .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct CompareTests {
  /// a.json from a real bench run; b.json is a with every writes/s sample and median halved.
  struct Pair {
    let folder: TemporaryFolder
    var a: String { folder.path("a.json") }
    var b: String { folder.path("b.json") }
    let document: [String: Any]

    init() throws {
      folder = try TemporaryFolder()
      let bench = try CMMIOBinary.run([
        "bench", "--modes", "plain,coalesced", "--ring-sizes", "1,8", "--writes", "5000", "--runs", "8", "--warmup",
        "0", "--format", "json", "--output", folder.path("a.json"),
      ])
      try #require(bench.status == 0, "bench failed: \(bench.stderr)")
      let data = try Data(contentsOf: URL(fileURLWithPath: folder.path("a.json")))
      document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
      try Self.write(Self.halved(document), to: folder.path("b.json"))
    }

    static func write(_ object: Any, to path: String) throws {
      try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    }

    static func results(_ document: [String: Any]) throws -> [[String: Any]] {
      try #require(document["results"] as? [[String: Any]])
    }

    static func halved(_ document: [String: Any]) throws -> [String: Any] {
      var copy = document
      copy["results"] = try results(document).map { result in
        var result = result
        var rates = try #require(result["writes_per_sec"] as? [String: Any])
        rates["samples"] = try #require(rates["samples"] as? [Double]).map { $0 / 2 }
        rates["median"] = try #require(rates["median"] as? Double) / 2
        result["writes_per_sec"] = rates
        return result
      }
      return copy
    }
  }

  func compare(_ arguments: String...) throws -> CommandLineRun {
    try CMMIOBinary.run(["compare"] + arguments)
  }

  func rows(_ run: CommandLineRun) throws -> [[String: Any]] {
    let document = try #require(run.json, "not JSON: \(run.stdout)")
    #expect(document["schema"] as? String == "cmmio.compare/1")
    return try #require(document["rows"] as? [[String: Any]])
  }

  @Test("the real report carries samples: one per kept run, writes/s and ns/write of the same run side by side")
  func samplesInRealReport() throws {
    let pair = try Pair()
    let results = try Pair.results(pair.document)
    #expect(results.count == 3)
    for result in results {
      let runs = try #require(result["runs"] as? Int)
      let rates = try #require((result["writes_per_sec"] as? [String: Any])?["samples"] as? [Double])
      let times = try #require((result["ns_per_write"] as? [String: Any])?["samples"] as? [Double])
      #expect(runs == 8 && rates.count == runs && times.count == runs)
      // Same run, same index: writes/s × ns/write = 1e9 for every run, which fails if
      // either list is sorted or reordered unless the runs happened to be in order.
      for (rate, time) in zip(rates, times) { #expect(abs(rate * time / 1e9 - 1) < 1e-9) }
    }
  }

  @Test("a against itself: every configuration matched, no significant row, exit 0")
  func againstItself() throws {
    let pair = try Pair()
    let run = try compare(pair.a, pair.a, "--format", "json", "--fail-on-regression", "0")
    #expect(run.status == 0, "\(run.stderr)")
    let rows = try rows(run)
    #expect(rows.count == 3)
    for row in rows {
      #expect(row["significant"] as? Bool == false)
      #expect(row["delta_pct"] as? Double == 0)
      #expect(try #require(row["p_value"] as? Double) > 0.05)
    }
    #expect((run.json?["unmatched"] as? [Any])?.isEmpty == true)
    let table = try compare(pair.a, pair.a)
    #expect(table.status == 0)
    #expect(table.stdout.split(separator: "\n").filter { $0.contains(" ~ ") }.count == 3, "\(table.stdout)")
  }

  @Test("a against a with writes/s halved: every row significant at about −50%; --fail-on-regression 10 exits 1")
  func halved() throws {
    let pair = try Pair()
    let run = try compare(pair.a, pair.b, "--format", "json")
    #expect(run.status == 0, "\(run.stderr)")
    let rows = try rows(run)
    #expect(rows.count == 3)
    for row in rows {
      #expect(row["significant"] as? Bool == true, "\(row) in \(run.stdout)")
      #expect(abs(try #require(row["delta_pct"] as? Double) + 50) < 1e-6)
      #expect(try #require(row["p_value"] as? Double) < 0.05)
      #expect(row["baseline_n"] as? Int == 8 && row["candidate_n"] as? Int == 8)
      let low = try #require(row["ratio_ci_low"] as? Double)
      let high = try #require(row["ratio_ci_high"] as? Double)
      #expect(low <= 0.5 && 0.5 <= high && high < 1)
    }
    let gate = try compare(pair.a, pair.b, "--fail-on-regression", "10")
    #expect(gate.status == 1)
    #expect(
      gate.stderr.hasPrefix("cmmio: writes/s fell significantly") && gate.stderr.split(separator: "\n").count == 1)
    #expect(gate.stdout.contains("-50.0%"))
    #expect(try compare(pair.a, pair.b, "--fail-on-regression", "60").status == 0)
    // The other direction is an improvement, never a regression.
    #expect(try compare(pair.b, pair.a, "--fail-on-regression", "10").status == 0)
  }

  @Test("every format: CSV and markdown carry the same rows, unmatched results are listed")
  func formatsAndUnmatched() throws {
    let pair = try Pair()
    var fewer = try Pair.halved(pair.document)
    fewer["results"] = Array(try Pair.results(fewer).dropFirst())
    let c = pair.folder.path("c.json")
    try Pair.write(fewer, to: c)
    let json = try compare(pair.a, c, "--format", "json")
    #expect(try rows(json).count == 2)
    let unmatched = try #require(json.json?["unmatched"] as? [[String: Any]])
    #expect(unmatched.count == 1 && unmatched.first?["side"] as? String == "baseline")
    #expect(unmatched.first?["mode"] as? String == "plain")
    let table = try compare(pair.a, c)
    #expect(table.stdout.contains("only in baseline"))
    let csv = try compare(pair.a, c, "--format", "csv")
    let lines = csv.stdout.split(separator: "\n")
    #expect(lines.count == 4 && lines[0].hasPrefix("match,mode,space,ring_size"))
    #expect(lines.filter { $0.hasPrefix("both,") }.count == 2 && lines.contains { $0.hasPrefix("baseline only,") })
    let markdown = try compare(pair.a, c, "--format", "markdown", "--output", pair.folder.path("c.md"))
    #expect(markdown.status == 0 && markdown.stdout.isEmpty)
    let text = try String(contentsOfFile: pair.folder.path("c.md"), encoding: .utf8)
    #expect(text.contains("| configuration |") && text.contains("- only in baseline"))
  }

  @Test("bad input: one sentence; wrong kind of file 64, unreadable 1")
  func badInput() throws {
    let pair = try Pair()
    let folder = pair.folder
    let checkCap = try CMMIOBinary.run(["check-cap", "--format", "json", "--output", folder.path("cap.json")])
    try #require(checkCap.status == 0)
    var bare = pair.document
    bare["results"] = try Pair.results(bare).map { result in
      var result = result
      var rates = try #require(result["writes_per_sec"] as? [String: Any])
      rates.removeValue(forKey: "samples")
      result["writes_per_sec"] = rates
      return result
    }
    try Pair.write(bare, to: folder.path("old.json"))
    try Data("not json at all".utf8).write(to: URL(fileURLWithPath: folder.path("junk.json")))
    let cases: [([String], Int32, String)] = [
      ([pair.a, folder.path("cap.json")], 64, "compare reads two cmmio.bench/1 reports"),
      ([folder.path("cap.json"), folder.path("cap.json")], 64, "compare reads cmmio.bench/1 reports"),
      ([pair.a, folder.path("old.json")], 64, "no per-run samples"),
      ([folder.path("junk.json"), pair.a], 64, "is not JSON"),
      ([pair.a, folder.path("missing.json")], 1, "Cannot read"),
      ([folder.url.path, pair.a], 1, "Cannot read"),
    ]
    for (arguments, status, phrase) in cases {
      let run = try CMMIOBinary.run(["compare"] + arguments)
      #expect(run.status == status, "\(arguments): \(run.stderr)")
      #expect(run.stderr.hasPrefix("cmmio: ") && run.stderr.contains(phrase), "\(run.stderr)")
      #expect(run.stderr.split(separator: "\n").count == 1 && run.stdout.isEmpty, "\(run.stderr)")
    }
  }
}
