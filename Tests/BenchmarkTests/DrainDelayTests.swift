import CMMIOTestSupport
import Guest
import KVM
import Testing

@testable import Benchmarking

/// Whether this host promises a TSC the drain delay can be measured with.
private let clockUsable = GuestClock.hostTSCFlags().map { $0.constant && $0.nonstop } ?? false

@Suite(
  "Drain delay on the real /dev/kvm", .serialized, .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct DrainDelayKernelTests {
  /// The law: with `--drain exit` at ring size K the ring is read when its (K+1)-th write
  /// exits, so entry i of a fill waits for the K − i writes after it and the exit: a median
  /// near K/2 writes, plus the exit's round trip p: (K/2)·c + p against (K/2)·c, so it holds
  /// where K/2 writes outweigh the round trip (K ≥ 8 here: c ≈ 6 µs, p ≈ 8 µs; at K = 1 the
  /// round trip is most of the wait). The time per write c is the stamped loop's own median
  /// interval between writes (from the stamps), which the threads' preemptions do not inflate.
  @Test("exit drain: the median delay is K/2 × the time per write within a factor of 2, at K = 8, 32 and max")
  func exitDrainLaw() throws {
    let outcome = try measure { config in
      config.modes = [.coalesced]
      config.writes = 10_000
      config.warmup = 1
      config.ringSizes = [8, 32, 169]
    }
    #expect(outcome.failure == nil)
    #expect(outcome.results.count == 3)
    for result in outcome.results {
      let delay = try #require(result.drainDelay)
      guard clockUsable else {
        #expect(delay.figures == nil && delay.reason != nil)
        continue
      }
      let figures = try #require(delay.figures, "omitted: \(delay.reason ?? "")")
      let perWrite = try #require(delay.writeIntervalNs)
      let size = Double(try #require(result.key.ringSize))
      let law = size / 2 * perWrite
      let ratio = Double(figures.p50) / law
      #expect(ratio >= 0.5 && ratio <= 2, "K=\(size): median \(figures.p50) ns, K/2 × \(perWrite) ns = \(law) ns")
      #expect(figures.p50 <= figures.p90 && figures.p90 <= figures.p99 && figures.p99 <= figures.max)
      #expect(try #require(delay.uncertaintyNs) < Double(figures.p50))
      // Every coalesced write timed (one in K + 1 exits), and the stamped run verified.
      #expect(delay.entries == result.writes - result.writes / (Int(size) + 1))
      #expect(delay.verification == Verification(entries: result.writes, lost: 0, outOfOrder: 0))
      #expect(result.passed)
    }
  }

  /// The drainer is given a CPU of its own (vCPU on CPU 0, drainer on CPU 1): sharing one,
  /// it runs only when the vCPU thread is descheduled, and entries wait as long as with exits.
  /// The drainer calls `sched_yield()` whenever the ring is empty, so any runnable task on
  /// CPU 1 gets the CPU for a slice (whatever the drainer's nice value). On a 2-CPU machine
  /// the suites running beside this one keep CPU 1 busy: clean-clone CI runs measured thread
  /// medians of 471–533 µs against exit's 378–463, and the drainer's CPU share at 0.10–0.12.
  /// So a pair is judged only where the drainer had its CPU (`drainerCPUShare` at least the
  /// warning's limit), measured up to ten times (even idle, the kernel's kdamond can take
  /// CPU 1 for milliseconds, docs/bench.md). If it never had it, the test records a
  /// warning (not a failure) that it was inconclusive: `.ci/run` runs this suite again on
  /// its own, and the lab's host run judges the same law. A drainer that had its CPU and did not cut the wait fails.
  @Test("a drain thread's median delay is below the exit drain's at the full ring", arguments: [IOSpace.mmio, .pio])
  func threadBelowExit(space: IOSpace) throws {
    guard clockUsable, Host.onlineCPUs().cpus.contains(1) else { return }
    var attempts: [String] = []
    var verdict: Bool?
    for _ in 1...10 where verdict == nil {
      var results: [DrainStrategy: BenchResult] = [:]
      for drain in [DrainStrategy.exit, .thread] {
        let outcome = try measure { config in
          config.modes = [.coalesced]
          config.space = space
          config.drain = drain
          config.vcpuCPUs = CPUList([0])
          if drain == .thread { config.drainCPUs = CPUList([1]) }
          config.writes = 10_000
          config.warmup = 1
          config.ringSizes = [169]
        }
        let result = try #require(outcome.results.first)
        #expect(result.passed)
        results[drain] = result
      }
      let exit = try #require(results[.exit]?.drainDelay)
      let thread = try #require(results[.thread])
      let exitMedian = try #require(exit.figures?.p50, "exit: \(exit.reason ?? "")")
      let threadMedian = try #require(thread.drainDelay?.figures?.p50, "thread: \(thread.drainDelay?.reason ?? "")")
      let share = try #require(thread.drainerCPUShare)
      attempts.append(
        "thread drain median \(threadMedian) ns (drainer's CPU share \(share)), exit drain \(exitMedian) ns")
      if share >= BenchWarning.Rules.leastDrainerCPUShare { verdict = threadMedian < exitMedian }
    }
    guard let verdict else {
      Issue.record(
        "inconclusive: other tasks kept CPU 1 from the drainer in every attempt: \(attempts)", severity: .warning)
      return
    }
    #expect(verdict, "\(attempts)")
  }

  /// The drainer on the vCPU's CPU gets it only when the vCPU thread yields it: its share
  /// is far below the limit, and the result says so.
  @Test("a drainer sharing the vCPU's CPU: its CPU share is below the contended_drainer warning's limit")
  func contendedDrainer() throws {
    let outcome = try measure { config in
      config.modes = [.coalesced]
      config.drain = .thread
      config.vcpuCPUs = CPUList([0])
      config.drainCPUs = CPUList([0])
      config.writes = 10_000
      config.ringSizes = [169]
    }
    let result = try #require(outcome.results.first)
    #expect(result.passed)
    let share = try #require(result.drainerCPUShare)
    #expect(share < BenchWarning.Rules.leastDrainerCPUShare)
    #expect(share >= 0)
    #expect(result.observedDrainCPU == 0)
  }

  @Test("the stamped run is verified: a wrong write count fails the result")
  func stampedVerificationCanFail() throws {
    let outcome = try measure(skew: 1) { config in
      config.modes = [.coalesced]
      config.ringSizes = [8]
    }
    let result = try #require(outcome.results.first)
    let stamped = try #require(result.drainDelay?.verification)
    #expect(stamped.lost == 1)
    #expect(!result.passed)
  }

  /// A test double of /proc/cpuinfo's flags only: the host here has both, so their absence
  /// is given to the engine to show the figure then rests on the rate measured over the run.
  @Test("without constant_tsc the delay is measured on the run's own rate, and says so")
  func measuredWithoutConstantTSC() throws {
    let device = try KVMDevice()
    var config = BenchConfiguration()
    config.modes = [.coalesced]
    config.writes = 1_000
    config.runs = 1
    config.warmup = 0
    let plan = try BenchPlan.make(
      config, device: device, host: Host.current(), ring: try RingCapacityProbe.measure(device))
    let engine = BenchEngine(plan: plan, device: device)
    engine.clockFlagsOverride = (constant: false, nonstop: true)
    let result = try #require(engine.run().results.first)
    let delay = try #require(result.drainDelay)
    #expect(delay.figures != nil, "omitted: \(delay.reason ?? "")")
    let clock = try #require(delay.clock)
    #expect(clock.basis == .measured)
    #expect(clock.rateError <= GuestClock.rateTolerance)
    #expect(delay.verification == Verification(entries: 1_000, lost: 0, outOfOrder: 0))
    #expect(result.passed)
  }
}
