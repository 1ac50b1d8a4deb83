import Guest
import KVM

extension Conformance {
  /// A check made by probing zones with a straight-line guest: the zones to
  /// register, the program, and what a conforming kernel shows for it.
  public struct ProbePlan: Sendable {
    /// The check's name in the report.
    public var name: String
    public var zones: [CoalescedZone]
    public var program: GuestProgram
    /// The events of a conforming kernel, in order, ending with `hlt`.
    public var expected: [Event]
    /// The report's detail when every event matched.
    public var summary: String

    public init(name: String, zones: [CoalescedZone], program: GuestProgram, expected: [Event], summary: String) {
      self.name = name
      self.zones = zones
      self.program = program
      self.expected = expected
      self.summary = summary
    }
  }

  /// Where each space's checks put their zones: the default device register
  /// (`GuestLayout.mmioDevice`) and the POST port 0x80, as the kernel selftest does.
  public static func deviceAddress(_ space: IOSpace) -> UInt64 {
    space == .mmio ? GuestLayout.mmioDevice : UInt64(GuestLayout.pioDevice)
  }

  /// The widths a guest can access in one instruction: 1, 2, 4, 8 for MMIO, 1, 2, 4 for ports.
  static func widths(_ space: IOSpace) -> [UInt32] { space == .mmio ? X86.widths : X86.portWidths }

  /// Reads of every width at an 8-byte zone must each exit (`coalesced_mmio_ops`
  /// has no `read`); a write after them, coalesced, shows the zone was live.
  public static func readsPlan(_ space: IOSpace) -> ProbePlan {
    let base = deviceAddress(space)
    var program = GuestProgram()
    var expected: [Event] = []
    for width in widths(space) {
      program.read(space, address: base, length: width)
      expected.append(.readExit(space, address: base, length: width))
    }
    program.write(space, address: base, length: 1, data: 0x5A)
    expected.append(Event(program.writes[0], .coalesced))
    program.halt()
    expected.append(.halt)
    let widthList = widths(space).map(String.init).joined(separator: ", ")
    return ProbePlan(
      name: "read-exits-\(space)", zones: [CoalescedZone(address: base, size: 8, space: space)], program: program,
      expected: expected,
      summary: "\(widthList)-byte reads of an 8-byte \(space) zone each exited; a write after them was coalesced")
  }

  /// A write must lie entirely inside a zone to be coalesced: a 4-byte write at
  /// end − 4 is, a 4-byte write at end − 2 (two bytes in, two past the end) exits.
  ///
  /// Only the end is probed: the zone starts on a page boundary, and the x86
  /// emulator splits an MMIO write that crosses a page into one access per page, so a
  /// write straddling the start would reach the zone as a separate, coalesced fragment.
  public static func straddlePlan(_ space: IOSpace) -> ProbePlan {
    let base = deviceAddress(space)
    let zone = CoalescedZone(address: base, size: 8, space: space)
    var program = GuestProgram()
    program.write(space, address: base + 4, length: 4, data: 0x1111_1111)
    program.write(space, address: base + 6, length: 4, data: 0x2222_2222)
    program.halt()
    let expected = zip(program.writes, [Delivery.coalesced, .exit]).map { Event($0, $1) } + [.halt]
    return ProbePlan(
      name: "straddle-exits-\(space)", zones: [zone], program: program, expected: expected,
      summary: "zone \(zone): a 4-byte write at its end − 4 was coalesced, one at end − 2 exited with its data")
  }

  /// Overlapping zones are both accepted (no overlap check in
  /// `kvm_vm_ioctl_register_coalesced_mmio`): writes only the first, both, or only
  /// the second contains are coalesced; a write past both exits.
  public static func overlapPlan(_ space: IOSpace) -> ProbePlan {
    let base = deviceAddress(space)
    let zones = [
      CoalescedZone(address: base, size: 8, space: space),
      CoalescedZone(address: base + 4, size: 8, space: space),
    ]
    var program = GuestProgram()
    for (offset, data) in [(0, 0xA1), (5, 0xA2), (11, 0xA3), (12, 0xA4)] as [(UInt64, UInt64)] {
      program.write(space, address: base + offset, length: 1, data: data)
    }
    program.halt()
    let expected =
      zip(program.writes, [Delivery.coalesced, .coalesced, .coalesced, .exit]).map { Event($0, $1) } + [.halt]
    return ProbePlan(
      name: "overlap-accepted-\(space)", zones: zones, program: program, expected: expected,
      summary: "\(zones[0]) and \(zones[1]) both registered; writes in the first only, in both and in the second "
        + "only were coalesced, the byte past both exited")
  }

  /// The zone the unregister checks use: 0x1000 bytes of MMIO, or 16 ports.
  public static func unregisterZone(_ space: IOSpace) -> CoalescedZone {
    CoalescedZone(address: deviceAddress(space), size: space == .mmio ? 0x1000 : 0x10, space: space)
  }

  /// One-byte writes at the zone's first and last byte.
  public static func unregisterProbes(_ zone: CoalescedZone) -> [ExpectedWrite] {
    [
      ExpectedWrite(space: zone.space, address: zone.address, length: 1, data: 0xC1),
      ExpectedWrite(space: zone.space, address: zone.address + UInt64(zone.size) - 1, length: 1, data: 0xC2),
    ]
  }

  /// The `pio` values tried: 0 and 1 must be accepted, anything else gives `EINVAL`.
  public static let pioFlags: [UInt32] = [0, 1, 2, 0x8000_0000, UInt32.max]
}
