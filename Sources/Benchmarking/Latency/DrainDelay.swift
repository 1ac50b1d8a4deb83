import KVM

/// How long coalesced writes waited in the ring: from the guest's write (its TSC stamp) to
/// the moment userspace read the entry (the host's TSC then), measured in a separate stamped
/// run of the same configuration. Either figures with their uncertainty, or the reason there
/// are none (the clocks could not be related, or the run was not made).
public struct DrainDelay: Sendable, Equatable {
  /// Percentiles over every ring entry of the stamped run, in nanoseconds; nil when omitted.
  public var figures: LatencySummary?
  /// Why there are no figures; nil when there are.
  public var reason: String?
  /// No figure is off by more than this (half the width of the offset's bounds), in ns.
  public var uncertaintyNs: Double?
  /// Ring entries timed.
  public var entries: Int
  /// Entries whose computed wait was below zero, within the uncertainty (counted as 0).
  public var early: Int
  /// The vCPU TSC's frequency used (`KVM_GET_TSC_KHZ`), and the host TSC's rate measured
  /// against `CLOCK_MONOTONIC`, in kHz.
  public var tscKHz: UInt64?
  public var measuredKHz: Double?
  /// What the relation rested on, and how steady the TSC was measured to be over the run.
  public var clock: Clock?
  /// The stamped run's writes, checked: count, address, length, kind, and stamps rising.
  public var verification: Verification?
  /// The stamped run's wall time per write (its loop has an `rdtsc` more than the timed runs').
  public var stampedNsPerWrite: Double?
  /// The median time from one write of a vCPU to its next, from the stamps: the time per write
  /// of the loop undisturbed (the wall-time mean also carries every preemption of the thread).
  public var writeIntervalNs: Double?
  /// The thread drain's share of its CPU in the stamped run: the engine folds it into
  /// `BenchResult.drainerCPUShare`, which is what reports show.
  var drainerCPUShare: Double?

  public init(
    figures: LatencySummary?, reason: String?, uncertaintyNs: Double? = nil, entries: Int = 0, early: Int = 0,
    tscKHz: UInt64? = nil, measuredKHz: Double? = nil, clock: Clock? = nil, verification: Verification? = nil,
    stampedNsPerWrite: Double? = nil, writeIntervalNs: Double? = nil
  ) {
    self.writeIntervalNs = writeIntervalNs
    self.stampedNsPerWrite = stampedNsPerWrite
    self.figures = figures
    self.reason = reason
    self.uncertaintyNs = uncertaintyNs
    self.entries = entries
    self.early = early
    self.tscKHz = tscKHz
    self.measuredKHz = measuredKHz
    self.clock = clock
    self.verification = verification
  }

  /// The steadiness of the clocks behind the figures (`TSCSpan`).
  public struct Clock: Sendable, Equatable {
    /// The CPU's word for a steady TSC, or only the measurements.
    public var basis: TSCBasis
    /// The host TSC's rate over the stamped run against `CLOCK_MONOTONIC`, in kHz.
    public var runKHz: Double
    /// The largest relative difference of a measured rate from `KVM_GET_TSC_KHZ`.
    public var rateError: Double

    public init(basis: TSCBasis, runKHz: Double, rateError: Double) {
      self.basis = basis
      self.runKHz = runKHz
      self.rateError = rateError
    }
  }

  /// No figures, and why.
  public static func omitted(_ reason: String, verification: Verification? = nil) -> DrainDelay {
    DrainDelay(figures: nil, reason: reason, verification: verification)
  }

  /// The method, in words (`GuestClock.method`, and what is timed).
  public static let method =
    "a separate run whose guest loop writes the low 32 bits of its TSC (rdtsc) instead of the counter; "
    + "each ring entry timed from that stamp to the host rdtsc when userspace read it (writes that exit "
    + "are not timed); " + GuestClock.method
}

/// Times ring entries as they are read: the host TSC now, against the entry's guest TSC stamp.
///
/// Owned by `DrainCoordinator` and used only under its lock. A class so the histogram is
/// mutated in place (a struct copied out of the lock's storage would copy its buffer).
final class DelayRecorder: @unchecked Sendable {
  /// guest TSC − host TSC (`TSCRelation.offset`), as a bit pattern.
  private var offset: UInt64 = 0
  /// Waits in cycles of the vCPU's TSC.
  private(set) var cycles = RunLatency()
  /// Entries whose computed wait was negative, and the most negative, in cycles.
  private(set) var early = 0
  private(set) var earliest: UInt64 = 0
  /// Cycles between consecutive stamps of one vCPU (fed by the verifier, which knows whose they are).
  private(set) var steps = RunLatency()

  /// Before a run: forget everything, relate stamps through `offset`.
  func restart(offset: Int64) {
    self.offset = UInt64(bitPattern: offset)
    cycles.reset()
    steps.reset()
    early = 0
    earliest = 0
  }

  /// The guest's time from one write of a vCPU to its next, in cycles.
  @inline(__always)
  func recordStep(_ cycles: UInt32) { steps.record(UInt64(cycles)) }

  /// One entry read now, whose data is the guest's TSC stamp (low 32 bits). A wait is
  /// reconstructed modulo 2^32 cycles (about 1.7 s at 2.5 GHz): a longer one would alias.
  @inline(__always)
  func record(stamp: UInt64) {
    let guestNow = HostTSC.now() &+ offset
    let age = UInt32(truncatingIfNeeded: guestNow) &- UInt32(truncatingIfNeeded: stamp)
    if age < 1 << 31 {
      cycles.record(UInt64(age))
    } else {
      early &+= 1
      earliest = max(earliest, UInt64(0 &- age))
      cycles.record(0)
    }
  }
}
