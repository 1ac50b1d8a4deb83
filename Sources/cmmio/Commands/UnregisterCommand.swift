import ArgumentParser
import Exerciser
import KVM

/// `cmmio unregister`: which zones an unregister range really removes.
struct UnregisterCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "unregister",
    abstract: "Register zones, unregister ranges, then show with guest writes which zones are gone.",
    discussion: """
      Registers each --zone, then calls KVM_UNREGISTER_COALESCED_MMIO with each --range in \
      order, then probes. The kernel removes every zone of the same kind that fully contains \
      the range and returns 0 even when none did (the 2008 commit message says otherwise); \
      zones_after shows which zones the probes find still present. Exit 1 if an ioctl failed \
      or a write was not observed as written.

      EXAMPLES:
        cmmio unregister --zone 0x100000:0x1000 --range 0x100100:0x10
        cmmio unregister --zone 0x100000:0x1000 --range 0x100800:0x1000
        cmmio unregister --zone 0x80:8:pio --range 0x80:8:pio --format json
      """
  )

  @OptionGroup var common: CommonOptions
  @OptionGroup var zoneOptions: ZoneOptions

  @Option(
    name: .customLong("range"),
    help: ArgumentHelp(
      "A range to unregister after every zone is registered: ADDR:SIZE[:pio]. Repeatable, in order; at least one.",
      valueName: "ADDR:SIZE[:pio]"),
    transform: parseZone)
  var ranges: [CoalescedZone] = []

  func validate() throws {
    try common.report.refuseMetrics("unregister")
    if ranges.isEmpty { throw ValidationError("at least one --range ADDR:SIZE[:pio] is needed") }
  }

  func run() throws {
    let session = ZoneSession(
      zones: zoneOptions.zones, ranges: ranges, probes: zoneOptions.probes.isEmpty ? nil : zoneOptions.probes,
      width: zoneOptions.width)
    try runZoneSession(session, api: .v1, command: "unregister", common: common)
  }
}
