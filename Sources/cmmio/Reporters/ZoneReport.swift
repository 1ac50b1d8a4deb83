import Exerciser
import Guest
import KVM
import Platform
import Reporting

/// `cmmio register` / `cmmio unregister` output: the JSON document of docs/cli.md (schema,
/// `operations`, `probes`) plus `skipped_probes`, `zones_after` and `verification`; a table,
/// markdown, or CSV with one row per operation, probe and skipped probe.
struct ZoneReport: Report {
  /// `register` or `unregister`.
  var command: String
  var devicePath: String
  var result: ZoneSessionResult

  // MARK: JSON

  var json: JSONValue {
    .object([
      ("schema", .string("cmmio.\(command)/1")),
      ("device", .string(devicePath)),
      ("api", .string(result.api.rawValue)),
      ("probe_width", .integer(result.width)),
      ("operations", .array(result.operations.map(Self.json(operation:)))),
      ("probes", .array(result.probes.map(Self.json(probe:)))),
      (
        "skipped_probes",
        .array(
          result.skipped.map {
            .object([
              ("addr", .integer($0.probe.address)), ("pio", .bool($0.probe.space == .pio)),
              ("reason", .string($0.reason)),
            ])
          })
      ),
      ("zones_after", .array(result.zonesAfter.map(Self.json(verdict:)))),
      (
        "verification",
        .object([
          ("writes", .integer(result.probes.count)),
          ("coalesced", .integer(result.probes.filter { $0.outcome == .coalesced }.count)),
          ("exits", .integer(result.probes.filter { $0.outcome == .exit }.count)),
          ("problems", .array(result.problems.map { .string($0) })),
          // No probe write is no evidence: not a pass.
          ("passed", .bool(result.problems.isEmpty && !result.probes.isEmpty)),
        ])
      ),
    ])
  }

  static func json(operation: ZoneOperation) -> JSONValue {
    .object([
      ("op", .string(operation.kind.rawValue)),
      ("ioctl", .string(operation.ioctl)),
      ("addr", .integer(operation.zone.address)),
      ("size", .integer(operation.zone.size)),
      ("pio", .bool(operation.zone.space == .pio)),
      ("result", .string(operation.succeeded ? "ok" : "error")),
      ("errno", operation.error.map { .string($0.errnoName) } ?? .null),
      ("message", .string(message(operation))),
    ])
  }

  static func message(_ operation: ZoneOperation) -> String {
    guard let error = operation.error else { return "ok" }
    return "\(error.errnoName) (\(error.errnoText))"
  }

  static func json(probe: ProbeResult) -> JSONValue {
    var members: [(String, JSONValue)] = [
      ("addr", .integer(probe.probe.address)),
      ("pio", .bool(probe.probe.space == .pio)),
      ("outcome", probe.outcome.map { .string($0.rawValue) } ?? .string("unaccounted")),
      ("length", .integer(probe.write.length)),
      ("data", .integer(probe.write.data)),
    ]
    if let buffer = probe.buffer { members.append(("buffer", .integer(buffer))) }
    return .object(members)
  }

  static func json(verdict: ZoneVerdict) -> JSONValue {
    .object([
      ("addr", .integer(verdict.zone.address)),
      ("size", .integer(verdict.zone.size)),
      ("pio", .bool(verdict.zone.space == .pio)),
      ("registered", .bool(verdict.registered)),
      ("present", verdict.present.map { .bool($0) } ?? .null),
      ("evidence", .string(verdict.evidence)),
    ])
  }

  // MARK: Tables

  var operationsTable: TextTable {
    var table = TextTable(headers: ["op", "zone", "ioctl", "result"])
    for operation in result.operations {
      table.append([operation.kind.rawValue, operation.zone.description, operation.ioctl, Self.message(operation)])
    }
    return table
  }

  var probesTable: TextTable {
    var table = TextTable(headers: ["probe", "kind", "len", "data", "outcome"])
    for probe in result.probes {
      var outcome = probe.outcome?.rawValue ?? "unaccounted"
      if let buffer = probe.buffer { outcome += " (buffer \(buffer))" }
      table.append([
        NumberFormat.hex(probe.probe.address), probe.probe.space.rawValue, String(probe.write.length),
        NumberFormat.hex(probe.write.data), outcome,
      ])
    }
    for skipped in result.skipped {
      table.append([
        NumberFormat.hex(skipped.probe.address), skipped.probe.space.rawValue, "", "", "skipped: \(skipped.reason)",
      ])
    }
    return table
  }

