import Guest
import KVM
import Platform

/// One system call of the v2 flow and what came back.
public struct BufferStep: Sendable, Equatable {
  /// `create`, `map`, `map-again`, `poll`, `register`, `register-unmapped`, `unmap`, `close`.
  public var operation: String
  /// The buffer's index (0…N−1).
  public var buffer: Int
  public var zone: CoalescedZone?
  /// nil when the call succeeded.
  public var error: SystemCallError?
  /// What the call showed, in words (e.g. `POLLIN` or not).
  public var detail: String

  public var succeeded: Bool { error == nil }
}

/// One property of the posted semantics, checked: a verdict like `verify`'s.
public typealias BufferCheck = Conformance.Check

/// Everything a `create-buffer` run found.
public struct BufferExerciseResult: Sendable, Equatable {
  public var bufferCount: Int
  /// Each zone with the buffer it was registered on (round-robin).
  public var zones: [(zone: CoalescedZone, buffer: Int)]
  public var steps: [BufferStep]
  public var checks: [BufferCheck]
  /// Probes while the buffers were mapped, and again after they were closed (empty without probing).
  public var probes: [ProbeResult]
  public var probesAfterClose: [ProbeResult]
  public var skipped: [SkippedProbe]
  /// Probe writes that were not observed exactly as written.
  public var problems: [String]

  public var passed: Bool { checks.allSatisfy(\.passed) && problems.isEmpty }

  public static func == (lhs: BufferExerciseResult, rhs: BufferExerciseResult) -> Bool {
    lhs.bufferCount == rhs.bufferCount && lhs.zones.map(\.zone) == rhs.zones.map(\.zone)
      && lhs.zones.map(\.buffer) == rhs.zones.map(\.buffer) && lhs.steps == rhs.steps && lhs.checks == rhs.checks
      && lhs.probes == rhs.probes && lhs.probesAfterClose == rhs.probesAfterClose && lhs.skipped == rhs.skipped
      && lhs.problems == rhs.problems
  }
}

/// The proposed v2 API's whole flow ("KVM: Improve MMIO Coalescing API", third posting): create
/// N buffer fds, map each, register zones on them round-robin, write probes from a guest,
/// check `poll()` readiness and where every write landed, then unmap and close every buffer
/// and check that the zones are gone.
///
/// No released kernel has the API: there the first ioctl answers `ENOTTY` and `run` throws
/// `BufferCreationError.absent`. The whole flow passes on the lab's patched 6.12 kernel
/// (docs/v2-kernel.md) and against the tests' kernel double.
public struct BufferExercise: Sendable {
  /// The most buffers one run creates.
  public static let maximumBuffers = 64

  public var bufferCount: Int
  public var zones: [CoalescedZone]
  /// Whether to write probes (the first, last and just-past byte of each zone) from a guest.
  public var probe: Bool
  public var width: UInt32

  /// `zones` empty means one default zone per buffer (see `defaultZones`).
  public init(bufferCount: Int = 1, zones: [CoalescedZone] = [], probe: Bool = false, width: UInt32 = 1) {
    self.bufferCount = bufferCount
    self.zones = zones.isEmpty ? Self.defaultZones(count: bufferCount) : zones
    self.probe = probe
    self.width = width
  }

  /// One 4 KiB MMIO zone per buffer from 0x100000 on, 8 KiB apart so the byte past each zone
  /// lies in no zone.
  public static func defaultZones(count: Int) -> [CoalescedZone] {
    (0..<max(count, 0)).map { CoalescedZone(address: 0x10_0000 + UInt64($0) * 0x2000, size: 0x1000) }
  }

  /// Runs on a new VM of `device` with the real ioctls.
  public func run(device: KVMDevice) throws -> BufferExerciseResult {
    let machine = try GuestMachine(device: device)
    var writer = try MachineWriter(machine: machine)
    return try run(operations: KernelBufferOperations(vm: machine.vm), writer: &writer)
  }

