import KVM

/// The one place the VM's ring is read and the writes are checked, serialized.
///
/// The ring page is shared by every vCPU of the VM (docs: "Serialize drains"), and
/// with the `thread` strategy a drainer thread reads it too. Every reader goes
/// through one lock, which also guards the per-vCPU expectations: a vCPU thread that
/// exits with a write drains first and checks its exit's write in the same critical
/// section, so the coalesced writes before it are always checked before it, whoever
/// drained them.
final class DrainCoordinator: @unchecked Sendable {
  private struct Book: @unchecked Sendable {
    var cursor: RingCursor?
    var verifier: WriteVerifier
    var ringEntries = 0
    var corruption: RingCorruption?
    var grants = GrantTally()
  }

  private let book: PthreadLocked<Book>
  private let storage: UnsafeMutablePointer<UInt64>
  private let ring: CoalescedRing?
  private let ringSize: UInt32?
  private let arithmetic: HasRoomArithmetic
  /// One vCPU draining only at its own exits: a write exit then means the kernel refused a
  /// write because the ring was full, so the drain must find exactly what was granted.
  private let exactFill: Bool
  /// The vCPU thread is the only one that touches the book during a run (one vCPU, no
  /// drainer thread), so its drains at exits skip the lock (`PthreadLocked.with(locking:)`).
  private let solo: Bool
  /// Tests only (`BenchEngine.ringSizeSkew`): the cursor grants K + skew, the checks hold it to K.
  private let ringSizeSkew: Int32
  /// The stamped run's: times each ring entry as it is read (nil in timed runs).
  private let delays: DelayRecorder?

  /// `ring` nil (no zone) checks exits only; `ringSize` is K (nil: the usable capacity);
  /// `arithmetic` is the kernel's has-room test the cursor models; `solo`: one vCPU thread
  /// and no drainer thread read during a run.
  init(
    ring: CoalescedRing?, ringSize: UInt32?, arithmetic: HasRoomArithmetic, exactFill: Bool, solo: Bool,
    ringSizeSkew: Int32 = 0, base: UInt64, stride: UInt64, vcpus: Int, space: IOSpace, firstValue: UInt64,
    expectsWrites: Bool, enabled: Bool, stamped: Bool = false
  ) {
    // Two words per vCPU: the stamped verifier keeps each vCPU's last stamp too.
    storage = .allocate(capacity: 2 * max(vcpus, 1))
    let delays = stamped && ring != nil ? DelayRecorder() : nil
    self.delays = delays
    self.ring = ring
    self.ringSize = ringSize
    self.arithmetic = arithmetic
    self.exactFill = exactFill
    self.solo = solo
    self.ringSizeSkew = ringSizeSkew
    let verifier = WriteVerifier(
      base: base, stride: stride, vcpus: vcpus, space: space, length: 4, firstValue: firstValue,
      expectsWrites: expectsWrites, enabled: enabled, stamped: stamped, steps: delays, storage: storage)
    book = PthreadLocked(Book(cursor: nil, verifier: verifier))
  }

  deinit { storage.deallocate() }

  /// Before a run (no vCPU running): a cursor at the ring's `last` that leaves K free
  /// slots, and fresh expectations. `clockOffset`: the stamped run's guest − host TSC offset.
  func prepareRun(clockOffset: Int64 = 0) throws(RingCorruption) {
    delays?.restart(offset: clockOffset)
    let arithmetic = self.arithmetic
    let skew = ringSizeSkew
    let cursor = try ring.map { ring throws(RingCorruption) in
      let asked = Int64(ringSize ?? ring.usableEntries)
      let granted = skew == 0 ? asked : min(max(asked + Int64(skew), 1), Int64(ring.usableEntries))
      return try RingCursor(ring: ring, ringSize: UInt32(granted), arithmetic: arithmetic)
    }
    book.withLock { book in
      book.cursor = cursor
      book.verifier.restart()
      book.ringEntries = 0
      book.corruption = nil
      book.grants = GrantTally(initial: cursor.map { UInt32(Int64($0.granted) - Int64(skew)) })
    }
  }

  /// Drains whatever the kernel published (the drainer thread's call). Returns the entries read.
  @inline(__always)
  func drain() -> Int {
    let skew = ringSizeSkew
    let delays = self.delays
    return book.withLock { book in
      Self.drainLocked(&book, at: .drainer, exactFill: false, skew: skew, delays: delays)
    }
  }

  /// At an exit to userspace: drains, then checks the write that exited, if it was one.
  @inline(__always)
  func drainAtExit(address: UInt64, length: UInt32, space: IOSpace, data: UInt64, isWrite: Bool) {
    let exactFill = self.exactFill
    let skew = ringSizeSkew
    let delays = self.delays
    book.with(locking: !solo) { book in
      _ = Self.drainLocked(
        &book, at: isWrite ? .writeExit : .otherExit, exactFill: exactFill, skew: skew, delays: delays)
      if isWrite { book.verifier.observe(address: address, length: length, space: space, data: data) }
    }
  }

  /// At `hlt` or any exit that carries no write (a doorbell read): drains only.
  @inline(__always)
  func drainAtExit(halted: Bool = false) {
    let skew = ringSizeSkew
    let delays = self.delays
    book.with(locking: !solo) { book in
      _ = Self.drainLocked(&book, at: halted ? .halt : .otherExit, exactFill: false, skew: skew, delays: delays)
    }
  }

