import Histogram

/// `KVM_RUN` round-trip times of one vCPU thread, in an HdrHistogram.
///
/// The histogram is sized once, up front (1 ns to 2^43 ns, about 2.4 hours, three
/// significant digits: some 280 KB), so recording on the hot path never allocates:
/// a longer round trip is clamped to the ceiling rather than resizing.
public struct RunLatency: Sendable {
  /// The largest value recorded as itself.
  public static let ceiling: UInt64 = 1 << 43

  private var histogram: Histogram<UInt64>

  public init() {
    histogram = Histogram(
      lowestDiscernibleValue: 1, highestTrackableValue: Self.ceiling, numberOfSignificantValueDigits: .three)
  }

  /// Round trips recorded.
  public var count: UInt64 { histogram.totalCount }

  /// Records one `KVM_RUN` of `nanoseconds`.
  @inline(__always)
  public mutating func record(_ nanoseconds: UInt64) {
    histogram.record(nanoseconds < Self.ceiling ? nanoseconds : Self.ceiling)
  }

  /// Adds another thread's (or run's) round trips.
  public mutating func add(_ other: RunLatency) {
    histogram.add(other.histogram)
  }

  /// Forgets everything (after warm-up runs).
  public mutating func reset() { histogram.reset() }

  /// fio's percentiles; all zero when nothing was recorded.
  public var summary: LatencySummary {
    guard histogram.totalCount > 0 else { return LatencySummary(p50: 0, p90: 0, p99: 0, p999: 0, max: 0) }
    return LatencySummary(
      p50: histogram.valueAtPercentile(50),
      p90: histogram.valueAtPercentile(90),
      p99: histogram.valueAtPercentile(99),
      p999: histogram.valueAtPercentile(99.9),
      max: histogram.maxRecorded)
  }
}
