import KVM
import Synchronization
import Testing

/// `KVM_COALESCED_MMIO_MAX` with 4 KiB pages.
private let max4K = CoalescedRing.capacity(pageSize: 4096)

/// The C expressions themselves, written out independently of `HasRoomArithmetic`:
/// 6.12+ `(last + 1) % MAX != first`; pre-6.12 `(ring->first - last - 1) % MAX != 0` with
/// `unsigned avail` (the subtraction wraps at 2^32, done here in 64 bits).
private func cHasRoom(_ arithmetic: HasRoomArithmetic, first: UInt32, last: UInt32, slots: UInt32) -> Bool {
  if last >= slots { return false }
  switch arithmetic {
  case .fixed: return (UInt64(last) + 1) % UInt64(slots) != UInt64(first)
  case .pre612:
    let wrapped = (UInt64(first) + (1 << 32) - UInt64(last) - 1) % (1 << 32)
    return wrapped % UInt64(slots) != 0
  }
}

@Suite("Has-room arithmetic: the model of coalesced_mmio_has_room(), exhaustively")
struct HasRoomProperties {
  @Test("hasRoom equals the kernel's C expression at every (first, last), both arithmetics, three page sizes")
  func matchesC() {
    for pageSize in [4096, 16384, 65536] {
      let slots = CoalescedRing.capacity(pageSize: pageSize)
      // 4 KiB exhaustively; larger rings on a grid that includes both ends and the wrap point.
      let step = pageSize == 4096 ? UInt32(1) : 7
      for arithmetic in HasRoomArithmetic.allCases {
        for first in stride(from: UInt32(0), to: slots, by: Int(step)) {
          for last in stride(from: UInt32(0), to: slots, by: Int(step)) {
            #expect(
              arithmetic.hasRoom(first: first, last: last, slots: slots)
                == cHasRoom(arithmetic, first: first, last: last, slots: slots))
          }
          #expect(!arithmetic.hasRoom(first: first, last: slots, slots: slots), "last >= MAX is refused")
        }
      }
    }
  }

  @Test("pre-6.12 with MAX = 170: full iff last == first − 1 (first > last) or last − first == 85 (first <= last)")
  func pre612Characterised() {
    #expect((UInt64(1) << 32) % UInt64(max4K) == 86)
    for first in 0..<max4K {
      for last in 0..<max4K {
        let full = first > last ? last == first - 1 : last - first == 85
        #expect(HasRoomArithmetic.pre612.hasRoom(first: first, last: last, slots: max4K) == !full)
        #expect(
          HasRoomArithmetic.fixed.hasRoom(first: first, last: last, slots: max4K) == ((last + 1) % max4K != first))
      }
    }
  }

  @Test("from any (first, last) the kernel never takes MAX or more: neither arithmetic overruns the ring")
  func neverOverruns() {
    for arithmetic in HasRoomArithmetic.allCases {
      for first in 0..<max4K {
        for last in 0..<max4K {
          #expect(arithmetic.accepted(first: first, last: last, slots: max4K) < Int(max4K))
        }
      }
    }
  }

  @Test("from an empty ring at start s: 169 (6.12+); 85 for s ≤ 84 and 169 for s ≥ 85 (pre-6.12, as 6.1 measured)")
  func emptyRingFills() {
    for start in 0..<max4K {
      #expect(HasRoomArithmetic.fixed.accepted(first: start, last: start, slots: max4K) == 169)
      #expect(HasRoomArithmetic.pre612.accepted(first: start, last: start, slots: max4K) == (start <= 84 ? 85 : 169))
    }
  }

  @Test("identify: the arithmetic whose prediction matches every fill, nil for fills neither predicts")
  func identify() {
    let starts: [UInt32] = [0, 84, 85, 169]
    #expect(RingFill(slots: max4K, starts: starts, counts: [169, 169, 169, 169]).arithmetic == .fixed)
    #expect(RingFill(slots: max4K, starts: starts, counts: [85, 85, 169, 169]).arithmetic == .pre612)
    #expect(RingFill(slots: max4K, starts: starts, counts: [85, 85, 85, 85]).arithmetic == nil)
    #expect(RingFill(slots: max4K, starts: [], counts: []).arithmetic == nil)
    #expect(RingFill(slots: max4K, starts: starts, counts: [85, 85, 169, 169]).summary.contains("92f6d4130497"))
  }
}