  @inline(__always)
  private static func drainLocked(
    _ book: inout Book, at moment: DrainMoment, exactFill: Bool, skew: Int32, delays: DelayRecorder?
  ) -> Int {
    guard var cursor = book.cursor, book.corruption == nil else { return 0 }
    // Work on copies (a cursor and a pointer-backed verifier are a few words each) so the
    // closure does not capture `book` while `book.cursor` is being mutated.
    var verifier = book.verifier
    defer {
      book.cursor = cursor
      book.verifier = verifier
    }
    do {
      // What the model says the kernel may take (the grant itself, unless a test skews it).
      let promised = skew == 0 ? cursor.granted : UInt32(max(Int64(cursor.granted) - Int64(skew), 0))
      let position = cursor.position
      let count = try cursor.drain { entry in
        // The stamped run: the moment this entry is read, against the guest's stamp in it.
        delays?.record(stamp: entry.data)
        verifier.observe(entry)
      }
      book.ringEntries &+= count
      book.grants.record(
        read: count, promised: promised, from: position, at: moment, exactFill: exactFill)
      return count
    } catch {
      book.corruption = error
      return 0
    }
  }

  /// A mismatch found outside the ring and exits (the `ram` floor's final store).
  func recordMismatch() {
    book.withLock { $0.verifier.recordMismatch() }
  }

  /// The stamped run's waits (cycles), and the entries read before their stamp: after every guest halted.
  func delaySnapshot() -> (cycles: RunLatency, steps: RunLatency, early: Int, earliest: UInt64)? {
    guard let delays else { return nil }
    return book.withLock { _ in (delays.cycles, delays.steps, delays.early, delays.earliest) }
  }

  /// After every guest halted: the run's verification, ring entries and grants, or the corruption seen.
  func finishRun() -> (
    verification: Verification, ringEntries: Int, grants: GrantTally, corruption: RingCorruption?
  ) {
    book.withLock { book in
      book.verifier.finish()
      return (book.verifier.verification, book.ringEntries, book.grants, book.corruption)
    }
  }
}

/// Why a drain happened: the kernel's promise is checked differently for each.
enum DrainMoment {
  /// A vCPU's write exited (for one vCPU draining at exits: the ring was full).
  case writeExit
  /// A doorbell read or another exit without a write.
  case otherExit
  /// The guest halted: what is left is read, nothing more is granted to anyone.
  case halt
  /// The `thread` strategy's drainer.
  case drainer
}

/// Every drain of one run held against what the cursor had granted the kernel before it.
///
/// The cursor's promise is the number of writes the kernel takes before one exits, in the
/// kernel's own has-room arithmetic. No drain may find more (the kernel took slots the model
/// said it would refuse); with one vCPU draining at its exits, a drain at a write exit must
/// find exactly that many (the kernel refused while the model said it had room).
struct GrantTally: Sendable, Equatable {
  /// Grants the kernel filled (drains at write exits, and drains that found entries,
  /// `hlt` excepted): their sum, count, least and greatest.
  var filledSum = 0
  var filledCount = 0
  var least = UInt32.max
  var greatest: UInt32 = 0
  /// The grant made before the run, used when no drain filled one (the run fit in the ring).
  var initial: UInt32 = 0
  var drains = 0
  /// Drains that found more than was granted.
  var overTaken = 0
  /// Drains at a write exit (one vCPU, exit drain) that found fewer than was granted.
  var shortFills = 0
  /// The first broken promise: (entries read, slots granted, ring position).
  var firstBroken: (read: Int, promised: UInt32, position: UInt32)?

  init(initial: UInt32? = nil) { self.initial = initial ?? 0 }

  @inline(__always)
  mutating func record(read: Int, promised: UInt32, from position: UInt32, at moment: DrainMoment, exactFill: Bool) {
    drains &+= 1
    var broken = read > Int(promised)
    if broken { overTaken &+= 1 }
    if moment == .writeExit && exactFill && read < Int(promised) {
      shortFills &+= 1
      broken = true
    }
    if broken && firstBroken == nil { firstBroken = (read, promised, position) }
    if moment == .writeExit || (moment != .halt && read > 0) {
      filledSum &+= Int(promised)
      filledCount &+= 1
      least = min(least, promised)
      greatest = max(greatest, promised)
    }
  }

  /// Folds another run's drains into this one (the first run's initial grant is kept).
  mutating func merge(_ other: GrantTally) {
    if drains == 0 && filledCount == 0 { initial = other.initial }
    filledSum &+= other.filledSum
    filledCount &+= other.filledCount
    least = min(least, other.least)
    greatest = max(greatest, other.greatest)
    drains &+= other.drains
    overTaken &+= other.overTaken
    shortFills &+= other.shortFills
    if firstBroken == nil { firstBroken = other.firstBroken }
  }

  static func == (lhs: GrantTally, rhs: GrantTally) -> Bool {
    lhs.filledSum == rhs.filledSum && lhs.filledCount == rhs.filledCount && lhs.drains == rhs.drains
      && lhs.overTaken == rhs.overTaken && lhs.shortFills == rhs.shortFills
  }
}
