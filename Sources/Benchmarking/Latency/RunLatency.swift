import Guest
import Histogram
import KVM

/// `KVM_RUN` round-trip times of one vCPU thread, in an HdrHistogram.
///
/// The histogram is sized once, up front (1 to 2^43 units, three significant digits:
/// some 280 KB), so recording on the hot path never allocates: a longer round trip is
/// clamped to the ceiling rather than resizing. A unit is a nanosecond, or a TSC tick
/// (`RunTimer`) whose length in nanoseconds is set after the run (2^43 ticks is about an
/// hour at 2.5 GHz).
public struct RunLatency: Sendable {
  /// The largest value recorded as itself.
  public static let ceiling: UInt64 = 1 << 43

  private var histogram: Histogram<UInt64>
  /// Nanoseconds per recorded unit: 1 unless set (`setNanosecondsPerUnit`); when two are
  /// added, the mean of theirs weighted by their counts.
  public private(set) var nanosecondsPerUnit = 1.0

  public init() {
    histogram = Histogram(
      lowestDiscernibleValue: 1, highestTrackableValue: Self.ceiling, numberOfSignificantValueDigits: .three)
  }

  /// Round trips recorded.
  public var count: UInt64 { histogram.totalCount }

  /// Records one `KVM_RUN` of `units`.
  @inline(__always)
  public mutating func record(_ units: UInt64) {
    histogram.record(units < Self.ceiling ? units : Self.ceiling)
  }

  /// The length of a recorded unit in nanoseconds (a TSC tick's, measured over the run).
  public mutating func setNanosecondsPerUnit(_ nanoseconds: Double) {
    nanosecondsPerUnit = nanoseconds.isFinite && nanoseconds > 0 ? nanoseconds : 1
  }

  /// Adds another thread's (or run's) round trips.
  public mutating func add(_ other: RunLatency) {
    let mine = Double(histogram.totalCount)
    let theirs = Double(other.histogram.totalCount)
    if mine + theirs > 0 {
      nanosecondsPerUnit = (nanosecondsPerUnit * mine + other.nanosecondsPerUnit * theirs) / (mine + theirs)
    }
    histogram.add(other.histogram)
  }

  /// Forgets everything (after warm-up runs).
  public mutating func reset() {
    histogram.reset()
    nanosecondsPerUnit = 1
  }

  /// fio's percentiles, in nanoseconds; all zero when nothing was recorded.
  public var summary: LatencySummary {
    guard histogram.totalCount > 0 else { return LatencySummary(p50: 0, p90: 0, p99: 0, p999: 0, max: 0) }
    func ns(_ units: UInt64) -> UInt64 {
      nanosecondsPerUnit == 1 ? units : UInt64((Double(units) * nanosecondsPerUnit).rounded())
    }
    return LatencySummary(
      p50: ns(histogram.valueAtPercentile(50)),
      p90: ns(histogram.valueAtPercentile(90)),
      p99: ns(histogram.valueAtPercentile(99)),
      p999: ns(histogram.valueAtPercentile(99.9)),
      max: ns(histogram.maxRecorded))
  }
}

/// What the benchmark's loop times each `KVM_RUN` with: the host TSC (`rdtsc`), where the
/// CPU has one, else `CLOCK_MONOTONIC`. Two `clock_gettime` calls per exit cost plain exits
/// 2% of their throughput on the kvm_pvm VM, against cmmio-ref, which times nothing
/// (bench/README.md); two `rdtsc` cost a third of that. Ticks become nanoseconds at the
/// rate the TSC kept over the run itself, against `CLOCK_MONOTONIC` (`nanosecondsPerTick`),
/// so no constant TSC frequency is assumed.
struct RunTimer {
  let usesTSC: Bool
  /// The TSC and `CLOCK_MONOTONIC` as the run started.
  private let start: ClockPair

  init() {
    usesTSC = HostTSC.now() != 0
    start = ClockPair.now()
  }

  /// Now, in ticks (nanoseconds where there is no TSC).
  @inline(__always)
  func now() -> UInt64 { usesTSC ? HostTSC.now() : Clock.monotonicNanoseconds() }

  /// When the run started, in monotonic nanoseconds.
  var startedAt: UInt64 { UInt64(start.ns) }

  /// A tick's length over the run so far, in nanoseconds, and the run's end in monotonic
  /// nanoseconds (1 without a TSC, or when no tick passed).
  func finish() -> (nanosecondsPerTick: Double, endedAt: UInt64) {
    let end = ClockPair.now()
    let khz = start.khz(to: end)
    return (usesTSC && khz > 0 ? 1e6 / khz : 1, UInt64(end.ns))
  }
}
