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
  }

  private let book: PthreadLocked<Book>
  private let storage: UnsafeMutablePointer<UInt64>
  private let ring: CoalescedRing?
  private let ringSize: UInt32?

  /// `ring` nil (no zone) checks exits only; `ringSize` is K (nil: the usable capacity).
  init(
    ring: CoalescedRing?, ringSize: UInt32?, base: UInt64, stride: UInt64, vcpus: Int, space: IOSpace,
    firstValue: UInt64, expectsWrites: Bool, enabled: Bool
  ) {
    storage = .allocate(capacity: max(vcpus, 1))
    self.ring = ring
    self.ringSize = ringSize
    let verifier = WriteVerifier(
      base: base, stride: stride, vcpus: vcpus, space: space, length: 4, firstValue: firstValue,
      expectsWrites: expectsWrites, enabled: enabled, storage: storage)
    book = PthreadLocked(Book(cursor: nil, verifier: verifier))
  }

  deinit { storage.deallocate() }

  /// Before a run (no vCPU running): a cursor at the ring's `last` that leaves K free
  /// slots, and fresh expectations.
  func prepareRun() throws(RingCorruption) {
    let cursor = try ring.map { ring throws(RingCorruption) in try RingCursor(ring: ring, ringSize: ringSize) }
    book.withLock { book in
      book.cursor = cursor
      book.verifier.restart()
      book.ringEntries = 0
      book.corruption = nil
    }
  }

  /// Drains whatever the kernel published (the drainer thread's call). Returns the entries read.
  @inline(__always)
  func drain() -> Int {
    book.withLock { book in Self.drainLocked(&book) }
  }

  /// At an exit to userspace: drains, then checks the write that exited, if it was one.
  @inline(__always)
  func drainAtExit(address: UInt64, length: UInt32, space: IOSpace, data: UInt64, isWrite: Bool) {
    book.withLock { book in
      _ = Self.drainLocked(&book)
      if isWrite { book.verifier.observe(address: address, length: length, space: space, data: data) }
    }
  }

  /// At `hlt` or any exit that carries no write: drains only.
  @inline(__always)
  func drainAtExit() {
    book.withLock { book in _ = Self.drainLocked(&book) }
  }

  @inline(__always)
  private static func drainLocked(_ book: inout Book) -> Int {
    guard var cursor = book.cursor, book.corruption == nil else { return 0 }
    // Work on copies (a cursor and a pointer-backed verifier are a few words each) so the
    // closure does not capture `book` while `book.cursor` is being mutated.
    var verifier = book.verifier
    defer {
      book.cursor = cursor
      book.verifier = verifier
    }
    do {
      let count = try cursor.drain { entry in verifier.observe(entry) }
      book.ringEntries &+= count
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

  /// After every guest halted: the run's verification and ring entries, or the corruption seen.
  func finishRun() -> (verification: Verification, ringEntries: Int, corruption: RingCorruption?) {
    book.withLock { book in
      book.verifier.finish()
      return (book.verifier.verification, book.ringEntries, book.corruption)
    }
  }
}