  /// Runs on any implementation of the v2 operations, with `writer` making the guest writes.
  public func run<Writer: GuestWriter>(
    operations: any CoalescedBufferOperations, writer: inout Writer, pageSize: Int = Host.pageSize
  ) throws -> BufferExerciseResult {
    guard bufferCount >= 1, bufferCount <= Self.maximumBuffers else {
      throw ProbeError(description: "the number of buffers must be 1-\(Self.maximumBuffers), not \(bufferCount)")
    }
    let (probes, skipped) = ZoneSession(zones: zones, width: width).plannedProbes()
    if probe, let problem = ZoneSession.problem(with: probes, width: width) { throw ProbeError(description: problem) }
    var flow = Flow(operations: operations, pageSize: pageSize)
    try flow.create(count: bufferCount)
    defer { flow.closeAll() }
    flow.mapEach()
    flow.checkSecondMap()
    flow.checkEmptyPoll()
    let placed = zones.enumerated().map { (zone: $0.element, buffer: $0.offset % bufferCount) }
    flow.register(placed)
    var result = BufferExerciseResult(
      bufferCount: bufferCount, zones: placed, steps: [], checks: [], probes: [], probesAfterClose: [],
      skipped: probe ? skipped : [], problems: [])
    let writes = ProbePlan.writes(for: probes, width: width)
    if probe {
      let account = try flow.probe(probes: probes, writes: writes, writer: &writer)
      result.probes = account.results
      result.problems += account.problems
      flow.checkLanding(account.results)
    }
    flow.checkRegisterUnmapped(zone: zones.first)
    flow.closeAll()
    if probe {
      let account = try ProbeRun.run(probes: probes, writes: writes, writer: &writer)
      result.probesAfterClose = account.results
      result.problems += account.problems.map { "after close: " + $0 }
      flow.checkAfterClose(account.results)
    }
    result.steps = flow.steps
    result.checks = flow.checks
    return result
  }
}

/// The state of one run: its buffers, steps and checks.
private struct Flow {
  let operations: any CoalescedBufferOperations
  let pageSize: Int
  var buffers: [CoalescedBuffer] = []
  var cursors: [RingCursor?] = []
  var steps: [BufferStep] = []
  var checks: [BufferCheck] = []
  /// Zones whose REGISTER2 returned 0, with their buffer.
  var registered: [(zone: CoalescedZone, buffer: Int)] = []

  init(operations: any CoalescedBufferOperations, pageSize: Int) {
    self.operations = operations
    self.pageSize = pageSize
  }

  mutating func check(_ name: String, _ passed: Bool, _ detail: String) {
    checks.append(BufferCheck(name: name, passed: passed, detail: detail))
  }

  mutating func step(
    _ operation: String, _ buffer: Int, zone: CoalescedZone? = nil, error: SystemCallError?, _ detail: String
  ) {
    steps.append(BufferStep(operation: operation, buffer: buffer, zone: zone, error: error, detail: detail))
  }

  /// KVM_CREATE_COALESCED_MMIO_BUFFER, `count` times. The first refusal ends the run.
  mutating func create(count: Int) throws(BufferCreationError) {
    for index in 0..<count {
      let buffer = try CoalescedBuffer.create(operations, pageSize: pageSize)
      buffers.append(buffer)
      step("create", index, error: nil, "fd \(buffer.fd) (\(MMIO2Probe.anonInodeName))")
    }
    check("create", true, "\(count) buffer fd(s), each \(MMIO2Probe.anonInodeName)")
  }

  /// mmap of each buffer: one ring page each.
  mutating func mapEach() {
    var failures = 0
    for (index, buffer) in buffers.enumerated() {
      do {
        try buffer.map()
        let ring = buffer.ring
        let indexes = ring.map { "first \((try? $0.loadFirst()) ?? 0), last \((try? $0.loadLast()) ?? 0)" } ?? ""
        cursors.append(try ring.map { ring throws(RingCorruption) in try RingCursor(ring: ring) })
        step("map", index, error: nil, "one \(pageSize)-byte ring page, \(indexes)")
      } catch let error as SystemCallError {
        failures += 1
        cursors.append(nil)
        step("map", index, error: error, error.description)
      } catch {
        failures += 1
        cursors.append(nil)
        step("map", index, error: nil, "\(error)")
      }
    }
    check("map", failures == 0, failures == 0 ? "every buffer mapped one ring page" : "\(failures) mmap(s) failed")
  }