  var zonesTable: TextTable {
    var table = TextTable(headers: ["zone", "registered", "present", "evidence"])
    for verdict in result.zonesAfter {
      let present = verdict.present.map { $0 ? "yes" : "no" } ?? "unknown"
      table.append([verdict.zone.description, verdict.registered ? "yes" : "no", present, verdict.evidence])
    }
    return table
  }

  /// Why nothing was verified when no probe write was made.
  static func noProbeWrites(_ result: ZoneSessionResult) -> String {
    let skipped = result.skipped.count
    var text = "no probe write was made"
    if let first = result.skipped.first {
      text += " (\(skipped) probe\(skipped == 1 ? " was" : "s were") skipped, the first because \(first.reason))"
    }
    return text + ", so no zone's behaviour was observed; pass --probe ADDR with an address a guest can write"
  }

  var heading: String {
    let zones = result.zonesAfter.count
    var line = "cmmio \(command): \(zones) zone\(zones == 1 ? "" : "s") through the \(result.api.rawValue) API"
    if result.api == .v2 { line += " (an unmerged 2024 proposal)" }
    line += ", \(result.width)-byte probe writes, device \(devicePath)"
    return line
  }

  var verificationLine: String {
    if result.probes.isEmpty {
      return "NOTHING VERIFIED: " + Self.noProbeWrites(result)
    }
    if result.problems.isEmpty {
      let count = result.probes.count
      return "every probe write was observed with its address, length, kind and data "
        + "(\(count) write\(count == 1 ? "" : "s"))"
    }
    return "VERIFICATION FAILED: " + result.problems.joined(separator: "; ")
  }

  var table: String {
    var out = heading + "\n\n" + operationsTable.rendered() + "\n" + probesTable.rendered() + "\n"
    out += "zones after the ioctls, as the probes show them:\n" + zonesTable.rendered() + "\n" + verificationLine + "\n"
    return out
  }

  var markdown: String {
    var out = "## " + heading + "\n\n### Operations\n\n" + operationsTable.markdown()
    out += "\n### Probes\n\n" + probesTable.markdown()
    out += "\n### Zones after the ioctls\n\n" + zonesTable.markdown()
    out += "\n" + verificationLine + "\n"
    return out
  }

  /// One row per operation, probe, skipped probe and zone verdict (`record` says which: `operation`,
  /// `probe`, `skipped`, `zone`; a zone row's `outcome` is `present`, `absent` or `unknown`).
  var csv: String {
    let header = [
      "record", "op", "ioctl", "addr", "size", "pio", "result", "errno", "len", "data", "outcome", "detail",
    ]
    var rows: [[String]] = []
    for operation in result.operations {
      rows.append([
        "operation", operation.kind.rawValue, operation.ioctl, NumberFormat.hex(operation.zone.address),
        NumberFormat.hex(UInt64(operation.zone.size)), String(operation.zone.space == .pio),
        operation.succeeded ? "ok" : "error", operation.error?.errnoName ?? "", "", "", "", Self.message(operation),
      ])
    }
    for probe in result.probes {
      rows.append([
        "probe", "", "", NumberFormat.hex(probe.probe.address), "", String(probe.probe.space == .pio), "", "",
        String(probe.write.length), NumberFormat.hex(probe.write.data), probe.outcome?.rawValue ?? "unaccounted",
        probe.buffer.map { "buffer \($0)" } ?? "",
      ])
    }
    for skipped in result.skipped {
      rows.append([
        "skipped", "", "", NumberFormat.hex(skipped.probe.address), "", String(skipped.probe.space == .pio), "", "", "",
        "",
        "skipped", skipped.reason,
      ])
    }
    for verdict in result.zonesAfter {
      let present = verdict.present.map { $0 ? "present" : "absent" } ?? "unknown"
      rows.append([
        "zone", "", "", NumberFormat.hex(verdict.zone.address), NumberFormat.hex(UInt64(verdict.zone.size)),
        String(verdict.zone.space == .pio), verdict.registered ? "registered" : "not registered", "", "", "", present,
        verdict.evidence,
      ])
    }
    return CSV.render(header: header, rows: rows)
  }
}
