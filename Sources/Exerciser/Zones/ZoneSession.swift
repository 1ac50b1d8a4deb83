import Guest
import KVM

/// Which coalescing API a session goes through.
public enum ZoneAPI: String, Sendable {
  /// `KVM_(UN)REGISTER_COALESCED_MMIO`, mainline.
  case v1
  /// `KVM_(UN)REGISTER_COALESCED_MMIO2` through a buffer fd: the unmerged 2024 proposal.
  case v2
}

/// One register or unregister ioctl and what the kernel answered.
public struct ZoneOperation: Sendable, Equatable {
  public enum Kind: String, Sendable {
    case register, unregister
  }

  public var kind: Kind
  public var zone: CoalescedZone
  /// The ioctl's kernel name.
  public var ioctl: String
  /// nil when the ioctl returned 0.
  public var error: SystemCallError?

  public var succeeded: Bool { error == nil }
}

/// Whether a zone is still there after the session's ioctls, as the probes show it.
public struct ZoneVerdict: Sendable, Equatable {
  public var zone: CoalescedZone
  /// Whether its registration returned 0.
  public var registered: Bool
  /// true: a write only this zone contains was coalesced; false: a write inside it exited
  /// (a registered zone with ring room coalesces every write inside it); nil: no probe decides.
  public var present: Bool?
  /// The probe that decided, in words.
  public var evidence: String
}

/// Everything a `register` or `unregister` session found.
public struct ZoneSessionResult: Sendable, Equatable {
  public var api: ZoneAPI
  public var width: UInt32
  public var operations: [ZoneOperation]
  public var probes: [ProbeResult]
  /// Default probes left out because no guest write can reach them.
  public var skipped: [SkippedProbe]
  /// One verdict per zone given, in order.
  public var zonesAfter: [ZoneVerdict]
  /// Probe writes that were not observed exactly as written; empty when all were.
  public var problems: [String]

  /// The first ioctl that failed, if any.
  public var firstFailure: ZoneOperation? { operations.first { !$0.succeeded } }
}

/// Why a session could not start: its probes are not ones a guest can write.
public struct ProbeError: Error, Sendable, Equatable, CustomStringConvertible {
  public var description: String
}

/// A `register`/`unregister` session: register each zone in order, unregister each range in
/// order, then write every probe from a real guest and account for each write, so the report
/// says what the kernel really did rather than what its documentation says.
public struct ZoneSession: Sendable {
  public var zones: [CoalescedZone]
  /// Ranges given to the unregister ioctl after every zone is registered.
  public var ranges: [CoalescedZone]
  /// Explicit probes; nil for the defaults (first, last and just-past byte of each zone).
  public var probes: [Probe]?
  /// Bytes per probe write: 1, 2, 4 or 8 (MMIO), 1, 2 or 4 (ports).
  public var width: UInt32

  public init(zones: [CoalescedZone], ranges: [CoalescedZone] = [], probes: [Probe]? = nil, width: UInt32 = 1) {
    self.zones = zones
    self.ranges = ranges
    self.probes = probes
    self.width = width
  }

  /// Why `probes` cannot be written `width` bytes at a time, or nil: a sentence for exit 64.
  public static func problem(with probes: [Probe], width: UInt32) -> String? {
    guard X86.widths.contains(width) else { return "a probe write is 1, 2, 4 or 8 bytes, not \(width)" }
    for probe in probes {
      if probe.space == .pio, !X86.portWidths.contains(width) {
        return "probe \(probe) is a port, and port writes are 1, 2 or 4 bytes, not \(width)"
      }
      if let why = ProbePlan.unreachability(of: probe, width: width) {
        return "probe \(probe) cannot be written: \(why)"
      }
    }
    return nil
  }