  /// The posting allows one mapping per buffer: a second mmap gives EBUSY.
  mutating func checkSecondMap() {
    guard let buffer = buffers.first, buffer.base != nil else {
      check("second-map-ebusy", false, "buffer 0 is not mapped, so a second mapping could not be tried")
      return
    }
    switch buffer.mapAgain() {
    case .success:
      step("map-again", 0, error: nil, "a second mapping succeeded")
      check("second-map-ebusy", false, "a second mmap of buffer 0 succeeded; the posting refuses it with EBUSY")
    case .failure(let error):
      step("map-again", 0, error: error, error.description)
      check(
        "second-map-ebusy", error.code == EBUSY,
        "a second mmap of buffer 0 answered \(error.errnoName) (\(error.errnoText))"
          + (error.code == EBUSY ? "" : "; the posting answers EBUSY"))
    }
  }

  /// An empty ring must not report POLLIN.
  mutating func checkEmptyPoll() {
    var wrong: [Int] = []
    for (index, buffer) in buffers.enumerated() where buffer.base != nil {
      do {
        let readable = try buffer.pollIn()
        step("poll", index, error: nil, readable ? "POLLIN" : "no POLLIN")
        if readable { wrong.append(index) }
      } catch {
        step("poll", index, error: error, error.description)
        wrong.append(index)
      }
    }
    check(
      "poll-empty", wrong.isEmpty,
      wrong.isEmpty
        ? "no buffer reports POLLIN while its ring is empty"
        : "buffer(s) \(wrong.map(String.init).joined(separator: ", ")) reported POLLIN or failed to poll with an empty ring"
    )
  }

  /// KVM_REGISTER_COALESCED_MMIO2 of each zone on its buffer.
  mutating func register(_ placed: [(zone: CoalescedZone, buffer: Int)]) {
    var failures: [String] = []
    for (zone, index) in placed {
      do {
        try buffers[index].register(zone)
        registered.append((zone, index))
        step("register", index, zone: zone, error: nil, "ok")
      } catch {
        failures.append("\(zone): \(error.errnoName)")
        step("register", index, zone: zone, error: error, error.description)
      }
    }
    check(
      "register", failures.isEmpty,
      failures.isEmpty
        ? "\(placed.count) zone(s) registered round-robin on \(buffers.count) buffer(s)"
        : "registration failed for " + failures.joined(separator: ", "))
  }

  /// Writes the probes; after each batch, before draining, each buffer's POLLIN must say
  /// exactly whether its ring holds entries, and after draining none may report it.
  mutating func probe<Writer: GuestWriter>(
    probes: [Probe], writes: [ExpectedWrite], writer: inout Writer
  ) throws -> ProbeRun.Account {
    var mismatches: [String] = []
    var readableSeen = 0
    let buffers = self.buffers
    var cursors = self.cursors
    func pollAll(expectPending: Bool) {
      for (index, buffer) in buffers.enumerated() {
        guard let ring = buffer.ring else { continue }
        let pending = expectPending ? ((try? ring.pendingCount()) ?? 0) > 0 : false
        do {
          let readable = try buffer.pollIn()
          if readable { readableSeen += 1 }
          if readable != pending {
            mismatches.append(
              "buffer \(index) \(readable ? "reported" : "did not report") POLLIN with "
                + (pending ? "entries pending" : "an empty ring"))
          }
        } catch {
          mismatches.append("poll of buffer \(index) failed: \(error)")
        }
      }
    }
    let account = try ProbeRun.run(
      probes: probes, writes: writes, writer: &writer,
      inspect: { pollAll(expectPending: true) },
      drain: {
        var rings: [[ObservedWrite]] = []
        for index in cursors.indices {
          var entries: [ObservedWrite] = []
          if cursors[index] != nil, buffers[index].base != nil {
            try cursors[index]!.drain { entries.append(ObservedWrite($0)) }
          }
          rings.append(entries)
        }
        pollAll(expectPending: false)
        return rings
      })
    self.cursors = cursors
    check(
      "poll-readiness", mismatches.isEmpty,
      mismatches.isEmpty
        ? "POLLIN exactly while a ring held entries (\(readableSeen) time(s) readable), never after draining"
        : mismatches.joined(separator: "; "))
    return account
  }

