import CMMIOTestSupport
import Foundation
import Guest
import KVM
import Synchronization
import Testing

/// A ring page followed by an inaccessible guard page: a read past the ring page
/// faults at once, so "never reads past the page" is checked by the test surviving.
private final class GuardedRingPage {
  let pageSize = Host.pageSize
  let base: UnsafeMutableRawPointer
  let ring: CoalescedRing

  init() throws {
    let mapped = mmap(nil, pageSize * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    guard let mapped, mapped != MAP_FAILED else { throw POSIXError(.ENOMEM) }
    guard mprotect(mapped.advanced(by: pageSize), pageSize, PROT_NONE) == 0 else { throw POSIXError(.EPERM) }
    base = mapped
    ring = CoalescedRing(page: base, pageSize: pageSize)
  }

  deinit { munmap(base, pageSize * 2) }

  /// Writes an index as something other than the kernel would (a test-only corruption).
  func set(first: UInt32? = nil, last: UInt32? = nil) {
    if let first { base.assumingMemoryBound(to: Atomic<UInt32>.self).pointee.store(first, ordering: .releasing) }
    if let last {
      base.advanced(by: 4).assumingMemoryBound(to: Atomic<UInt32>.self).pointee.store(last, ordering: .releasing)
    }
  }

  var first: UInt32 { base.load(as: UInt32.self) }

  /// Fills every slot with a recognisable entry, as a kernel that wrapped many times would leave it.
  func fillEntries() {
    for slot in 0..<Int(ring.capacity) {
      let entry = base.advanced(by: CoalescedRing.headerSize + slot * CoalescedRing.entrySize)
      entry.storeBytes(of: UInt64(0x10_0000 + slot), toByteOffset: 0, as: UInt64.self)
      entry.storeBytes(of: UInt32(4), toByteOffset: 8, as: UInt32.self)
      entry.storeBytes(of: UInt32(0), toByteOffset: 12, as: UInt32.self)
      entry.storeBytes(of: UInt64(slot), toByteOffset: 16, as: UInt64.self)
    }
  }
}

/// The corruption `body` threw, as (index, value, capacity); nil if it threw none.
private func corruption<T>(_ body: () throws(RingCorruption) -> T) -> (String, UInt32, UInt32)? {
  do {
    _ = try body()
    return nil
  } catch {
    return (error.index, error.value, error.capacity)
  }
}

/// The corruption a guest run ended with, as (index, value, capacity); nil if another outcome.
private func runCorruption(_ body: () throws(GuestRunError) -> Void) -> (String, UInt32, UInt32)? {
  do {
    try body()
    return nil
  } catch {
    guard case .corruption(let error) = error else { return nil }
    return (error.index, error.value, error.capacity)
  }
}

/// `last` values no kernel can publish: MAX itself, just past it, past the page, the top of the range.
private func corruptIndexes(capacity: UInt32) -> [UInt32] {
  [capacity, capacity + 1, capacity + 2, 1024, 4096, 0x7FFF_FFFF, 0x8000_0000, UInt32.max - 1, UInt32.max]
}

@Suite("Ring corruption: out-of-range indexes are reported, never followed")
struct RingCorruptionTests {
  @Test("loadLast and loadFirst throw RingCorruption for any index at or past MAX")
  func loadsThrow() throws {
    let page = try GuardedRingPage()
    let capacity = page.ring.capacity
    #expect(CoalescedRing.headerSize + Int(capacity) * CoalescedRing.entrySize <= page.pageSize)
    for value in corruptIndexes(capacity: capacity) {
      page.set(first: 0, last: value)
      #expect(
        corruption { () throws(RingCorruption) in try page.ring.loadLast() } ?? ("", 0, 0) == ("last", value, capacity))
      #expect(throws: RingCorruption.self) { try page.ring.pendingCount() }
      page.set(first: value, last: 0)
      #expect(
        corruption { () throws(RingCorruption) in try page.ring.loadFirst() } ?? ("", 0, 0) == (
          "first", value, capacity
        ))
      #expect(throws: RingCorruption.self) { try page.ring.pendingCount() }
    }
    // The boundary: MAX − 1 is a valid index.
    page.set(first: capacity - 1, last: capacity - 1)
    #expect(try page.ring.loadLast() == capacity - 1)
    #expect(try page.ring.pendingCount() == 0)
  }

  @Test("a cursor cannot be made over a corrupt ring")
  func cursorInitThrows() throws {
    let page = try GuardedRingPage()
    for value in corruptIndexes(capacity: page.ring.capacity) {
      page.set(first: 0, last: value)
      #expect(throws: RingCorruption.self) { _ = try RingCursor(ring: page.ring) }
    }
  }

  @Test("drain throws on a corrupt last, reads no entry, and leaves first as it was")
  func drainThrows() throws {
    let page = try GuardedRingPage()
    page.fillEntries()
    let capacity = page.ring.capacity
    for start in [0, capacity / 2, capacity - 1] {
      for value in corruptIndexes(capacity: capacity) {
        page.ring.reset(to: start)
        var cursor = try RingCursor(ring: page.ring, ringSize: 8)
        let published = page.first
        page.set(last: value)
        var read = 0
        let thrown = corruption { () throws(RingCorruption) in try cursor.drain { _ in read += 1 } }
        #expect(thrown ?? ("", 0, 0) == ("last", value, capacity))
        #expect(read == 0)
        #expect(page.first == published)
        #expect(cursor.position == start)
      }
    }
  }

  @Test("a valid last that wraps reads up to the ring's final slot and stops at the page's end")
  func wrapStaysInsideThePage() throws {
    let page = try GuardedRingPage()
    page.fillEntries()
    let capacity = page.ring.capacity
    page.ring.reset(to: capacity - 3)
    var cursor = try RingCursor(ring: page.ring)
    page.set(last: 2)
    var slots: [UInt64] = []
    try cursor.drain { slots.append($0.data) }
    #expect(slots == [UInt64(capacity - 3), UInt64(capacity - 2), UInt64(capacity - 1), 0, 1])
  }
}