@Suite("Ring grant table: the first that makes the kernel take exactly K, all positions, all K")
struct RingGrantTableProperties {
  /// Every count some `first` achieves from `last`, by brute force.
  private func achievable(_ arithmetic: HasRoomArithmetic, last: UInt32) -> Set<Int> {
    Set((0..<max4K).map { arithmetic.accepted(first: $0, last: last, slots: max4K) })
  }

  @Test("the table's promise is what the kernel model takes, never more than K, exactly K wherever any first gives K")
  func promisesHold() {
    for arithmetic in HasRoomArithmetic.allCases {
      let table = RingGrantTable(arithmetic: arithmetic, slots: max4K)
      for last in 0..<max4K {
        let reachable = achievable(arithmetic, last: last)
        for k in UInt32(1)..<max4K {
          let grant = table.grant(last: last, ringSize: k)
          #expect(arithmetic.accepted(first: grant.first, last: last, slots: max4K) == Int(grant.slots))
          #expect(grant.slots <= k)
          let best = reachable.filter { $0 <= Int(k) }.max() ?? 0
          #expect(Int(grant.slots) == best, "\(arithmetic) last \(last) K \(k)")
        }
      }
    }
  }

  @Test("6.12+: exactly K from every position, at first = (last + K + 1) % MAX (the cursor's closed form)")
  func fixedIsTextbook() {
    let table = RingGrantTable(arithmetic: .fixed, slots: max4K)
    for last in 0..<max4K {
      for k in UInt32(1)..<max4K {
        let grant = table.grant(last: last, ringSize: k)
        #expect(grant.slots == k)
        #expect(grant.first == (last + k + 1) % max4K)
      }
    }
    #expect(table.largestExactEverywhere == 169)
  }