  /// Each write inside a registered zone must be in the ring of a buffer holding such a zone;
  /// each write outside every zone must exit.
  mutating func checkLanding(_ results: [ProbeResult]) {
    var wrong: [String] = []
    var coalesced = 0
    for result in results {
      let write = result.write
      let holders = Set(
        registered.filter {
          $0.zone.contains(address: write.address, length: UInt64(write.length), space: write.space)
        }.map(\.buffer))
      switch (result.outcome, result.buffer) {
      case (.coalesced, let buffer?) where holders.contains(buffer):
        coalesced += 1
      case (.exit, _) where holders.isEmpty:
        break
      case (nil, _):
        wrong.append("probe \(result.probe) was not observed as written")
      default:
        let want =
          holders.isEmpty ? "exit" : "land in buffer \(holders.sorted().map(String.init).joined(separator: " or "))"
        let got = result.outcome == .exit ? "exited" : "landed in buffer \(result.buffer.map(String.init) ?? "none")"
        wrong.append("probe \(result.probe) \(got), expected to \(want)")
      }
    }
    check(
      "probes-land-in-their-zone-buffer", wrong.isEmpty,
      wrong.isEmpty
        ? "\(coalesced) write(s) in their zone's buffer ring, \(results.count - coalesced) exit(s) outside every zone"
        : wrong.joined(separator: "; "))
  }

  /// After munmap the ring is gone: REGISTER2 on that buffer must fail with ENOBUFS.
  mutating func checkRegisterUnmapped(zone: CoalescedZone?) {
    guard let buffer = buffers.first, let zone else { return }
    do {
      try buffer.unmap()
      cursors[0] = nil
      step("unmap", 0, error: nil, "ring freed")
    } catch {
      step("unmap", 0, error: error, error.description)
      check("register-unmapped-enobufs", false, "munmap of buffer 0 failed: \(error)")
      return
    }
    do {
      try buffer.register(zone)
      step("register-unmapped", 0, zone: zone, error: nil, "accepted")
      check("register-unmapped-enobufs", false, "REGISTER2 on an unmapped buffer returned 0; the posting says ENOBUFS")
    } catch {
      step("register-unmapped", 0, zone: zone, error: error, error.description)
      check(
        "register-unmapped-enobufs", error.code == ENOBUFS,
        "REGISTER2 on an unmapped buffer answered \(error.errnoName) (\(error.errnoText))"
          + (error.code == ENOBUFS ? "" : "; the posting answers ENOBUFS"))
    }
  }

  /// munmap and close every buffer still open, recording each.
  mutating func closeAll() {
    for (index, buffer) in buffers.enumerated() where buffer.fd >= 0 {
      if buffer.base != nil {
        do {
          try buffer.unmap()
          step("unmap", index, error: nil, "ring freed")
        } catch {
          step("unmap", index, error: error, error.description)
        }
      }
      buffer.close()
      step("close", index, error: nil, "fd closed")
    }
    cursors = cursors.map { _ in nil }
  }

  /// Once every buffer is closed, no write may land anywhere: each probe must exit. (On a real
  /// kernel an unmapped but still registered buffer also makes writes exit, so this shows the
  /// zones inert rather than proves them gone; the double's tests look at its zone table.)
  mutating func checkAfterClose(_ results: [ProbeResult]) {
    let landed = results.filter { $0.outcome != .exit }
    check(
      "close-deregisters", landed.isEmpty,
      landed.isEmpty
        ? "after munmap and close of every buffer, all \(results.count) probe write(s) exited (this shows the "
          + "zones inert; guest writes cannot tell removed zones from ring-less ones)"
        : "after close, probe(s) " + landed.map(\.probe.description).joined(separator: ", ") + " did not exit")
  }
}