@Suite(
  "Ring corruption through GuestRunner on the real /dev/kvm",
  .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct RingCorruptionRunnerTests {
  /// One coalesced write, then `hlt`.
  private func machineWithOneCoalescedWrite() throws -> GuestMachine {
    let machine = try GuestMachine(device: KVMDevice())
    try machine.vm.register(CoalescedZone(address: GuestLayout.mmioDevice, size: 8))
    var program = GuestProgram()
    program.write(.mmio, address: GuestLayout.mmioDevice, length: 4, data: 0xC0FF_EE00)
    program.halt()
    machine.load(program)
    return machine
  }

  @Test("a corrupt last in a ring view the test controls surfaces as .corruption")
  func testOwnedRing() throws {
    let machine = try machineWithOneCoalescedWrite()
    let page = try GuardedRingPage()
    var runner = try GuestRunner(vcpu: try machine.addVCPU())
    runner.cursor = try RingCursor(ring: page.ring)
    page.set(last: UInt32.max)
    let thrown = runCorruption { () throws(GuestRunError) in _ = try runner.collect() }
    #expect(thrown ?? ("", 0, 0) == ("last", .max, page.ring.capacity))
  }

  @Test("a corrupt last in the VM's own ring page: the kernel refuses to coalesce, the runner reports .corruption")
  func kernelRingPage() throws {
    let machine = try machineWithOneCoalescedWrite()
    let vcpu = try machine.addVCPU()
    let ring = try #require(vcpu.ring)
    var runner = try GuestRunner(vcpu: vcpu)
    // The ring page is at KVM_CHECK_EXTENSION(KVM_CAP_COALESCED_MMIO) pages into the
    // vCPU's kvm_run mapping; `last` is its second u32. The kernel checks
    // `last >= KVM_COALESCED_MMIO_MAX` before it writes, so this is safe for it too.
    let offset = try machine.vm.ringPageOffset() * Host.pageSize
    let last = UnsafeMutableRawPointer(vcpu.runState).advanced(by: offset + 4)
    last.assumingMemoryBound(to: Atomic<UInt32>.self).pointee.store(ring.capacity + 7, ordering: .releasing)
    let corrupt = ("last", ring.capacity + 7, ring.capacity)
    #expect(corruption { () throws(RingCorruption) in try ring.loadLast() } ?? ("", 0, 0) == corrupt)
    let thrown = runCorruption { () throws(GuestRunError) in _ = try runner.collect() }
    #expect(thrown ?? ("", 0, 0) == corrupt)
    // The write was not coalesced into a slot past the ring: the kernel left `last` alone.
    #expect(last.assumingMemoryBound(to: Atomic<UInt32>.self).pointee.load(ordering: .acquiring) == ring.capacity + 7)
  }
}
