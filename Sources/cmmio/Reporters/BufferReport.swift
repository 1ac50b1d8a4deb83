import Exerciser
import KVM
import Platform
import Reporting

/// `cmmio create-buffer` output. Only ever produced on a kernel with the v2 API; none here has
/// it, so this rendering has been exercised only with results from the tests' kernel double.
struct BufferReport: Report {
  var devicePath: String
  var result: BufferExerciseResult

  var json: JSONValue {
    .object([
      ("schema", .string("cmmio.create-buffer/1")),
      ("device", .string(devicePath)),
      ("buffers", .integer(result.bufferCount)),
      (
        "zones",
        .array(
          result.zones.map {
            .object([
              ("addr", .integer($0.zone.address)), ("size", .integer($0.zone.size)),
              ("pio", .bool($0.zone.space == .pio)), ("buffer", .integer($0.buffer)),
            ])
          })
      ),
      ("operations", .array(result.steps.map(Self.json(step:)))),
      ("probes", .array(result.probes.map(ZoneReport.json(probe:)))),
      ("probes_after_close", .array(result.probesAfterClose.map(ZoneReport.json(probe:)))),
      (
        "checks",
        .array(
          result.checks.map {
            .object([("name", .string($0.name)), ("passed", .bool($0.passed)), ("detail", .string($0.detail))])
          })
      ),
      ("problems", .array(result.problems.map { .string($0) })),
      ("passed", .bool(result.passed)),
    ])
  }

  static func json(step: BufferStep) -> JSONValue {
    var members: [(String, JSONValue)] = [("op", .string(step.operation)), ("buffer", .integer(step.buffer))]
    if let zone = step.zone {
      members += [("addr", .integer(zone.address)), ("size", .integer(zone.size)), ("pio", .bool(zone.space == .pio))]
    }
    members += [
      ("result", .string(step.succeeded ? "ok" : "error")),
      ("errno", step.error.map { .string($0.errnoName) } ?? .null),
      ("message", .string(step.detail)),
    ]
    return .object(members)
  }

  var stepsTable: TextTable {
    var table = TextTable(headers: ["op", "buffer", "zone", "result"])
    for step in result.steps {
      table.append([step.operation, String(step.buffer), step.zone?.description ?? "", step.detail])
    }
    return table
  }

  var checksTable: TextTable {
    var table = TextTable(headers: ["check", "result", "detail"])
    for check in result.checks { table.append([check.name, check.passed ? "pass" : "FAIL", check.detail]) }
    return table
  }

  var probesTable: TextTable {
    var table = TextTable(headers: ["probe", "kind", "data", "while mapped", "after close"])
    for (index, probe) in result.probes.enumerated() {
      var mapped = probe.outcome?.rawValue ?? "unaccounted"
      if let buffer = probe.buffer { mapped += " (buffer \(buffer))" }
      let after = index < result.probesAfterClose.count ? result.probesAfterClose[index].outcome?.rawValue : nil
      table.append([
        NumberFormat.hex(probe.probe.address), probe.probe.space.rawValue, NumberFormat.hex(probe.write.data), mapped,
        after ?? "unaccounted",
      ])
    }
    return table
  }

  var heading: String {
    "cmmio create-buffer: \(result.bufferCount) v2 buffer(s) (an unmerged 2024 proposal), \(result.zones.count) "
      + "zone(s), device \(devicePath)"
  }

  var table: String {
    var out = heading + "\n\n" + stepsTable.rendered()
    if !result.probes.isEmpty { out += "\n" + probesTable.rendered() }
    out += "\n" + checksTable.rendered()
    if !result.problems.isEmpty { out += "\nVERIFICATION FAILED: " + result.problems.joined(separator: "; ") + "\n" }
    return out
  }

  var markdown: String {
    var out = "## " + heading + "\n\n### Operations\n\n" + stepsTable.markdown()
    if !result.probes.isEmpty { out += "\n### Probes\n\n" + probesTable.markdown() }
    out += "\n### Checks\n\n" + checksTable.markdown()
    return out
  }

  /// One row per check.
  var csv: String {
    CSV.render(
      header: ["check", "passed", "detail"], rows: result.checks.map { [$0.name, String($0.passed), $0.detail] })
  }
}
