import ArgumentParser
import Exerciser
import KVM
import Parsing

/// A malformed `--zone`, `--range` or `--probe` value. ArgumentParser prints it as
/// "The value 'X' is invalid for '--zone <ADDR:SIZE[:pio]>': REASON" and exits 64.
struct ValueError: Error, CustomStringConvertible {
  var description: String
}

/// `ADDR:SIZE[:pio]` through `ZoneSpec.zone`, for ArgumentParser's `transform:`.
func parseZone(_ text: String) throws -> CoalescedZone {
  do { return try ZoneSpec.zone(text) } catch { throw ValueError(description: error.reason) }
}

/// `ADDR[:pio]` through `ZoneSpec.probe`.
func parseProbe(_ text: String) throws -> Probe {
  do {
    let (address, space) = try ZoneSpec.probe(text)
    return Probe(address: address, space: space)
  } catch {
    throw ValueError(description: error.reason)
  }
}

/// Options the zone commands share: zones, probes, write width.
struct ZoneOptions: ParsableArguments {
  @Option(
    name: .customLong("zone"),
    help: ArgumentHelp(
      "A zone to register: ADDR:SIZE (MMIO) or ADDR:SIZE:pio (ports); decimal or 0x hex. Repeatable, in order; "
        + "at least one.",
      valueName: "ADDR:SIZE[:pio]"),
    transform: parseZone)
  var zones: [CoalescedZone] = []

  @Option(
    name: .customLong("probe"),
    help: ArgumentHelp(
      "Write here from the guest; repeatable, in order (default: the first and last byte of each zone, and the "
        + "byte past it).",
      valueName: "ADDR[:pio]"),
    transform: parseProbe)
  var probes: [Probe] = []

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp("Bytes per probe write: 1, 2, 4 or 8 (ports: 1, 2 or 4).", valueName: "BYTES"))
  var width: UInt32 = 1

  func validate() throws {
    if zones.isEmpty { throw ValidationError("at least one --zone ADDR:SIZE[:pio] is needed") }
    if let problem = ZoneSession.problem(with: probes, width: width) { throw ValidationError(problem) }
  }
}

/// Runs a zone session and prints its report; exit 1 when an ioctl failed or a probe write was
/// not observed as written, 3 when `--v2` meets a kernel without the v2 API.
func runZoneSession(
  _ session: ZoneSession, api: ZoneAPI, command: String, common: CommonOptions
) throws(CLIFailure) {
  let outputs = try common.outputs()
  let device = try common.openDevice()
  let result = try mappingFailures { try session.run(device: device, api: api) }
  try outputs.emit(ZoneReport(command: command, devicePath: common.devicePath, result: result).rendered(common.format))
  let failures = result.operations.filter { !$0.succeeded }
  if let first = failures.first, let error = first.error {
    var sentence = "\(first.ioctl) of \(first.zone) failed with \(error.errnoName) (\(error.errnoText))"
    if failures.count > 1 { sentence += ", and \(failures.count - 1) more ioctl(s) failed" }
    throw CLIFailure(.failure, sentence)
  }
  if result.probes.isEmpty {
    throw CLIFailure(.failure, ZoneReport.noProbeWrites(result))
  }
  if let problem = result.problems.first {
    let count = result.problems.count
    throw CLIFailure(
      .failure, "probe verification failed (\(count) problem\(count == 1 ? "" : "s")), first: \(problem)")
  }
}

/// `cmmio register`: what the kernel does with each zone, shown by real guest writes.
struct RegisterCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "register",
    abstract: "Register coalesced zones, then probe them with guest writes.",
    discussion: """
      Creates a VM, registers each --zone in order (KVM_REGISTER_COALESCED_MMIO, or with --v2 \
      KVM_REGISTER_COALESCED_MMIO2 through one buffer) and reports each ioctl's outcome. Then \
      a real guest writes each probe, and each write is reported as coalesced (found in the \
      ring with its address, length, kind and data) or exit. Exit 1 if a registration failed \
      or a write was not observed as written; 3 with --v2 on a kernel without the v2 API.

      EXAMPLES:
        cmmio register --zone 0x100000:0x1000
        cmmio register --zone 0x80:8:pio --probe 0x80:pio --probe 0x88:pio
        cmmio register --zone 0x100000:0x1000 --width 4 --format json
      """
  )

  @OptionGroup var common: CommonOptions
  @OptionGroup var zoneOptions: ZoneOptions

  @Flag(help: "Register through a v2 buffer fd (an unmerged 2024 proposal; exit 3 on kernels without it).")
  var v2 = false

  func validate() throws { try common.report.refuseMetrics("register") }

  func run() throws {
    let session = ZoneSession(
      zones: zoneOptions.zones, probes: zoneOptions.probes.isEmpty ? nil : zoneOptions.probes,
      width: zoneOptions.width)
    try runZoneSession(session, api: v2 ? .v2 : .v1, command: "register", common: common)
  }
}
