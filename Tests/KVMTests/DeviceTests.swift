import CMMIOTestSupport
import KVM
import Testing

@Suite("Opening the device")
struct DeviceTests {
  @Test("a missing path is ENOENT, explained")
  func missing() {
    #expect(throws: DeviceError.missing(path: "/nonexistent/kvm")) { try KVMDevice(path: "/nonexistent/kvm") }
  }

  @Test("a directory or a regular file is not a device")
  func notADevice() {
    #expect(throws: DeviceError.notADevice(path: "/tmp", kind: "a directory")) { try KVMDevice(path: "/tmp") }
    #expect(throws: DeviceError.notADevice(path: "/etc/hostname", kind: "a regular file")) {
      try KVMDevice(path: "/etc/hostname")
    }
  }

  @Test("a character device that is not KVM fails KVM_GET_API_VERSION")
  func notKVM() throws {
    do {
      _ = try KVMDevice(path: "/dev/null")
      Issue.record("/dev/null opened as KVM")
    } catch {
      guard case .notKVM(_, let error) = error else {
        Issue.record("expected notKVM, got \(error)")
        return
      }
      #expect(error.errnoName == "ENOTTY")
      #expect(error.operation == "KVM_GET_API_VERSION")
    }
  }

  @Test("errors name the errno and its text")
  func errnoNames() {
    let error = SystemCallError(operation: "KVM_CREATE_VM", code: 25)
    #expect(error.errnoName == "ENOTTY")
    #expect(error.description == "KVM_CREATE_VM failed: ENOTTY (Inappropriate ioctl for device)")
    #expect(Errno.name(22) == "EINVAL")
    #expect(Errno.name(105) == "ENOBUFS")
    #expect(Errno.name(9999) == "E9999")
  }
}

@Suite("The KVM layer on the real /dev/kvm", .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct KVMLayerTests {
  @Test("API version 12; the ring's page offset is what KVM_CHECK_EXTENSION answers; entries = (page − 8)/24")
  func ringGeometry() throws {
    let device = try KVMDevice()
    #expect(device.apiVersion == 12)
    let vm = try device.createVM()
    let offset = try vm.ringPageOffset()
    #expect(offset == Int(try device.checkExtension(.coalescedMMIO)))
    #expect(offset > 0)
    _ = try vm.addMemory(size: 0x10000)
    let vcpu = try vm.createVCPU()
    let ring = try #require(vcpu.ring)
    #expect(Int(ring.capacity) == (Host.pageSize - 8) / 24)
    #expect(ring.usableEntries == ring.capacity - 1)
    #if arch(x86_64)
      #expect(offset == 2)
    #endif
  }

  @Test("the vCPU stats fd parses, holds exits and mmio_exits, and exits grows after KVM_RUN")
  func statistics() throws {
    let device = try KVMDevice()
    let vm = try device.createVM()
    let memory = try vm.addMemory(size: 0x10000)
    memory.write([0x66, 0xBB, 0x00, 0x00, 0x10, 0x00, 0xB0, 0x42, 0x67, 0x88, 0x03, 0xF4], at: 0x1000)
    let vcpu = try vm.createVCPU()
    try vcpu.enterUnrealMode(entry: 0x1000)
    let stats = try vcpu.statistics()
    #expect(stats.names.contains("exits"))
    #expect(stats.names.contains("mmio_exits"))
    #expect(stats.identifier.contains("vcpu"))
    let before = try stats.snapshot()
    #expect(try vcpu.run() == .mmio(address: 0x10_0000, length: 1, isWrite: true, data: 0x42))
    #expect(try vcpu.run() == .halt)
    let after = try stats.snapshot()
    let exits = try #require(after["exits"]) - (before["exits"] ?? 0)
    #expect(exits >= 2)
    #expect(after.delta(since: before)["mmio_exits"] == 1)
    #expect(try vm.statistics().names.isEmpty == false)
  }

  @Test("zones register and unregister (MMIO and PIO); a pio flag of 2 gives EINVAL")
  func registerUnregister() throws {
    let vm = try KVMDevice().createVM()
    let zone = CoalescedZone(address: 0x10_0000, size: 0x1000)
    let port = CoalescedZone(address: 0x80, size: 8, space: .pio)
    try vm.register(zone)
    try vm.register(port)
    try vm.unregister(zone)
    try vm.unregister(port)
    #expect(throws: SystemCallError(operation: "KVM_REGISTER_COALESCED_MMIO", code: 22)) {
      try vm.registerRaw(address: 0x20_0000, size: 8, pioFlag: 2)
    }
  }

  @Test("a guest write to a zone lands in the ring with its address, length and data; last moves, first is ours")
  func writeAppearsInRing() throws {
    let vm = try KVMDevice().createVM()
    let memory = try vm.addMemory(size: 0x10000)
    // mov ebx, 0x100010; mov eax, 0xcafef00d; mov [ebx], eax; mov dx, 0x80; out dx, al; hlt
    let code: [UInt8] = [
      0x66, 0xBB, 0x10, 0x00, 0x10, 0x00, 0x66, 0xB8, 0x0D, 0xF0, 0xFE, 0xCA, 0x67, 0x66, 0x89, 0x03,
      0xBA, 0x80, 0x00, 0xEE, 0xF4,
    ]
    memory.write(code, at: 0x1000)
    try vm.register(CoalescedZone(address: 0x10_0000, size: 0x1000))
    try vm.register(CoalescedZone(address: 0x80, size: 1, space: .pio))
    let vcpu = try vm.createVCPU()
    try vcpu.enterUnrealMode(entry: 0x1000)
    let ring = try #require(vcpu.ring)
    ring.reset(to: 7)
    #expect(try vcpu.run() == .halt)
    #expect(try ring.loadFirst() == 7)
    #expect(try ring.loadLast() == 9)
    #expect(try ring.pendingCount() == 2)
    #expect(ring.entry(at: 7) == RingEntry(address: 0x10_0010, length: 4, space: .mmio, data: 0xCAFE_F00D))
    #expect(ring.entry(at: 8) == RingEntry(address: 0x80, length: 1, space: .pio, data: 0x0D))
    var cursor = try RingCursor(ring: ring)
    #expect(cursor.position == 9)
    #expect(try cursor.drain { _ in } == 0)
    #expect(try ring.loadFirst() == 9)
  }
}
