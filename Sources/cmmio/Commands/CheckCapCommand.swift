import ArgumentParser
import KVM
import Reporting

extension Capabilities.Feature: ExpressibleByArgument {}

/// `cmmio check-cap`: what the running kernel offers for coalesced I/O.
struct CheckCapCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check-cap",
    abstract: "Report what the running kernel supports for coalesced MMIO/PIO.",
    discussion: """
      Creates a VM and asks it. The v2 API (an unmerged 2024 proposal) is detected by \
      calling KVM_CREATE_COALESCED_MMIO_BUFFER, never by its capability number, which \
      mainline reuses. Exit 3 if a --require'd feature is missing.
      """
  )

  @OptionGroup var common: CommonOptions

  @Option(
    name: .customLong("require"),
    help: ArgumentHelp(
      "Exit 3 unless FEATURE is supported: coalesced-mmio, coalesced-pio, coalesced-mmio2, binary-stats, ioeventfd.",
      valueName: "FEATURE"))
  var required: [Capabilities.Feature] = []

  func run() throws {
    let device = try common.openDevice()
    let capabilities = try mappingFailures { try Capabilities.probe(device) }
    let missing = required.filter { !capabilities.supports($0) }
    let report = CapabilitiesReport(capabilities: capabilities, devicePath: common.devicePath, missing: missing)
    switch common.format {
    case .json: try common.emit(report.json.rendered() + "\n")
    case .table: try common.emit(report.table)
    case .csv, .markdown: try common.emit(renderKeyValues(report.json, as: common.format))
    }
    if !missing.isEmpty {
      let names = missing.map(\.rawValue).joined(separator: ", ")
      var sentence = "required feature missing on this kernel: \(names)"
      if missing.contains(.coalescedMMIO2) {
        sentence += " (\(MMIO2Probe.attempt) answered \(capabilities.mmio2.answer))"
      }
      throw CLIFailure(.featureMissing, sentence)
    }
  }
}
