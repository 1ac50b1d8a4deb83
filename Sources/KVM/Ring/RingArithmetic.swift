import Synchronization

/// The test `coalesced_mmio_has_room()` makes before the kernel appends a write to the ring.
///
/// Kernels before 6.12 computed `avail = (ring->first - last - 1) % KVM_COALESCED_MMIO_MAX` in
/// `unsigned` arithmetic and called the ring full when `avail == 0`. While `first > last` that is
/// right; while `first <= last` the subtraction wraps at 2^32, and since 2^32 is not a multiple
/// of MAX (2^32 mod 170 = 86) the ring is called full when `last - first == 2^32 mod MAX - 1`
/// (85 with 4 KiB pages) and not full when it really is. Commit 92f6d4130497 (6.12) made it
/// `(last + 1) % MAX != first`. Both are modelled here exactly, for any MAX.
public enum HasRoomArithmetic: String, Sendable, Hashable, CaseIterable {
  /// 6.12 and later: full iff `(last + 1) % MAX == first`.
  case fixed = "6.12+"
  /// Before 6.12: full iff `(UInt32(first − last − 1) % MAX) == 0`.
  case pre612 = "pre-6.12"

  /// The commit that fixed the pre-6.12 arithmetic.
  public static let fixCommit = "92f6d4130497"

  /// Whether the kernel appends one more write with the ring at (`first`, `last`).
  @inline(__always)
  public func hasRoom(first: UInt32, last: UInt32, slots: UInt32) -> Bool {
    guard last < slots else { return false }  // the kernel refuses `last >= MAX` outright
    switch self {
    case .fixed: return (last &+ 1) % slots != first
    case .pre612: return (first &- last &- 1) % slots != 0
    }
  }

  /// Writes the kernel coalesces from (`first`, `last`) before one exits, with nobody
  /// draining: the kernel's loop of has-room test and `last = (last + 1) % MAX`, simulated.
  /// Never MAX or more for either arithmetic (checked by the tests): neither overruns the ring.
  public func accepted(first: UInt32, last: UInt32, slots: UInt32) -> Int {
    var last = last
    var count = 0
    while count <= Int(slots) && hasRoom(first: first, last: last, slots: slots) {
      last = last &+ 1 == slots ? 0 : last &+ 1
      count += 1
    }
    return count
  }

  /// The arithmetic that predicts every measured fill (entries coalesced from
  /// `first = last = start` before a write exited), or nil when neither does.
  public static func identify(_ fill: RingFill) -> HasRoomArithmetic? {
    guard !fill.starts.isEmpty else { return nil }
    return allCases.first { arithmetic in
      fill.starts.indices.allSatisfy { index in
        arithmetic.accepted(first: fill.starts[index], last: fill.starts[index], slots: fill.slots)
          == fill.counts[index]
      }
    }
  }
}

/// The ring's measured capacity: for each start index tried, how many writes the kernel
/// coalesced into an empty ring (`first = last = start`) before one exited. `cmmio verify`'s
/// `capacity` check and `cmmio bench`'s probe both produce one and read it the same way.
public struct RingFill: Sendable, Equatable {
  /// `KVM_COALESCED_MMIO_MAX`.
  public var slots: UInt32
  public var starts: [UInt32]
  /// Per start index: entries coalesced before the first exit.
  public var counts: [Int]

  public init(slots: UInt32, starts: [UInt32], counts: [Int]) {
    precondition(starts.count == counts.count, "one count per start index")
    self.slots = slots
    self.starts = starts
    self.counts = counts
  }

  /// Entries the ring can hold: one slot always stays empty.
  public var usable: Int { Int(slots) - 1 }
  /// The arithmetic the measurements show, or nil when neither predicts them.
  public var arithmetic: HasRoomArithmetic? { HasRoomArithmetic.identify(self) }
  /// Entries coalesced from start index 0, if it was tried.
  public var fromZero: Int? { starts.firstIndex(of: 0).map { counts[$0] } }

  /// "85 to 169" or "169".
  public var range: String {
    let low = counts.min() ?? 0
    let high = counts.max() ?? 0
    return low == high ? "\(low)" : "\(low) to \(high)"
  }

