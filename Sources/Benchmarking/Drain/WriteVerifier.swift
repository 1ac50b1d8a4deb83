import KVM

/// Checks every write the benchmark guests make, per vCPU and in order, as it is seen.
///
/// vCPU i writes N, N−1, …, 1 (4 bytes each) to its own register `base + stride·i`.
/// Entries of different vCPUs interleave in the one ring, so each write is assigned
/// to its vCPU by address and checked against that vCPU's next expected value.
/// Counting down, a mismatch is classified at once: a write whose value is below the
/// expected one means the values in between were skipped (`lost`, and the expectation
/// resynchronizes below it); anything else wrong (a value from the past, a stray
/// address, length or kind, a write after the last) is `outOfOrder`. At the end of a
/// run every value never seen is `lost`.
///
/// It holds a raw pointer to storage its owner (`DrainCoordinator`) allocates, so the
/// hot path touches no array and never allocates.
struct WriteVerifier {
  /// Register of vCPU 0: guest physical address (MMIO) or port (PIO).
  let base: UInt64
  /// Bytes between the registers of consecutive vCPUs.
  let stride: UInt64
  let vcpus: Int
  let space: IOSpace
  let length: UInt32
  /// The value each vCPU's first write carries (N; a test may skew it to show failures).
  let firstValue: UInt64
  /// False for `ram`: no write should reach userspace at all.
  let expectsWrites: Bool
  /// False with `--no-verify`: writes are counted, not checked.
  let enabled: Bool
  /// Each write carries the guest's TSC (low 32 bits), not its place: the count, address,
  /// length and kind are checked as ever, the order by each vCPU's stamps rising (modulo 2^32).
  let stamped: Bool
  /// Where a stamped run's steps between consecutive stamps of a vCPU go (the drain delay's).
  let steps: DelayRecorder?
  /// Per vCPU: the value its next write must carry (0: all seen); stamped, the writes still to
  /// come, followed by (at `vcpus + i`) the last stamp seen.
  private let next: UnsafeMutablePointer<UInt64>

  private(set) var entries = 0
  private(set) var lost = 0
  private(set) var outOfOrder = 0

  init(
    base: UInt64, stride: UInt64, vcpus: Int, space: IOSpace, length: UInt32, firstValue: UInt64,
    expectsWrites: Bool, enabled: Bool, stamped: Bool = false, steps: DelayRecorder? = nil,
    storage: UnsafeMutablePointer<UInt64>
  ) {
    self.steps = steps
    self.base = base
    self.stride = stride
    self.vcpus = vcpus
    self.space = space
    self.length = length
    self.firstValue = firstValue
    self.expectsWrites = expectsWrites
    self.enabled = enabled
    self.stamped = stamped
    self.next = storage
    restart()
  }

  /// Expects a fresh run: every vCPU's next write is the first value again; counts cleared.
  mutating func restart() {
    for i in 0..<vcpus { next[i] = expectsWrites ? firstValue : 0 }
    entries = 0
    lost = 0
    outOfOrder = 0
  }

  /// Checks one write (a ring entry or an exit), in the order userspace saw it.
  @inline(__always)
  mutating func observe(address: UInt64, length: UInt32, space: IOSpace, data: UInt64) {
    entries &+= 1
    guard enabled else { return }
    let offset = address &- base
    let index = offset / stride
    guard space == self.space, length == self.length, offset % stride == 0, index < UInt64(vcpus) else {
      outOfOrder &+= 1
      return
    }
    let slot = Int(index)
    if stamped {
      observeStamp(data, slot: slot)
      return
    }
    let expected = next[slot]
    if data == expected && expected != 0 {
      next[slot] = expected &- 1
      return
    }
    outOfOrder &+= 1
    if data < expected && data != 0 {
      lost &+= Int(expected &- data)
      next[slot] = data &- 1
    }
  }

  /// A stamped write of vCPU `slot`: one of the writes still due, its stamp later than the
  /// vCPU's previous one (by less than 2^31 cycles, modulo 2^32: no stamp repeats or goes back).
  @inline(__always)
  private mutating func observeStamp(_ data: UInt64, slot: Int) {
    let remaining = next[slot]
    guard remaining > 0 else {
      outOfOrder &+= 1
      return
    }
    let previous = next[vcpus + slot]
    next[slot] = remaining &- 1
    next[vcpus + slot] = data
    guard remaining != firstValue else { return }
    let step = UInt32(truncatingIfNeeded: data) &- UInt32(truncatingIfNeeded: previous)
    if step == 0 || step >= 1 << 31 {
      outOfOrder &+= 1
    } else {
      steps?.recordStep(step)
    }
  }

  /// Checks one ring entry.
  @inline(__always)
  mutating func observe(_ entry: RingEntry) {
    observe(address: entry.address, length: entry.length, space: entry.space, data: entry.data)
  }

  /// Ends a run whose guests all reached `hlt`: values never seen are lost.
  mutating func finish() {
    guard enabled else { return }
    for i in 0..<vcpus { lost &+= Int(next[i]) }
  }

  /// A check made outside the ring and the exits (the `ram` floor's final store).
  mutating func recordMismatch() { outOfOrder &+= 1 }

  var verification: Verification { Verification(entries: entries, lost: lost, outOfOrder: outOfOrder) }
}
