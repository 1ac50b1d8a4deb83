import BenchReporting
import Exerciser
import KVM
import Reporting

/// `cmmio verify` output: one line per check in every format; JSON as docs/cli.md says.
struct VerifyReport: Report {
  var checks: [Conformance.Check]
  var spaces: [IOSpace]
  var devicePath: String
  var host: Host
  /// SIGINT or SIGTERM stopped the suite: `checks` are those made before it.
  var interrupted = false
  /// How and where the report was made, read before the first check.
  var provenance: Provenance

  var passed: Bool { checks.allSatisfy(\.passed) }

  var markdown: String { resultTable.markdown() }

  var csv: String {
    var table = TextTable(headers: ["name", "passed", "detail"])
    for check in checks { table.append([check.name, check.passed ? "true" : "false", check.detail]) }
    return table.csv()
  }

  var json: JSONValue {
    .object([
      ("schema", .string("cmmio.verify/1")),
      ("device", .string(devicePath)),
      ("spaces", .array(spaces.map { .string($0.rawValue) })),
      (
        "checks",
        .array(
          checks.map { check in
            .object([("name", .string(check.name)), ("passed", .bool(check.passed)), ("detail", .string(check.detail))])
          })
      ),
      ("passed", .bool(passed)),
      ("interrupted", .bool(interrupted)),
      ("host", host.json),
      ("provenance", provenance.reportJSON),
    ])
  }

  private var resultTable: TextTable {
    var table = TextTable(headers: ["result", "check", "detail"])
    for check in checks { table.append([check.passed ? "PASS" : "FAIL", check.name, check.detail]) }
    return table
  }

  var table: String {
    let spaceList = spaces.map(\.rawValue).joined(separator: " and ")
    var out =
      "cmmio verify: \(devicePath), \(host.kernelRelease) \(host.arch), backend \(host.backend), \(spaceList)\n\n"
    out += resultTable.rendered()
    let failed = checks.filter { !$0.passed }.count
    out += "\n"
    if interrupted { out += "INTERRUPTED after \(checks.count) checks\n" }
    out += failed == 0 ? "all \(checks.count) checks passed\n" : "\(failed) of \(checks.count) checks FAILED\n"
    out += "host: \(host.summary)\n"
    out += "run: \(provenance.reportSummary(cpus: host.cpusOnline.cpus.count))\n"
    return out
  }
}

extension VerifyReport {
  /// `--format openmetrics`: each check as 0/1, the totals, and when and by which build.
  var openMetrics: String? {
    let labels = hostLabels(host)
    var check = MetricFamily(
      name: "cmmio_verify_check_passed", help: "1 when the conformance check passed on the running kernel, else 0.")
    for item in checks { check.add(item.passed ? 1 : 0, [("check", item.name)] + labels) }
    var total = MetricFamily(name: "cmmio_verify_checks", help: "Conformance checks made.")
    total.add(Double(checks.count), labels)
    var failed = MetricFamily(name: "cmmio_verify_checks_failed", help: "Conformance checks that failed.")
    failed.add(Double(checks.filter { !$0.passed }.count), labels)
    var all = MetricFamily(name: "cmmio_verify_passed", help: "1 when every check passed, else 0.")
    all.add(passed ? 1 : 0, labels)
    var stopped = MetricFamily(
      name: "cmmio_verify_interrupted", help: "1 when SIGINT or SIGTERM stopped the checks early, else 0.")
    stopped.add(interrupted ? 1 : 0, labels)
    return OpenMetrics.render([
      check, total, failed, all, stopped,
      provenanceMetric(prefix: "cmmio_verify", provenance: provenance, host: host),
    ])
  }
}
