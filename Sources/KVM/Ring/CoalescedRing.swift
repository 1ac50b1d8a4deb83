import Synchronization

/// The ring's indexes were not what the kernel can produce: never read past them.
public struct RingCorruption: Error, Sendable, Equatable, CustomStringConvertible {
  /// Which index (`first` or `last`) was out of range.
  public var index: String
  public var value: UInt32
  public var capacity: UInt32

  public var description: String {
    "coalesced ring corrupt: \(index) = \(value) is not below KVM_COALESCED_MMIO_MAX = \(capacity)"
  }
}

/// A view of `struct kvm_coalesced_mmio_ring`: `{ __u32 first, last; struct kvm_coalesced_mmio coalesced_mmio[]; }`.
///
/// The kernel owns `last` and fills entries; userspace owns `first`. `last` is
/// loaded with acquire ordering (pairs with the kernel's `smp_wmb` before it
/// publishes), `first` is stored with release ordering after the entries are read.
/// The ring is shared by every vCPU of a VM: callers serialize drains.
public struct CoalescedRing: @unchecked Sendable {
  /// `KVM_COALESCED_MMIO_MAX`: (page size − 8) / 24 slots; one always stays empty.
  public let capacity: UInt32
  private let first: UnsafePointer<Atomic<UInt32>>
  private let last: UnsafePointer<Atomic<UInt32>>
  private let entries: UnsafeRawPointer

  /// Size of `struct kvm_coalesced_mmio`.
  public static let entrySize = 24
  /// Size of the two indexes before the entries.
  public static let headerSize = 8

  /// `KVM_COALESCED_MMIO_MAX` for a page size (the C macro does not import).
  public static func capacity(pageSize: Int) -> UInt32 {
    UInt32((pageSize - headerSize) / entrySize)
  }

  /// A view over one ring page: the vCPU mapping's, or memory a test controls.
  public init(page: UnsafeMutableRawPointer, pageSize: Int) {
    capacity = Self.capacity(pageSize: pageSize)
    first = UnsafePointer(page.assumingMemoryBound(to: Atomic<UInt32>.self))
    last = UnsafePointer(page.advanced(by: 4).assumingMemoryBound(to: Atomic<UInt32>.self))
    entries = UnsafeRawPointer(page.advanced(by: Self.headerSize))
  }

  /// Entries the kernel can hold before a write exits: capacity − 1.
  public var usableEntries: UInt32 { capacity - 1 }

  /// `last`, loaded with acquire ordering; throws if out of range.
  @inline(__always)
  public func loadLast() throws(RingCorruption) -> UInt32 {
    let value = last.pointee.load(ordering: .acquiring)
    guard value < capacity else { throw RingCorruption(index: "last", value: value, capacity: capacity) }
    return value
  }

  /// `first`, as userspace last published it; throws if out of range.
  public func loadFirst() throws(RingCorruption) -> UInt32 {
    let value = first.pointee.load(ordering: .acquiring)
    guard value < capacity else { throw RingCorruption(index: "first", value: value, capacity: capacity) }
    return value
  }

  /// Publishes `first` with release ordering, handing slots back to the kernel.
  @inline(__always)
  public func storeFirst(_ value: UInt32) {
    precondition(value < capacity, "first must be below KVM_COALESCED_MMIO_MAX")
    first.pointee.store(value, ordering: .releasing)
  }

  /// Sets both indexes, as the kernel selftest does to start the ring at any index.
  /// Only valid while no vCPU runs.
  public func reset(to index: UInt32) {
    precondition(index < capacity, "index must be below KVM_COALESCED_MMIO_MAX")
    last.pointee.store(index, ordering: .relaxed)
    first.pointee.store(index, ordering: .releasing)
  }

  /// Decodes the entry at `index` (which the caller knows to be below `capacity`).
  @inline(__always)
  public func entry(at index: UInt32) -> RingEntry {
    let base = entries.advanced(by: Int(index) * Self.entrySize)
    let length = base.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
    let pio = base.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
    let data = base.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
    return RingEntry(
      address: base.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
      length: length,
      space: pio != 0 ? .pio : .mmio,
      data: maskToLength(UInt64(littleEndian: data), length))
  }

  /// Entries between `first` and `last`, in the kernel's own terms.
  public func pendingCount() throws(RingCorruption) -> UInt32 {
    let last = try loadLast()
    let first = try loadFirst()
    return (last &+ capacity &- first) % capacity
  }
}

/// A reader of the ring that keeps its own position, so it can also model a
/// smaller ring: after each drain it leaves exactly `ringSize` free slots.
///
/// With the 6.12+ has-room arithmetic that is `first = (last + K + 1) % MAX` (see
/// docs/bench.md, "Ring size on every kernel"). With the pre-6.12 arithmetic that `first` can let the kernel take
/// far more or fewer than K once the free region wraps past the ring's end, so the cursor
/// looks `first` up in a `RingGrantTable` built for that arithmetic: exactly K where some
/// `first` gives K, else the most below K. `granted` says what the latest publish promised,
/// so a caller can check the kernel against the model at every drain.
public struct RingCursor: Sendable {
  public let ring: CoalescedRing
  /// Entries the kernel may coalesce between drains: K, 1…usable capacity.
  public let ringSize: UInt32
  /// The has-room arithmetic the cursor models.
  public let arithmetic: HasRoomArithmetic
  /// The next entry to read.
  public private(set) var position: UInt32
  /// Writes the kernel will coalesce after the latest publish before one exits, per the
  /// model: `ringSize`, or fewer where the arithmetic cannot grant exactly that.
  public private(set) var granted: UInt32 = 0
  private let table: RingGrantTable?

  /// Starts at the ring's current `last` (nothing pending is assumed).
  public init(ring: CoalescedRing, ringSize: UInt32? = nil, arithmetic: HasRoomArithmetic = .fixed)
    throws(RingCorruption)
  {
    let size = ringSize ?? ring.usableEntries
    precondition(size >= 1 && size <= ring.usableEntries, "ring size must be 1…capacity−1")
    self.ring = ring
    self.ringSize = size
    self.arithmetic = arithmetic
    // The fixed arithmetic needs no table: first = (last + K + 1) % MAX is exact (tested).
    self.table = arithmetic == .fixed ? nil : RingGrantTable.shared(arithmetic, slots: ring.capacity)
    self.position = try ring.loadLast()
    publish(after: position)
  }

  /// Reads every entry the kernel published since the last drain, in order, then
  /// hands `ringSize` slots back. Returns how many entries were read.
  @inline(__always)
  @discardableResult
  public mutating func drain(_ body: (RingEntry) -> Void) throws(RingCorruption) -> Int {
    let last = try ring.loadLast()
    var count = 0
    while position != last {
      body(ring.entry(at: position))
      position = position &+ 1 == ring.capacity ? 0 : position &+ 1
      count &+= 1
    }
    publish(after: last)
    return count
  }

  @inline(__always)
  private mutating func publish(after last: UInt32) {
    if let table {
      let grant = table.grant(last: last, ringSize: ringSize)
      granted = grant.slots
      ring.storeFirst(grant.first)
    } else {
      granted = ringSize
      ring.storeFirst((last &+ ringSize &+ 1) % ring.capacity)
    }
  }
}
