import Exerciser
import Guest
import KVM
import Platform
import Testing

/// The proposed v2 API against `V2KernelDouble`. Each scenario that needs no fault injection
/// also runs on the lab's patched kernel (docs/v2-kernel.md maps them).
@Suite("v2 buffer API against the kernel double")
struct V2FlowTests {
  // MARK: each posted rule, one at a time, through the double's operations

  @Test("a second mmap while one exists gives EBUSY; after munmap a fresh zeroed ring can be mapped")
  func secondMap() throws {
    let double = V2KernelDouble()
    let buffer = try CoalescedBuffer.create(double)
    try buffer.map()
    guard case .failure(let error) = buffer.mapAgain() else {
      Issue.record("a second mapping succeeded")
      return
    }
    #expect(error.code == EBUSY)
    try buffer.unmap()
    try buffer.map()
    #expect(try buffer.ring?.loadFirst() == 0)
    #expect(try buffer.ring?.loadLast() == 0)
  }

  @Test("REGISTER2 on a buffer never mapped, or unmapped, gives ENOBUFS")
  func registerUnmapped() throws {
    let double = V2KernelDouble()
    let buffer = try CoalescedBuffer.create(double)
    let zone = CoalescedZone(address: 0x10_0000, size: 0x1000)
    #expect(throws: SystemCallError(operation: "KVM_REGISTER_COALESCED_MMIO2", code: ENOBUFS)) {
      try buffer.register(zone)
    }
    try buffer.map()
    try buffer.register(zone)
    try buffer.unmap()
    #expect(throws: SystemCallError(operation: "KVM_REGISTER_COALESCED_MMIO2", code: ENOBUFS)) {
      try buffer.register(zone)
    }
    #expect(double.zones.count == 1)
  }

  @Test("REGISTER2 with an fd that is not open gives EBADF; with an fd of another kind, EINVAL")
  func badDescriptors() throws {
    let double = V2KernelDouble()
    let zone = CoalescedZone(address: 0x10_0000, size: 0x1000)
    let closedFD = open("/dev/null", O_RDONLY)
    close(closedFD)
    #expect(throws: SystemCallError(operation: "KVM_REGISTER_COALESCED_MMIO2", code: EBADF)) {
      try double.register(BufferZone(zone, bufferFD: closedFD))
    }
    let other = open("/dev/null", O_RDONLY)
    defer { close(other) }
    #expect(throws: SystemCallError(operation: "KVM_REGISTER_COALESCED_MMIO2", code: EINVAL)) {
      try double.register(BufferZone(zone, bufferFD: other))
    }
    #expect(double.zones.isEmpty)
  }

  @Test("a pio flag other than 0 or 1 gives EINVAL", arguments: [UInt32(2), 0xFFFF_FFFF])
  func invalidPIOFlag(flag: UInt32) throws {
    let double = V2KernelDouble()
    let buffer = try CoalescedBuffer.create(double)
    try buffer.map()
    let raw = BufferZone(address: 0x80, size: 1, pioFlag: flag, bufferFD: buffer.fd)
    #expect(throws: SystemCallError(operation: "KVM_REGISTER_COALESCED_MMIO2", code: EINVAL)) {
      try double.register(raw)
    }
    #expect(raw.zone == nil)
    #expect(double.zones.isEmpty)
  }

  @Test("POLLIN exactly when a ring is mapped and first != last")
  func pollReadiness() throws {
    let double = V2KernelDouble()
    let buffer = try CoalescedBuffer.create(double)
    #expect(try buffer.pollIn() == false)  // no ring
    try buffer.map()
    #expect(try buffer.pollIn() == false)  // empty ring
    try buffer.register(CoalescedZone(address: 0x10_0000, size: 0x10))
    let write = ExpectedWrite(space: .mmio, address: 0x10_0004, length: 4, data: 0xA1B2_C3D4)
    #expect(try double.perform([write]).isEmpty)
    #expect(try buffer.pollIn() == true)
    let ring = try #require(buffer.ring)
    #expect(ring.entry(at: 0) == RingEntry(address: 0x10_0004, length: 4, space: .mmio, data: 0xA1B2_C3D4))
    ring.storeFirst(try ring.loadLast())
    #expect(try buffer.pollIn() == false)  // drained
    #expect(try double.perform([write]).isEmpty)
    try buffer.unmap()
    #expect(try buffer.pollIn() == false)  // entries gone with the ring
  }

  @Test("munmap frees the ring: the zones stay registered and their writes exit")
  func unmapFreesRing() throws {
    let double = V2KernelDouble()
    let buffer = try CoalescedBuffer.create(double)
    try buffer.map()
    try buffer.register(CoalescedZone(address: 0x10_0000, size: 0x1000))
    try buffer.unmap()
    #expect(double.zones.count == 1)
    let write = ExpectedWrite(space: .mmio, address: 0x10_0000, length: 1, data: 7)
    let exits = try double.perform([write])
    #expect(exits.count == 1)
    #expect(exits.first?.matches(write) == true)
    #expect(exits.first?.delivery == .exit)
  }

  @Test("a full ring makes the next write exit: 169 usable entries on 4 KiB pages")
  func ringCapacity() throws {
    let double = V2KernelDouble(pageSize: 4096)
    let buffer = try CoalescedBuffer.create(double, pageSize: 4096)
    try buffer.map()
    try buffer.register(CoalescedZone(address: 0x80, size: 1, space: .pio))
    let writes = (0..<170).map { ExpectedWrite(space: .pio, address: 0x80, length: 1, data: UInt64($0 & 0xFF)) }
    let exits = try double.perform(writes)
    #expect(exits.count == 1)
    #expect(exits.first?.matches(writes[169]) == true)
    #expect(try buffer.ring?.pendingCount() == 169)
  }

  @Test("UNREGISTER2 ignores buffer_fd and removes only zones that fully contain the range")
  func unregisterIgnoresBuffer() throws {
    let double = V2KernelDouble()
    let first = try CoalescedBuffer.create(double)
    let second = try CoalescedBuffer.create(double)
    try first.map()
    try second.map()
    try first.register(CoalescedZone(address: 0x10_0000, size: 0x1000))
    try second.register(CoalescedZone(address: 0x20_0000, size: 0x1000))
    try second.register(CoalescedZone(address: 0x80, size: 8, space: .pio))
    // Partial overlap, superset, other kind: nothing removed, and no error.
    try double.unregister(BufferZone(CoalescedZone(address: 0x10_0800, size: 0x1000), bufferFD: first.fd))
    try double.unregister(BufferZone(CoalescedZone(address: 0xF_F000, size: 0x3000), bufferFD: first.fd))
    try double.unregister(BufferZone(CoalescedZone(address: 0x10_0000, size: 0x10, space: .pio), bufferFD: first.fd))
    #expect(double.zones.count == 3)
    // A sub-range through the *other* buffer's fd, and through no buffer at all: removed.
    try double.unregister(BufferZone(CoalescedZone(address: 0x10_0100, size: 0x10), bufferFD: second.fd))
    try double.unregister(BufferZone(CoalescedZone(address: 0x84, size: 1, space: .pio), bufferFD: -1))
    #expect(double.zones.map(\.zone.address) == [0x20_0000])
  }

  @Test("closing deregisters, once the ring is unmapped too")
  func closeDeregisters() throws {
    let double = V2KernelDouble()
    let buffer = try CoalescedBuffer.create(double)
    try buffer.map()
    try buffer.register(CoalescedZone(address: 0x10_0000, size: 0x1000))
    let fd = buffer.fd
    // Closing the fd while mapped keeps the buffer (the mapping holds the file).
    double.close(fd)
    #expect(double.zones.count == 1)
    #expect(double.liveBuffers == 1)
    let write = ExpectedWrite(space: .mmio, address: 0x10_0010, length: 2, data: 0xBEEF)
    #expect(try double.perform([write]).isEmpty)
    try double.unmap(try #require(buffer.base), length: buffer.length)
    #expect(double.zones.isEmpty)
    #expect(double.liveBuffers == 0)
    #expect(try double.perform([write]).count == 1)
  }

  @Test("CREATE refused with ENOTTY or EINVAL means absent; another errno is a failure; a foreign fd is not a buffer")
  func creationOutcomes() throws {
    for (code, absent) in [(ENOTTY, true), (EINVAL, true), (EMFILE, false)] {
      let double = V2KernelDouble()
      double.faults.createErrno = code
      #expect {
        _ = try CoalescedBuffer.create(double)
      } throws: { error in
        guard let error = error as? BufferCreationError else { return false }
        return error.meansAbsent == absent && "\(error)".contains(Errno.name(code))
      }
    }
    let double = V2KernelDouble()
    double.faults.describeAs = "/dev/null"
    #expect(throws: BufferCreationError.notABuffer(target: "/dev/null")) { _ = try CoalescedBuffer.create(double) }
    #expect(double.liveBuffers == 0)  // the foreign fd was closed again
  }

  @Test("the exit-3 sentence names the ioctl, the kernel's answer and the proposal")
  func absentSentence() {
    let error = BufferCreationError.absent(SystemCallError(operation: "KVM_CREATE_COALESCED_MMIO_BUFFER", code: ENOTTY))
    let text = error.description
    #expect(text.contains("KVM_CREATE_COALESCED_MMIO_BUFFER"))
    #expect(text.contains("ENOTTY (Inappropriate ioctl for device)"))
    #expect(text.contains("unmerged 2024 proposal"))
    #expect(!text.dropLast().contains("."))
  }

  // MARK: the whole flow

  @Test("the whole flow: N buffers, round-robin zones, probes, POLLIN, ENOBUFS, close", arguments: [1, 3])
  func wholeFlow(buffers: Int) throws {
    let double = V2KernelDouble()
    var writer = double
    var zones = BufferExercise.defaultZones(count: buffers)
    zones.append(CoalescedZone(address: 0x80, size: 8, space: .pio))
    let exercise = BufferExercise(bufferCount: buffers, zones: zones, probe: true)
    let result = try exercise.run(operations: double, writer: &writer)
    for check in result.checks { #expect(check.passed, "\(check.name): \(check.detail)") }
    #expect(result.problems.isEmpty)
    #expect(result.passed)
    #expect(
      result.checks.map(\.name) == [
        "create", "map", "second-map-ebusy", "poll-empty", "register", "poll-readiness",
        "probes-land-in-their-zone-buffer", "register-unmapped-enobufs", "close-deregisters",
      ])
    // Zone i on buffer i % N; per zone: first and last byte coalesced into that buffer, past byte exits.
    #expect(result.zones.map(\.buffer) == zones.indices.map { $0 % buffers })
    #expect(result.probes.count == zones.count * 3)
    for (index, placed) in result.zones.enumerated() {
      let three = result.probes[(index * 3)..<(index * 3 + 3)].map { ($0.outcome, $0.buffer) }
      #expect(three[0] == (.coalesced, placed.buffer) && three[1] == (.coalesced, placed.buffer))
      #expect(three[2] == (.exit, nil))
    }
    #expect(result.probesAfterClose.allSatisfy { $0.outcome == .exit })
    #expect(result.steps.filter { $0.operation == "create" }.count == buffers)
    #expect(result.steps.contains { $0.operation == "map-again" && $0.error?.code == EBUSY })
    #expect(result.steps.contains { $0.operation == "register-unmapped" && $0.error?.code == ENOBUFS })
    #expect(double.zones.isEmpty)
    #expect(double.liveBuffers == 0)
  }

  @Test("register --v2 through one buffer of the double: coalesced, coalesced, exit in the buffer's ring")
  func zoneSessionThroughBuffer() throws {
    let double = V2KernelDouble()
    var writer = double
    let buffer = try CoalescedBuffer.create(double)
    try buffer.map()
    var registrar = try BufferRegistrar(buffer: buffer)
    let session = ZoneSession(zones: [CoalescedZone(address: 0x10_0000, size: 0x1000)])
    let result = try session.run(registrar: &registrar, writer: &writer, api: .v2)
    #expect(result.operations.map(\.ioctl) == ["KVM_REGISTER_COALESCED_MMIO2"])
    #expect(result.probes.map(\.outcome) == [.coalesced, .coalesced, .exit])
    #expect(result.probes.map(\.buffer) == [0, 0, nil])
    #expect(result.problems.isEmpty)
    buffer.close()
    #expect(double.zones.isEmpty)
  }

  // MARK: each check of the flow can fail

  @Test(
    "a double that breaks one posted rule fails exactly the check for it",
    arguments: [
      ("allowSecondMap", "second-map-ebusy"),
      ("alwaysReadable", "poll-empty"),
      ("registerUnmapped", "register-unmapped-enobufs"),
      ("ringSurvivesUnmap", "close-deregisters"),
      ("misroute", "probes-land-in-their-zone-buffer"),
    ])
  func brokenRule(fault: String, check: String) throws {
    let double = V2KernelDouble()
    switch fault {
    case "allowSecondMap": double.faults.allowSecondMap = true
    case "alwaysReadable": double.faults.alwaysReadable = true
    case "registerUnmapped": double.faults.registerUnmapped = true
    case "ringSurvivesUnmap": double.faults.ringSurvivesUnmap = true
    default: double.faults.misroute = true
    }
    var writer = double
    let result = try BufferExercise(bufferCount: 2, probe: true).run(operations: double, writer: &writer)
    let failed = result.checks.filter { !$0.passed }.map(\.name)
    #expect(failed.contains(check))
    #expect(!result.passed)
  }

  @Test("guest writes cannot tell a closed buffer's zones from an unmapped one's: the double's table is the evidence")
  func closeCheckLimit() throws {
    let double = V2KernelDouble()
    double.faults.keepZonesOnClose = true
    var writer = double
    let result = try BufferExercise(bufferCount: 1, probe: true).run(operations: double, writer: &writer)
    // Zones left behind without a ring make every write exit, exactly as removed zones do, so
    // the flow's close check passes on both: it shows the zones inert, not gone.
    #expect(result.checks.first { $0.name == "close-deregisters" }?.passed == true)
    #expect(double.zones.count == 1)
    // The rule itself is tested on the double's table in "closing deregisters".
  }

  @Test("corrupted ring data is caught by the accounting: address, length, kind and data are all checked")
  func corruptData() throws {
    let double = V2KernelDouble()
    double.faults.corruptData = true
    var writer = double
    let result = try BufferExercise(bufferCount: 1, probe: true).run(operations: double, writer: &writer)
    #expect(!result.problems.isEmpty)
    #expect(result.probes.filter { $0.outcome == nil }.count == 2)
    #expect(!result.passed)
  }
}
