import Platform

/// Monotonic time, for deadlines and run timing, and a thread's CPU time.
public enum Clock {
  @inline(__always)
  public static func monotonicNanoseconds() -> UInt64 { nanoseconds(CLOCK_MONOTONIC) }

  /// The calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`: user and system), in ns:
  /// against wall time, how much of it the thread was on a CPU.
  public static func threadCPUNanoseconds() -> UInt64 { nanoseconds(CLOCK_THREAD_CPUTIME_ID) }

  @inline(__always)
  private static func nanoseconds(_ clock: clockid_t) -> UInt64 {
    var now = timespec()
    clock_gettime(clock, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
  }

  /// `seconds` from now in monotonic nanoseconds, saturating: any `seconds`, however
  /// large, negative, infinite or NaN, gives a deadline and never traps (`UInt64(x)`
  /// of a value past 2^64 − 1 would).
  public static func deadline(afterSeconds seconds: Double, from now: UInt64 = monotonicNanoseconds()) -> UInt64 {
    guard seconds > 0 else { return now }
    let nanoseconds = seconds * 1e9
    guard nanoseconds < Double(UInt64.max - now) else { return UInt64.max }
    return now + UInt64(nanoseconds)
  }
}
