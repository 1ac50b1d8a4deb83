import BenchReporting
import KVM
import Reporting

/// `cmmio check-cap` output: the JSON document of docs/cli.md and a readable table.
struct CapabilitiesReport: Report {
  var capabilities: Capabilities
  var devicePath: String
  /// Features asked for with `--require` that are missing.
  var missing: [Capabilities.Feature]
  /// How and where the report was made.
  var provenance: Provenance

  var json: JSONValue {
    let caps = capabilities
    let probe = caps.mmio2
    var probeMembers: [(String, JSONValue)] = [
      ("tried", .string(MMIO2Probe.attempt)),
      ("answer", .string(probe.answer)),
    ]
    probeMembers.append(("errno", probe.errnoName.map { .string($0) } ?? .null))
    return .object([
      ("schema", .string("cmmio.check-cap/1")),
      ("device", .string(devicePath)),
      ("api_version", .integer(caps.apiVersion)),
      ("kernel_release", .string(caps.host.kernelRelease)),
      ("arch", .string(caps.host.arch)),
      ("backend", .string(caps.host.backend)),
      ("page_size", .integer(caps.host.pageSize)),
      (
        "features",
        .object([
          (
            "coalesced_mmio",
            .object([
              ("supported", .bool(caps.coalescedMMIO)),
              ("ring_page_offset", .integer(caps.ringPageOffset)),
              ("ring_entries", .integer(caps.ringEntries)),
              ("usable_entries", .integer(caps.usableEntries)),
            ])
          ),
          ("coalesced_pio", .object([("supported", .bool(caps.coalescedPIO))])),
          ("coalesced_mmio2", .object([("supported", .bool(probe.supported)), ("probe", .object(probeMembers))])),
          ("binary_stats", .object([("supported", .bool(caps.binaryStats))])),
          ("ioeventfd", .object([("supported", .bool(caps.ioeventfd))])),
        ])
      ),
      ("host", caps.host.json),
      ("provenance", provenance.reportJSON),
      ("missing", .array(missing.map { .string($0.rawValue) })),
    ])
  }

  var table: String {
    let caps = capabilities
    var out = "cmmio check-cap: \(devicePath), KVM API \(caps.apiVersion), \(caps.host.kernelRelease) "
    out += "\(caps.host.arch), backend \(caps.host.backend), \(caps.host.pageSize)-byte pages\n\n"
    var table = TextTable(headers: ["feature", "supported", "detail"])
    func yes(_ flag: Bool) -> String { flag ? "yes" : "no" }
    table.append([
      "coalesced-mmio", yes(caps.coalescedMMIO),
      caps.coalescedMMIO
        ? "ring at page \(caps.ringPageOffset) of the vCPU mapping, \(caps.ringEntries) entries, \(caps.usableEntries) usable"
        : "KVM_CHECK_EXTENSION(KVM_CAP_COALESCED_MMIO) answered 0",
    ])
    table.append(["coalesced-pio", yes(caps.coalescedPIO), ""])
    table.append([
      "coalesced-mmio2", yes(caps.mmio2.supported),
      "\(MMIO2Probe.attempt): \(caps.mmio2.answer)" + (caps.mmio2.supported ? "" : " (unmerged 2024 proposal)"),
    ])
    table.append(["binary-stats", yes(caps.binaryStats), ""])
    table.append(["ioeventfd", yes(caps.ioeventfd), ""])
    out += table.rendered()
    out += "\nhost: \(caps.host.summary)\n"
    out += "run: \(provenance.reportSummary(cpus: caps.host.cpusOnline.cpus.count))\n"
    if !missing.isEmpty {
      out += "missing (required): \(missing.map(\.rawValue).joined(separator: ", "))\n"
    }
    return out
  }

  /// Every leaf of the JSON document by its dotted path.
  var markdown: String { renderKeyValues(json, as: .markdown) }
  var csv: String { renderKeyValues(json, as: .csv) }
}

extension CapabilitiesReport {
  /// `--format openmetrics`: each feature as 0/1, the ring's geometry, the API version, and
  /// when and by which build; every gauge labelled with the kernel release and backend.
  var openMetrics: String? {
    let caps = capabilities
    let host = hostLabels(caps.host)
    var supported = MetricFamily(
      name: "cmmio_check_cap_feature_supported",
      help: "1 when the running kernel supports the feature (coalesced-mmio, coalesced-pio, coalesced-mmio2, "
        + "binary-stats, ioeventfd), else 0.")
    for feature in Capabilities.Feature.allCases {
      supported.add(caps.supports(feature) ? 1 : 0, [("feature", feature.rawValue)] + host)
    }
    var required = MetricFamily(
      name: "cmmio_check_cap_required_missing", help: "1 for each --require'd feature the kernel lacks.")
    for feature in missing { required.add(1, [("feature", feature.rawValue)] + host) }
    var entries = MetricFamily(
      name: "cmmio_check_cap_ring_entries", help: "Slots of the coalesced MMIO ring (KVM_COALESCED_MMIO_MAX).")
    var usable = MetricFamily(
      name: "cmmio_check_cap_ring_usable_entries", help: "Entries the ring holds before a write exits (slots - 1).")
    if caps.coalescedMMIO {
      entries.add(Double(caps.ringEntries), host)
      usable.add(Double(caps.usableEntries), host)
    }
    var api = MetricFamily(name: "cmmio_check_cap_api_version", help: "KVM_GET_API_VERSION.")
    api.add(Double(caps.apiVersion), host)
    var page = MetricFamily(name: "cmmio_check_cap_page_size_bytes", help: "The host's page size.", unit: "bytes")
    page.add(Double(caps.host.pageSize), host)
    return OpenMetrics.render([
      supported, required, entries, usable, api, page,
      provenanceMetric(prefix: "cmmio_check_cap", provenance: provenance, host: caps.host),
    ])
  }
}
