import KVM

/// hyperfine-style summary of one figure over the kept runs.
public struct Summary: Sendable, Equatable {
  public var mean: Double
  public var stddev: Double
  public var median: Double
  public var min: Double
  public var max: Double

  public init(mean: Double, stddev: Double, median: Double, min: Double, max: Double) {
    self.mean = mean
    self.stddev = stddev
    self.median = median
    self.min = min
    self.max = max
  }
}

/// `KVM_RUN` round-trip latency percentiles, in nanoseconds (fio's p50/p90/p99/p99.9).
public struct LatencySummary: Sendable, Equatable {
  public var p50: UInt64
  public var p90: UInt64
  public var p99: UInt64
  public var p999: UInt64
  public var max: UInt64

  public init(p50: UInt64, p90: UInt64, p99: UInt64, p999: UInt64, max: UInt64) {
    self.p50 = p50
    self.p90 = p90
    self.p99 = p99
    self.p999 = p999
    self.max = max
  }
}

/// Every write of every run accounted for, per vCPU and in order.
public struct Verification: Sendable, Equatable {
  /// Writes observed (ring entries plus exits) over all kept runs.
  public var entries: Int
  /// Writes the guest made that were never observed.
  public var lost: Int
  /// Writes observed with the wrong data for their place (order, address, length or kind).
  public var outOfOrder: Int

  public init(entries: Int, lost: Int, outOfOrder: Int) {
    self.entries = entries
    self.lost = lost
    self.outOfOrder = outOfOrder
  }

  public var clean: Bool { lost == 0 && outOfOrder == 0 }
}

/// One result: one `CaseKey`, measured over `runs` kept runs.
public struct BenchResult: Sendable, Equatable {
  public var key: CaseKey
  /// Writes per run (all vCPUs together).
  public var writes: Int
  /// Kept runs (fewer than asked when interrupted).
  public var runs: Int
  public var writesPerSec: Summary
  public var nsPerWrite: Summary
  /// Userspace exits (MMIO/PIO exits, doorbells included) per write, over all kept runs.
  public var userspaceExitsPerWrite: Double
  /// Userspace exits per second of run-loop wall time (mean over runs).
  public var exitsPerSec: Double
  public var kvmRunNs: LatencySummary
  /// Mean per-run deltas of the vCPU binary stats (summed over vCPUs), in the kernel's order.
  public var kernelStats: [(name: String, value: Double)]
  public var verification: Verification?
  /// CPUs the vCPU threads were seen running on (sched_getcpu), per vCPU.
  public var observedVCPUCPUs: [Int]
  /// CPU the drainer was seen on, if there was one.
  public var observedDrainCPU: Int?

  public init(
    key: CaseKey, writes: Int, runs: Int, writesPerSec: Summary, nsPerWrite: Summary, userspaceExitsPerWrite: Double,
    exitsPerSec: Double, kvmRunNs: LatencySummary, kernelStats: [(name: String, value: Double)],
    verification: Verification?, observedVCPUCPUs: [Int], observedDrainCPU: Int?
  ) {
    self.key = key
    self.writes = writes
    self.runs = runs
    self.writesPerSec = writesPerSec
    self.nsPerWrite = nsPerWrite
    self.userspaceExitsPerWrite = userspaceExitsPerWrite
    self.exitsPerSec = exitsPerSec
    self.kvmRunNs = kvmRunNs
    self.kernelStats = kernelStats
    self.verification = verification
    self.observedVCPUCPUs = observedVCPUCPUs
    self.observedDrainCPU = observedDrainCPU
  }

  public static func == (lhs: BenchResult, rhs: BenchResult) -> Bool {
    lhs.key == rhs.key && lhs.writes == rhs.writes && lhs.runs == rhs.runs && lhs.writesPerSec == rhs.writesPerSec
      && lhs.nsPerWrite == rhs.nsPerWrite && lhs.userspaceExitsPerWrite == rhs.userspaceExitsPerWrite
      && lhs.kvmRunNs == rhs.kvmRunNs && lhs.verification == rhs.verification
      && lhs.kernelStats.map(\.name) == rhs.kernelStats.map(\.name)
      && lhs.kernelStats.map(\.value) == rhs.kernelStats.map(\.value)
  }

  /// A kernel counter's mean delta per run, if the kernel exposes it.
  public func kernelStat(_ name: String) -> Double? {
    kernelStats.first { $0.name == name }?.value
  }
}

/// A coalesced result against the plain result of the same space and CPUs.
public struct Comparison: Sendable, Equatable {
  public var key: CaseKey
  /// Median writes/s of this result over the matching plain result's.
  public var speedupVsPlain: Double
  /// Median ns/write of this result over the matching `ram` floor's, if measured.
  public var ratioToFloor: Double?

  public init(key: CaseKey, speedupVsPlain: Double, ratioToFloor: Double?) {
    self.key = key
    self.speedupVsPlain = speedupVsPlain
    self.ratioToFloor = ratioToFloor
  }
}

/// The cost model cost(K) ≈ (K·c + p)/(K + 1), fitted over ring sizes.
public struct CostModel: Sendable, Equatable {
  /// The configuration the fit covers (ring size left out).
  public var key: CaseKey
  /// ns for a write that is coalesced (stays in the kernel).
  public var coalescedNs: Double
  /// ns for a write that exits to userspace.
  public var exitNs: Double
  /// Coefficient of determination of the fit (1 is perfect).
  public var rSquared: Double
  /// Ring sizes the fit used.
  public var points: Int

  public init(key: CaseKey, coalescedNs: Double, exitNs: Double, rSquared: Double, points: Int) {
    self.key = key
    self.coalescedNs = coalescedNs
    self.exitNs = exitNs
    self.rSquared = rSquared
    self.points = points
  }

  /// What one round trip to userspace costs beyond a coalesced write: p − c.
  public var roundTripNs: Double { exitNs - coalescedNs }
}

/// Everything `cmmio bench` reports.
public struct BenchReport: Sendable {
  public var host: Host
  /// Measured ring capacity (usable entries) on this kernel.
  public var ringCapacity: Int
  public var configuration: BenchConfiguration
  public var results: [BenchResult]
  public var comparisons: [Comparison]
  public var costModels: [CostModel]
  /// True when SIGINT/SIGTERM ended the run early: what was measured is still here.
  public var interrupted: Bool

  public init(
    host: Host, ringCapacity: Int, configuration: BenchConfiguration, results: [BenchResult],
    comparisons: [Comparison], costModels: [CostModel], interrupted: Bool
  ) {
    self.host = host
    self.ringCapacity = ringCapacity
    self.configuration = configuration
    self.results = results
    self.comparisons = comparisons
    self.costModels = costModels
    self.interrupted = interrupted
  }
}