  /// The probes the session writes, and the default ones it leaves out.
  public func plannedProbes() -> (probes: [Probe], skipped: [SkippedProbe]) {
    if let probes { return (probes, []) }
    let (defaults, skipped) = ProbePlan.defaults(for: zones, width: width)
    // A port zone's defaults cannot be written 8 bytes wide: say so instead of trapping.
    guard width == 8 else { return (defaults, skipped) }
    let ports = defaults.filter { $0.space == .pio }.map {
      SkippedProbe(probe: $0, reason: "port writes are 1, 2 or 4 bytes, not 8")
    }
    return (defaults.filter { $0.space == .mmio }, skipped + ports)
  }

  /// Runs the session on a new VM of `device`, through `api`. Throws `BufferCreationError`
  /// when v2 is asked for and the kernel lacks it, `ProbeError` for unwritable probes.
  public func run(device: KVMDevice, api: ZoneAPI = .v1) throws -> ZoneSessionResult {
    let machine = try GuestMachine(device: device)
    var writer = try MachineWriter(machine: machine)
    switch api {
    case .v1:
      var registrar = VMRegistrar(vm: machine.vm)
      return try run(registrar: &registrar, writer: &writer, api: .v1)
    case .v2:
      let buffer = try CoalescedBuffer.create(KernelBufferOperations(vm: machine.vm))
      defer { buffer.close() }
      try buffer.map()
      var registrar = try BufferRegistrar(buffer: buffer)
      return try run(registrar: &registrar, writer: &writer, api: .v2)
    }
  }

  /// The session on any registrar and writer (a real VM, or the tests' v2 kernel double).
  public func run<Registrar: ZoneRegistrar, Writer: GuestWriter>(
    registrar: inout Registrar, writer: inout Writer, api: ZoneAPI
  ) throws -> ZoneSessionResult {
    let (probes, skipped) = plannedProbes()
    if let problem = Self.problem(with: probes, width: width) { throw ProbeError(description: problem) }
    var operations: [ZoneOperation] = []
    for zone in zones {
      var operation = ZoneOperation(kind: .register, zone: zone, ioctl: registrar.registerName)
      do { try registrar.register(zone) } catch { operation.error = error }
      operations.append(operation)
    }
    for range in ranges {
      var operation = ZoneOperation(kind: .unregister, zone: range, ioctl: registrar.unregisterName)
      do { try registrar.unregister(range) } catch { operation.error = error }
      operations.append(operation)
    }
    let account = try ProbeRun.run(
      probes: probes, writes: ProbePlan.writes(for: probes, width: width), writer: &writer,
      drain: { try registrar.drainRings() })
    let registered = operations.prefix(zones.count).map(\.succeeded)
    return ZoneSessionResult(
      api: api, width: width, operations: operations, probes: account.results, skipped: skipped,
      zonesAfter: Self.verdicts(zones: zones, registered: registered, probes: account.results),
      problems: account.problems)
  }

  /// What the probes say about each zone (see `ZoneVerdict.present`).
  public static func verdicts(zones: [CoalescedZone], registered: [Bool], probes: [ProbeResult]) -> [ZoneVerdict] {
    func inside(_ zone: CoalescedZone, _ result: ProbeResult) -> Bool {
      zone.contains(address: result.write.address, length: UInt64(result.write.length), space: result.write.space)
    }
    return zones.enumerated().map { index, zone in
      var verdict = ZoneVerdict(
        zone: zone, registered: registered[index], present: nil, evidence: "no probe lies inside it")
      let within = probes.filter { inside(zone, $0) && $0.outcome != nil }
      if let exited = within.first(where: { $0.outcome == .exit }) {
        verdict.present = false
        verdict.evidence = "probe \(exited.probe) inside it exited"
        return verdict
      }
      for result in within where result.outcome == .coalesced {
        let others = zones.indices.filter { $0 != index && registered[$0] && inside(zones[$0], result) }
        if others.isEmpty {
          verdict.present = true
          verdict.evidence = "probe \(result.probe) was coalesced and no other registered zone contains it"
          return verdict
        }
        verdict.evidence =
          "probe \(result.probe) was coalesced, but zone \(zones[others[0]]) also contains it"
      }
      return verdict
    }
  }
}
