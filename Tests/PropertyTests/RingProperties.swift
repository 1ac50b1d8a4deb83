import KVM
import PropertyBased
import Synchronization
import Testing

/// A ring page this test owns, and the kernel's side of `virt/kvm/coalesced_mmio.c`
/// played by the test: it writes entries at `last` and publishes `last`, and never
/// touches `first`.
private final class KernelRing {
  let pageSize: Int
  let page: UnsafeMutableRawPointer
  let ring: CoalescedRing
  /// `KVM_COALESCED_MMIO_MAX` for this page size.
  var max: UInt32 { ring.capacity }

  init(pageSize: Int) {
    self.pageSize = pageSize
    page = UnsafeMutableRawPointer.allocate(byteCount: pageSize, alignment: 4096)
    page.initializeMemory(as: UInt8.self, repeating: 0xA5, count: pageSize)
    ring = CoalescedRing(page: page, pageSize: pageSize)
  }

  deinit { page.deallocate() }

  private var firstIndex: UnsafeMutablePointer<Atomic<UInt32>> { page.assumingMemoryBound(to: Atomic<UInt32>.self) }
  private var lastIndex: UnsafeMutablePointer<Atomic<UInt32>> {
    page.advanced(by: 4).assumingMemoryBound(to: Atomic<UInt32>.self)
  }

  var first: UInt32 { firstIndex.pointee.load(ordering: .acquiring) }
  var last: UInt32 { lastIndex.pointee.load(ordering: .acquiring) }

  /// The kernel's refusal rule (`coalesced_mmio_has_room` since 6.12, plus the
  /// `last >= MAX` guard): full when one more entry would make `last` meet `first`.
  var isFull: Bool { last >= max || (last + 1) % max == first }

  /// Free slots as the reader's headroom rule sees them: from `last` up to one
  /// before `first`, modulo MAX.
  var headroom: UInt32 { (first &+ max &- last &- 1) % max }

  /// `coalesced_mmio_write`: appends the write unless the ring is full; false
  /// means the write exits to userspace instead.
  func write(_ entry: RingEntry) -> Bool {
    guard !isFull else { return false }
    let slot = page.advanced(by: CoalescedRing.headerSize + Int(last) * CoalescedRing.entrySize)
    slot.storeBytes(of: entry.address, toByteOffset: 0, as: UInt64.self)
    slot.storeBytes(of: entry.length, toByteOffset: 8, as: UInt32.self)
    slot.storeBytes(of: entry.space.pioFlag, toByteOffset: 12, as: UInt32.self)
    // The kernel copies only `len` bytes; the rest of `data` keeps what was there.
    withUnsafeBytes(of: entry.data.littleEndian) { bytes in
      for i in 0..<Int(entry.length) { slot.storeBytes(of: bytes[i], toByteOffset: 16 + i, as: UInt8.self) }
    }
    lastIndex.pointee.store((last + 1) % max, ordering: .releasing)
    return true
  }
}

/// A write the test "guest" makes: distinct data per sequence number, any length 1…8.
private func write(_ sequence: Int, seed: UInt64) -> RingEntry {
  let length = UInt32(sequence % 8 + 1)
  let data = maskToLength(seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(sequence), length)
  return RingEntry(
    address: seed &+ UInt64(sequence) &* 8, length: length, space: sequence % 3 == 0 ? .pio : .mmio, data: data)
}

/// Page sizes with different `KVM_COALESCED_MMIO_MAX`: 4 KiB (170), 16 KiB (682), 64 KiB (2730).
private let pageSizes = [4096, 16384, 65536]

