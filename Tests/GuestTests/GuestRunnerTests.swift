import CMMIOTestSupport
import Guest
import KVM
import Testing

@Suite("Guest runner on the real /dev/kvm", .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct GuestRunnerTests {
  @Test("a 4-byte store to a zone is coalesced; the byte past it exits")
  func storeIntoZone() throws {
    let machine = try GuestMachine(device: KVMDevice())
    try machine.vm.register(CoalescedZone(address: 0x10_0000, size: 0x1000))
    var program = GuestProgram()
    program.write(.mmio, address: 0x10_0000, length: 4, data: 0xDEAD_BEEF)
    program.write(.mmio, address: 0x10_0FF8, length: 8, data: 0x0102_0304_0506_0708)
    program.write(.mmio, address: 0x10_1000, length: 1, data: 0x5A)
    program.write(.pio, address: 0x80, length: 1, data: 0x11)
    program.halt()
    machine.load(program)
    var runner = try GuestRunner(vcpu: try machine.addVCPU())
    let (writes, counts) = try runner.collect()
    #expect(writes.count == 4)
    #expect(zip(writes, program.writes).allSatisfy { $0.matches($1) })
    #expect(writes.map(\.delivery) == [.coalesced, .coalesced, .exit, .exit])
    #expect(counts.ringEntries == 2)
    #expect(counts.writeExits == 2)
  }

  @Test("the workload loop writes N, N−1, …, 1 and all of them are accounted for", arguments: [IOSpace.mmio, .pio])
  func workloadLoop(space: IOSpace) throws {
    let machine = try GuestMachine(device: KVMDevice())
    let address: UInt64 = space == .mmio ? GuestLayout.mmioDevice : UInt64(GuestLayout.pioDevice)
    try machine.vm.register(CoalescedZone(address: address, size: 8, space: space))
    let workload = GuestWorkload(target: .device(space, address), writes: 500)
    machine.load(workload.program())
    var runner = try GuestRunner(vcpu: try machine.addVCPU(), ringSize: 9)
    let (writes, counts) = try runner.collect()
    #expect(writes.count == 500)
    #expect(writes.enumerated().allSatisfy { $0.element.data == workload.data(ofWrite: UInt32($0.offset)) })
    #expect(writes.allSatisfy { $0.space == space && $0.address == address && $0.length == 4 })
    // Ring size 9: every tenth write exits.
    #expect(counts.writeExits == 50)
    #expect(counts.ringEntries == 450)
  }
}

@Suite("Guest layout")
struct GuestLayoutTests {
  @Test("reachability never traps and follows the unreal-mode limits")
  func reachability() {
    #expect(!GuestLayout.isReachable(UInt64.max, length: 8, space: .mmio))
    #expect(!GuestLayout.isReachable(UInt64.max - 1, length: 2, space: .pio))
    #expect(GuestLayout.isReachable(0x10_0000, length: 8, space: .mmio))
    #expect(!GuestLayout.isReachable(0x8000, length: 1, space: .mmio))
    #expect(!GuestLayout.isReachable(0xFFFF_FFFF, length: 2, space: .mmio))
    #expect(GuestLayout.isReachable(0xFFFF, length: 1, space: .pio))
    #expect(!GuestLayout.isReachable(0xFFFF, length: 2, space: .pio))
  }
}

@Suite("Guest run errors")
struct GuestRunErrorTests {
  @Test("a timeout names its length, not the clock's deadline")
  func timeoutMessage() {
    #expect(GuestRunError.timedOut(seconds: 2.5).description == "the guest did not halt within 2.5 seconds")
    #expect(GuestRunError.timedOut(seconds: nil).description == "the guest did not halt before its deadline")
  }
}
