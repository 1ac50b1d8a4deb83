import Testing

@testable import Benchmarking

@Suite("KVM_RUN round trips recorded in TSC ticks")
struct RunLatencyTests {
  @Test("ticks become nanoseconds at the run's rate; two runs merge at their count-weighted rate")
  func ticksToNanoseconds() {
    var fast = RunLatency()
    for _ in 0..<300 { fast.record(10_000) }
    fast.setNanosecondsPerUnit(0.4)  // a 2.5 GHz TSC
    #expect(fast.summary.p50 == 4_000 && fast.summary.max == 4_000)
    var slow = RunLatency()
    for _ in 0..<100 { slow.record(10_000) }
    slow.setNanosecondsPerUnit(0.8)
    var both = RunLatency()
    both.add(fast)
    both.add(slow)
    #expect(abs(both.nanosecondsPerUnit - 0.5) < 1e-12)
    #expect(both.summary.p50 == 5_000)
    both.reset()
    #expect(both.nanosecondsPerUnit == 1 && both.count == 0)
  }

  @Test("a rate that is not a positive finite number leaves units as nanoseconds")
  func badRate() {
    for rate in [0, -1, .nan, .infinity] {
      var latency = RunLatency()
      latency.record(1_234)
      latency.setNanosecondsPerUnit(rate)
      #expect(latency.summary.p50 == 1_234)
    }
  }

  @Test("the run timer's ticks, converted at its measured rate, span the wall time it measured")
  func timerAgreesWithClock() {
    let timer = RunTimer()
    let first = timer.now()
    var spin: UInt64 = 0
    for index in 0..<2_000_000 { spin &+= UInt64(index) }
    let last = timer.now()
    let (nanosecondsPerTick, end) = timer.finish()
    let wall = Double(end - timer.startedAt)
    let timed = Double(last &- first) * nanosecondsPerTick
    #expect(spin > 0)
    #expect(timed <= wall * 1.01 + 1_000, "\(timed) ns timed inside \(wall) ns of wall time")
    #expect(timed >= wall * 0.5, "\(timed) ns timed inside \(wall) ns of wall time")
  }
}
