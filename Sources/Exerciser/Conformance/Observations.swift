import Guest
import KVM

extension Conformance {
  /// `struct kvm_coalesced_mmio_ring` as it stood at one moment: both indexes and
  /// the entries between them, decoded, in ring order.
  public struct RingSnapshot: Sendable, Equatable {
    /// `KVM_COALESCED_MMIO_MAX`.
    public var capacity: UInt32
    public var first: UInt32
    public var last: UInt32
    /// The entries from `first` up to `last`.
    public var entries: [RingEntry]

    public init(capacity: UInt32, first: UInt32, last: UInt32, entries: [RingEntry]) {
      self.capacity = capacity
      self.first = first
      self.last = last
      self.entries = entries
    }

    /// Reads the ring without draining it: `first` and `last` stay as they are.
    public init(_ ring: CoalescedRing) throws(RingCorruption) {
      let first = try ring.loadFirst()
      let last = try ring.loadLast()
      let count = try ring.pendingCount()
      self.init(
        capacity: ring.capacity, first: first, last: last,
        entries: (0..<count).map { ring.entry(at: (first + $0) % ring.capacity) })
    }

    /// Entries pending, in the kernel's terms: `(last − first) mod MAX`.
    public var pending: UInt32 { (last &+ capacity &- first) % capacity }

    /// What the kernel's own test asserts at the exit: `(last + 1) % MAX == first`.
    public var isFullMinusOne: Bool { capacity > 0 && (last &+ 1) % capacity == first }
  }

  /// One start index of the ring sweep: the ring set to `first = last = startIndex`,
  /// an 8-byte zone registered, a guest loop writing until a write exits.
  public struct RingFillObservation: Sendable, Equatable {
    public var startIndex: UInt32
    /// The first exit of the run, before the ring was drained.
    public var exit: Event
    /// The ring at that exit, before draining.
    public var ring: RingSnapshot
    /// `KVM_UNREGISTER_COALESCED_MMIO` of the zone, made after the ring was drained.
    public var unregister: Outcome
    /// Everything seen from then to `hlt`: the next write should exit at once.
    public var afterUnregister: [Event]

    public init(startIndex: UInt32, exit: Event, ring: RingSnapshot, unregister: Outcome, afterUnregister: [Event]) {
      self.startIndex = startIndex
      self.exit = exit
      self.ring = ring
      self.unregister = unregister
      self.afterUnregister = afterUnregister
    }
  }

  /// The whole sweep of one space: the writes the guest loop makes and what each
  /// start index showed.
  public struct RingSweep: Sendable, Equatable {
    public var space: IOSpace
    /// `KVM_COALESCED_MMIO_MAX` for this page size.
    public var capacity: UInt32
    /// The loop's writes, in order: capacity + 1 of them (capacity − 1 to fill the
    /// ring, one that exits because it is full, one after unregister).
    public var writes: [ExpectedWrite]
    public var starts: [RingFillObservation]

    public init(space: IOSpace, capacity: UInt32, writes: [ExpectedWrite], starts: [RingFillObservation]) {
      self.space = space
      self.capacity = capacity
      self.writes = writes
      self.starts = starts
    }

    /// Entries the kernel may hold: one slot always stays empty.
    public var usable: Int { Int(capacity) - 1 }
  }

  /// Guest writes or reads aimed at zones, and what was seen of them.
  public struct ProbeObservation: Sendable, Equatable {
    /// The zones registered, each with what `KVM_REGISTER_COALESCED_MMIO` answered.
    public var registrations: [(zone: CoalescedZone, outcome: Outcome)]
    /// What the guest saw, from its start to `hlt`.
    public var events: [Event]

    public init(registrations: [(zone: CoalescedZone, outcome: Outcome)], events: [Event]) {
      self.registrations = registrations
      self.events = events
    }

    public static func == (lhs: ProbeObservation, rhs: ProbeObservation) -> Bool {
      lhs.events == rhs.events && lhs.registrations.map(\.zone) == rhs.registrations.map(\.zone)
        && lhs.registrations.map(\.outcome) == rhs.registrations.map(\.outcome)
    }
  }

  /// How an unregister range relates to the zone it is tried on.
  public enum RangeRelation: String, Sendable, CaseIterable {
    /// Fully inside the zone: the kernel removes the zone.
    case subrange
    /// Overlapping the zone's second half and past its end: nothing is removed.
    case partial
    /// Covering the zone and more on both sides: nothing is removed.
    case superset

    /// Whether mainline removes the zone for this range (`kvm_vm_ioctl_unregister_coalesced_mmio`
    /// removes zones that contain the range, never zones the range contains or overlaps).
    public var removesZone: Bool { self == .subrange }

    /// The range for `zone`.
    public func range(for zone: CoalescedZone) -> CoalescedZone {
      let size = UInt64(zone.size)
      switch self {
      case .subrange: return CoalescedZone(address: zone.address + size / 4, size: zone.size / 4, space: zone.space)
      case .partial: return CoalescedZone(address: zone.address + size / 2, size: zone.size, space: zone.space)
      case .superset: return CoalescedZone(address: zone.address - size, size: zone.size * 3, space: zone.space)
      }
    }
  }

  /// A zone, probes into it, an unregister of `range`, and the same probes again.
  public struct UnregisterObservation: Sendable, Equatable {
    public var relation: RangeRelation
    public var zone: CoalescedZone
    public var range: CoalescedZone
    /// One-byte writes at the zone's first and last byte.
    public var probes: [ExpectedWrite]
    public var register: Outcome
    /// The probes before the unregister (a live zone coalesces them).
    public var before: [Event]
    public var unregister: Outcome
    public var after: [Event]

    public init(
      relation: RangeRelation, zone: CoalescedZone, range: CoalescedZone, probes: [ExpectedWrite], register: Outcome,
      before: [Event], unregister: Outcome, after: [Event]
    ) {
      self.relation = relation
      self.zone = zone
      self.range = range
      self.probes = probes
      self.register = register
      self.before = before
      self.unregister = unregister
      self.after = after
    }
  }

  /// `KVM_REGISTER_COALESCED_MMIO` with each `pio` value tried.
  public struct PIOFlagObservation: Sendable, Equatable {
    public var attempts: [(flag: UInt32, outcome: Outcome)]

    public init(attempts: [(flag: UInt32, outcome: Outcome)]) { self.attempts = attempts }

    public static func == (lhs: PIOFlagObservation, rhs: PIOFlagObservation) -> Bool {
      lhs.attempts.map(\.flag) == rhs.attempts.map(\.flag) && lhs.attempts.map(\.outcome) == rhs.attempts.map(\.outcome)
    }
  }
}