  /// One sentence: what was measured and which arithmetic it shows.
  public var summary: String {
    let place =
      starts.count == Int(slots)
      ? "every start index" : "start indexes \(starts.map(String.init).joined(separator: ", "))"
    var text =
      "\(range) entries coalesced before the exit from an empty ring at \(place) (\(usable) usable of \(slots) slots)"
    switch arithmetic {
    case .fixed?: text += ": the 6.12+ has-room arithmetic"
    case .pre612?:
      text +=
        ": exactly the pre-6.12 has-room arithmetic of coalesced_mmio_has_room(), the half-ring bug "
        + "(fixed by commit \(HasRoomArithmetic.fixCommit))"
    case nil: text += ": neither the 6.12+ nor the pre-6.12 has-room arithmetic predicts this"
    }
    return text
  }
}

/// For each ring position and ring size K, the `first` userspace publishes after a drain so
/// that the kernel, with `arithmetic`, coalesces exactly K more writes before one exits; where
/// no `first` gives exactly K, the one giving the most writes below K (never more: the ring
/// modelled is at most K). Built once (MAX² simulations), then O(1) per drain.
public final class RingGrantTable: Sendable {
  public let arithmetic: HasRoomArithmetic
  public let slots: UInt32
  /// [last · MAX + K] → (first, slots the kernel will take), K in 0..<MAX.
  private let firsts: [UInt16]
  private let grants: [UInt16]
  /// Per K: whether K is granted exactly from every position.
  private let exactEverywhere: [Bool]

  public init(arithmetic: HasRoomArithmetic, slots: UInt32) {
    precondition(slots >= 2 && slots <= UInt32(UInt16.max), "MAX must be 2…65535")
    self.arithmetic = arithmetic
    self.slots = slots
    let size = Int(slots)
    var firsts = [UInt16](repeating: 0, count: size * size)
    var grants = [UInt16](repeating: 0, count: size * size)
    var exact = [Bool](repeating: true, count: size)
    var byCount = [Int](repeating: -1, count: size)
    for last in 0..<size {
      for index in byCount.indices { byCount[index] = -1 }
      // Prefer the textbook first = (last + K + 1) % MAX: scan from last + 1 onwards.
      for step in 1...size {
        let first = (last + step) % size
        let count = arithmetic.accepted(first: UInt32(first), last: UInt32(last), slots: slots)
        if count < size && byCount[count] < 0 { byCount[count] = first }
      }
      var best = -1
      for k in 0..<size {
        if byCount[k] >= 0 { best = k } else { exact[k] = false }
        let row = last * size + k
        grants[row] = UInt16(max(best, 0))
        firsts[row] = UInt16(best >= 0 ? byCount[best] : last)
      }
    }
    self.firsts = firsts
    self.grants = grants
    self.exactEverywhere = exact
  }

  /// The `first` to publish after a drain that left the kernel at `last`, and the writes the
  /// kernel will then coalesce before one exits (K, or fewer where K cannot be granted).
  @inline(__always)
  public func grant(last: UInt32, ringSize: UInt32) -> (first: UInt32, slots: UInt32) {
    let row = Int(last) &* Int(slots) &+ Int(ringSize)
    return (UInt32(firsts[row]), UInt32(grants[row]))
  }

  /// Whether ring size K is granted exactly from every position of the ring.
  public func isExactEverywhere(_ ringSize: UInt32) -> Bool {
    ringSize < slots && exactEverywhere[Int(ringSize)]
  }

  /// The largest K granted exactly from every position (MAX − 1 with the fixed arithmetic).
  public var largestExactEverywhere: UInt32 {
    UInt32(exactEverywhere.lastIndex(of: true) ?? 0)
  }

  /// Positions from which K cannot be granted exactly.
  public func inexactPositions(_ ringSize: UInt32) -> Int {
    (0..<slots).filter { grant(last: $0, ringSize: ringSize).slots != ringSize }.count
  }

  /// One table per (arithmetic, MAX), built on first use.
  public static func shared(_ arithmetic: HasRoomArithmetic, slots: UInt32) -> RingGrantTable {
    cache.withLock { tables in
      if let table = tables[Key(arithmetic: arithmetic, slots: slots)] { return table }
      let table = RingGrantTable(arithmetic: arithmetic, slots: slots)
      tables[Key(arithmetic: arithmetic, slots: slots)] = table
      return table
    }
  }

  private struct Key: Hashable {
    var arithmetic: HasRoomArithmetic
    var slots: UInt32
  }
  private static let cache = Mutex<[Key: RingGrantTable]>([:])
}