  @Test("pre-6.12: exact from every position for K ≤ 83 only; 84 and 85 fail from 84 positions, 169 from 85")
  func pre612Limits() {
    let table = RingGrantTable(arithmetic: .pre612, slots: max4K)
    #expect(table.largestExactEverywhere == 83)
    for k in UInt32(1)...83 { #expect(table.isExactEverywhere(k)) }
    for k in UInt32(84)...169 { #expect(!table.isExactEverywhere(k)) }
    #expect(table.inexactPositions(84) == 84)
    #expect(table.inexactPositions(85) == 84)
    #expect(table.inexactPositions(169) == 85)
    // From positions ≤ 84 the pre-6.12 kernel takes at most max(168 − last, 85).
    for last in UInt32(0)...84 {
      #expect(table.grant(last: last, ringSize: 169).slots == max(168 - last, 85))
    }
  }

  @Test("the textbook first on a pre-6.12 kernel: wrong for every K from some position (the 6.1 bench defect)")
  func textbookFirstIsWrongOnPre612() {
    var wrongK = 0
    for k in UInt32(1)..<max4K {
      let wrong = (0..<max4K).contains { last in
        HasRoomArithmetic.pre612.accepted(first: (last + k + 1) % max4K, last: last, slots: max4K) != Int(k)
      }
      if wrong { wrongK += 1 }
    }
    #expect(wrongK == 169)
    // K = 1 from last = 168 publishes first = 0, and the kernel takes 87; K = 84 from 86 gives 0.
    #expect(HasRoomArithmetic.pre612.accepted(first: 0, last: 168, slots: max4K) == 87)
    #expect(HasRoomArithmetic.pre612.accepted(first: 1, last: 86, slots: max4K) == 0)
  }
}

/// A ring page owned by the test and a simulated kernel that appends with a given has-room
/// arithmetic. A test double of the kernel: this host runs 6.18 (fixed arithmetic) only, so the
/// pre-6.12 arithmetic can be driven here only through this simulation (the lab runs 6.1 itself).
private final class SimulatedKernel {
  let page: UnsafeMutableRawPointer
  let ring: CoalescedRing
  let arithmetic: HasRoomArithmetic

  init(arithmetic: HasRoomArithmetic) {
    self.arithmetic = arithmetic
    page = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
    page.initializeMemory(as: UInt8.self, repeating: 0, count: 4096)
    ring = CoalescedRing(page: page, pageSize: 4096)
  }

  deinit { page.deallocate() }

  private var lastIndex: UnsafeMutablePointer<Atomic<UInt32>> {
    page.advanced(by: 4).assumingMemoryBound(to: Atomic<UInt32>.self)
  }

  /// Appends writes carrying `next`, `next + 1`, … until the has-room test refuses one; returns how many.
  func fill(from next: inout UInt64) -> Int {
    var count = 0
    while true {
      let first = page.assumingMemoryBound(to: Atomic<UInt32>.self).pointee.load(ordering: .acquiring)
      let last = lastIndex.pointee.load(ordering: .relaxed)
      guard arithmetic.hasRoom(first: first, last: last, slots: ring.capacity) else { return count }
      let slot = page.advanced(by: CoalescedRing.headerSize + Int(last) * CoalescedRing.entrySize)
      slot.storeBytes(of: UInt64(0x10_0000), toByteOffset: 0, as: UInt64.self)
      slot.storeBytes(of: UInt32(8), toByteOffset: 8, as: UInt32.self)
      slot.storeBytes(of: UInt32(0), toByteOffset: 12, as: UInt32.self)
      slot.storeBytes(of: next, toByteOffset: 16, as: UInt64.self)
      next += 1
      lastIndex.pointee.store((last + 1) % ring.capacity, ordering: .releasing)
      count += 1
    }
  }
}

@Suite("RingCursor against a simulated kernel of each arithmetic, every start and every K")
struct RingCursorArithmeticProperties {
  @Test("the kernel takes exactly what the cursor granted at every drain, and every entry is read in order")
  func grantsHold() throws {
    for arithmetic in HasRoomArithmetic.allCases {
      let table = RingGrantTable.shared(arithmetic, slots: max4K)
      for start in stride(from: UInt32(0), to: max4K, by: 13) {
        for k in UInt32(1)..<max4K {
          let kernel = SimulatedKernel(arithmetic: arithmetic)
          kernel.ring.reset(to: start)
          var cursor = try RingCursor(ring: kernel.ring, ringSize: k, arithmetic: arithmetic)
          var written: UInt64 = 1
          var read: UInt64 = 1
          for _ in 0..<6 {
            let promised = cursor.granted
            let taken = kernel.fill(from: &written)
            #expect(taken == Int(promised), "\(arithmetic) start \(start) K \(k)")
            if table.isExactEverywhere(k) { #expect(promised == k) }
            #expect(promised <= k)
            try cursor.drain { entry in
              #expect(entry.data == read)
              read += 1
            }
          }
          #expect(read == written)
        }
      }
    }
  }

  @Test("the 6.12+ model on a pre-6.12 kernel is caught: some drain takes other than it granted")
  func wrongModelCaught() throws {
    let kernel = SimulatedKernel(arithmetic: .pre612)
    kernel.ring.reset(to: 0)
    var cursor = try RingCursor(ring: kernel.ring, ringSize: 1, arithmetic: .fixed)
    var written: UInt64 = 1
    var mismatches = 0
    for _ in 0..<400 {
      if kernel.fill(from: &written) != Int(cursor.granted) { mismatches += 1 }
      try cursor.drain { _ in }
    }
    #expect(mismatches > 0)
  }
}
