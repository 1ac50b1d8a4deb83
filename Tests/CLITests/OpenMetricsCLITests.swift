import CMMIOTestSupport
import Foundation
import Testing

/// `--format openmetrics` of the built binary agrees with its JSON. (The official parser and
/// a real node_exporter read it in scripts/openmetrics-check.sh, which .ci/run runs.)
@Suite(
  "cmmio --format openmetrics, the built binary", .serialized,
  .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct OpenMetricsCLITests {
  /// `name{labels} value` lines of `name`, as (labels text, value).
  func samples(_ text: String, _ name: String) -> [(labels: String, value: Double)] {
    text.split(separator: "\n").compactMap { line in
      guard line.hasPrefix(name + "{"), let close = line.lastIndex(of: "}") else { return nil }
      let labels = String(line[line.index(line.startIndex, offsetBy: name.count + 1)..<close])
      return Double(line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)).map { (labels, $0) }
    }
  }

  @Test("check-cap: a 0/1 gauge per feature, as its JSON says, and # EOF")
  func checkCap() throws {
    let metrics = try CMMIOBinary.run(["check-cap", "--format", "openmetrics"])
    try #require(metrics.status == 0, "\(metrics.stderr)")
    #expect(metrics.stdout.hasSuffix("# EOF\n"))
    let json = try CMMIOBinary.run(["check-cap", "--format", "json"])
    let features = try #require(json.json?["features"] as? [String: [String: Any]])
    let gauges = samples(metrics.stdout, "cmmio_check_cap_feature_supported")
    #expect(gauges.count == features.count)
    for (name, feature) in features {
      let label = "feature=\"\(name.replacingOccurrences(of: "_", with: "-"))\""
      let gauge = gauges.first { $0.labels.contains(label) }
      #expect(gauge?.value == ((feature["supported"] as? Bool) == true ? 1 : 0), "\(name)")
      #expect(gauge?.labels.contains("backend=\"") == true)
    }
  }

  @Test("bench: each result's median writes/s with its labels, the same figure the JSON has")
  func bench() throws {
    let folder = try TemporaryFolder()
    let run = try CMMIOBinary.run([
      "bench", "--modes", "plain,coalesced", "--ring-sizes", "4", "--writes", "2000", "--runs", "3", "--warmup", "0",
      "--vcpu-cpus", "0", "--format", "openmetrics", "--save", folder.path("r"),
    ])
    try #require(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.hasSuffix("# EOF\n"))
    let data = try Data(contentsOf: URL(fileURLWithPath: folder.path("r.json")))
    let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let results = try #require(document["results"] as? [[String: Any]])
    let medians = samples(run.stdout, "cmmio_bench_writes_per_second").filter {
      $0.labels.contains("statistic=\"median\"")
    }
    #expect(medians.count == results.count)
    for result in results {
      let mode = try #require(result["mode"] as? String)
      let ring = (result["ring_size"] as? Int).map(String.init) ?? "none"
      let median = try #require((result["writes_per_sec"] as? [String: Any])?["median"] as? Double)
      let gauge = medians.first {
        $0.labels.contains("mode=\"\(mode)\"") && $0.labels.contains("ring_size=\"\(ring)\"")
          && $0.labels.contains("cpu=\"0\"") && $0.labels.contains("space=\"mmio\"")
      }
      // Both texts hold the same shortest round-trip digits; Foundation's JSON reader can
      // miss the last bit, so the comparison allows one part in 10¹².
      #expect(abs((gauge?.value ?? 0) / median - 1) < 1e-12, "\(mode) K=\(ring)")
    }
  }
}