@Suite("Ring index arithmetic: RingCursor against the kernel's rule")
struct RingProperties {
  @Test("for any start and any K, exactly K writes fit between drains, drained in order with their data")
  func exactlyKBetweenDrains() async throws {
    let setup = zip(Gen.int(in: 0...2), Gen<UInt32>.value(in: 0...UInt32.max), Gen<UInt32>.value(in: 0...UInt32.max))
    await propertyCheck(count: 300, input: setup, Gen.int(in: 1...4), Gen<UInt64>.value(in: .min ... .max)) {
      setup, rounds, seed in
      let kernel = KernelRing(pageSize: pageSizes[setup.0])
      let max = kernel.max
      let start = setup.1 % max
      let k = setup.2 % (max - 1) + 1
      kernel.ring.reset(to: start)
      var cursor = try RingCursor(ring: kernel.ring, ringSize: k)
      var sequence = 0
      for _ in 0..<rounds {
        // The headroom the reader left is K, and the kernel agrees at every step.
        #expect(kernel.headroom == k)
        #expect((kernel.first == kernel.last) == (k == max - 1))
        var accepted: [RingEntry] = []
        while true {
          let room = kernel.headroom
          let entry = write(sequence, seed: seed)
          let stored = kernel.write(entry)
          #expect(stored == (room > 0), "kernel full rule and headroom rule disagree at last=\(kernel.last)")
          guard stored else { break }
          accepted.append(entry)
          sequence += 1
        }
        #expect(accepted.count == Int(k), "start \(start), K \(k), MAX \(max)")
        #expect(kernel.isFull && kernel.headroom == 0)
        var drained: [RingEntry] = []
        let count = try cursor.drain { drained.append($0) }
        #expect(count == accepted.count)
        #expect(drained == accepted)
        #expect(cursor.position == kernel.last)
      }
    }
  }

  @Test("fewer than K writes are drained as they are, and the headroom returns to K")
  func partialRounds() async throws {
    let setup = zip(Gen.int(in: 0...2), Gen<UInt32>.value(in: 0...UInt32.max), Gen<UInt32>.value(in: 0...UInt32.max))
    let fills = Gen<UInt32>.value(in: 0...UInt32.max).array(of: 1...6)
    await propertyCheck(count: 300, input: setup, fills, Gen<UInt64>.value(in: .min ... .max)) { setup, fills, seed in
      let kernel = KernelRing(pageSize: pageSizes[setup.0])
      let max = kernel.max
      let start = setup.1 % max
      let k = setup.2 % (max - 1) + 1
      kernel.ring.reset(to: start)
      var cursor = try RingCursor(ring: kernel.ring, ringSize: k)
      var sequence = 0
      for fill in fills {
        let n = Int(fill % (k + 1))
        var accepted: [RingEntry] = []
        for _ in 0..<n {
          let entry = write(sequence, seed: seed)
          #expect(kernel.write(entry))
          accepted.append(entry)
          sequence += 1
        }
        #expect(kernel.headroom == k - UInt32(n))
        #expect(kernel.isFull == (n == Int(k)))
        var drained: [RingEntry] = []
        #expect(try cursor.drain { drained.append($0) } == n)
        #expect(drained == accepted)
        #expect(kernel.headroom == k)
      }
    }
  }

  @Test("every start index and every K on 4 KiB pages: exactly K, in order")
  func exhaustiveSmallPage() throws {
    let kernel = KernelRing(pageSize: 4096)
    let max = kernel.max
    #expect(max == 170)
    var failures = 0
    for start in 0..<max {
      for k in 1..<max {
        kernel.ring.reset(to: start)
        var cursor = try RingCursor(ring: kernel.ring, ringSize: k)
        var accepted = 0
        while kernel.write(write(accepted, seed: UInt64(start))) { accepted += 1 }
        var sequence = 0
        var inOrder = true
        try cursor.drain {
          inOrder = inOrder && $0 == write(sequence, seed: UInt64(start))
          sequence += 1
        }
        if accepted != Int(k) || sequence != accepted || !inOrder || kernel.headroom != k { failures += 1 }
      }
    }
    #expect(failures == 0)
  }

  @Test("pendingCount is the kernel's (last − first) mod MAX for any indexes below MAX")
  func pendingCount() async throws {
    await propertyCheck(
      input: Gen.int(in: 0...2), Gen<UInt32>.value(in: 0...UInt32.max), Gen<UInt32>.value(in: 0...UInt32.max)
    ) {
      size, a, b in
      let kernel = KernelRing(pageSize: pageSizes[size])
      let max = kernel.max
      kernel.ring.reset(to: a % max)
      for _ in 0..<(b % max) where !kernel.isFull { _ = kernel.write(write(0, seed: 0)) }
      let expected = (Int(kernel.last) - Int(kernel.first) + Int(max)) % Int(max)
      let pending = try kernel.ring.pendingCount()
      #expect(pending == UInt32(expected))
    }
  }
}
