import KVM
import Platform

/// hyperfine-style summary of one figure over the kept runs.
public struct Summary: Sendable, Equatable {
  public var mean: Double
  public var stddev: Double
  public var median: Double
  public var min: Double
  public var max: Double
  /// The kept runs' values in run order (warm-up runs excluded): what a later test of
  /// significance (`cmmio compare`) needs from a saved report.
  public var samples: [Double]

  public init(mean: Double, stddev: Double, median: Double, min: Double, max: Double, samples: [Double] = []) {
    self.mean = mean
    self.stddev = stddev
    self.median = median
    self.min = min
    self.max = max
    self.samples = samples
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

  /// The reports' names of the percentiles, in the order of `values`.
  public static let keys = ["p50", "p90", "p99", "p999", "max"]
  public var values: [UInt64] { [p50, p90, p99, p999, max] }
}

/// Every write of every run accounted for, per vCPU and in order.
public struct Verification: Sendable, Equatable {
  /// Writes observed (ring entries plus exits) over all kept runs.
  public var entries: Int
  /// Writes the guest made that were never observed.
  public var lost: Int
  /// Writes observed with the wrong data for their place (order, address, length or kind).
  public var outOfOrder: Int
  /// `ioeventfd`: what the eventfd counted over all kept runs (read(2) of its counter after
  /// each run, which also resets it); nil for the other modes.
  public var eventfdCount: Int?
  /// `ioeventfd`: the writes the guest made over the kept runs, which the eventfd must have counted.
  public var eventfdExpected: Int?

  public init(entries: Int, lost: Int, outOfOrder: Int, eventfdCount: Int? = nil, eventfdExpected: Int? = nil) {
    self.entries = entries
    self.lost = lost
    self.outOfOrder = outOfOrder
    self.eventfdCount = eventfdCount
    self.eventfdExpected = eventfdExpected
  }

  /// Whether the eventfd counted exactly the writes (true where no eventfd was used).
  public var eventfdMatches: Bool { eventfdCount == eventfdExpected }

  /// Why the eventfd's count fails verification, as a phrase; nil when it matches.
  public var eventfdProblem: String? {
    guard !eventfdMatches else { return nil }
    let counted = eventfdCount.map(String.init) ?? "nothing"
    return "the eventfd counted \(counted) of \(eventfdExpected.map(String.init) ?? "no") writes"
  }

  public var clean: Bool { lost == 0 && outOfOrder == 0 && eventfdMatches }

  /// Two tallies added: the counts summed, the eventfd's only where both have one.
  public func adding(_ other: Verification) -> Verification {
    Verification(
      entries: entries + other.entries, lost: lost + other.lost, outOfOrder: outOfOrder + other.outOfOrder,
      eventfdCount: Self.sum(eventfdCount, other.eventfdCount),
      eventfdExpected: Self.sum(eventfdExpected, other.eventfdExpected))
  }

  private static func sum(_ lhs: Int?, _ rhs: Int?) -> Int? {
    switch (lhs, rhs) {
    case (nil, nil): return nil
    case (let value?, nil), (nil, let value?): return value
    case (let left?, let right?): return left + right
    }
  }
}

/// Userspace exits per write held against the ring model, checked in every run.
///
/// For a ring of K entries the model is K coalesced writes then one exit: with one vCPU
/// draining at its exits and no doorbell, 1/(K + 1) exits per write, within one exit per run.
/// Other drains promise a bound only (a drainer or another vCPU can make room before the ring
/// fills): at most one write exit per vCPU per K + 1 writes, plus one. `plain` promises one
/// exit per write. Where the kernel's has-room arithmetic cannot leave exactly K free slots
/// from every ring position (kernels before 6.12, K ≥ 84 with 4 KiB pages), the cursor grants
/// the most below K it can and `achievedRingSize` is the mean of what it granted: the ring size
/// really measured, and the one the exits are checked against.
public struct ExitCheck: Sendable, Equatable {
  public enum Promise: String, Sendable, Equatable {
    /// Exits per write equal the model within one exit per run.
    case exact
    /// Exits per write at most the model.
    case atMost = "at-most"
  }

  public var promise: Promise
  /// Userspace write exits per write the model gives: 1/(K + 1), 1 for `plain`, or the bound.
  public var modelExitsPerWrite: Double
  /// The has-room arithmetic the ring was modelled with; nil for `plain`.
  public var arithmetic: HasRoomArithmetic?
  /// Mean writes granted per fill (over every kept run); equals K when `exact`.
  public var achievedRingSize: Double?
  /// The least and greatest grant of any fill.
  public var leastGrant: UInt32?
  public var greatestGrant: UInt32?
  /// Drains made, and those whose entries broke the grant (more than granted, or fewer at a
  /// full-ring exit).
  public var drains: Int
  public var brokenGrants: Int
  /// The first thing that did not match the model, as a sentence; nil when every run matched.
  public var problem: String?

  public init(
    promise: Promise, modelExitsPerWrite: Double, arithmetic: HasRoomArithmetic?, achievedRingSize: Double?,
    leastGrant: UInt32?, greatestGrant: UInt32?, drains: Int, brokenGrants: Int, problem: String?
  ) {
    self.promise = promise
    self.modelExitsPerWrite = modelExitsPerWrite
    self.arithmetic = arithmetic
    self.achievedRingSize = achievedRingSize
    self.leastGrant = leastGrant
    self.greatestGrant = greatestGrant
    self.drains = drains
    self.brokenGrants = brokenGrants
    self.problem = problem
  }

  public var passed: Bool { problem == nil }

  /// A ring size as text: "84", or "83.51" for a mean.
  public static func sizeText(_ size: Double) -> String {
    size == size.rounded() && abs(size) < 1e9 ? String(Int(size)) : NumberFormat.fixed(size, 2) ?? "\(size)"
  }

  /// Whether every fill was granted exactly the asked K (always so on 6.12+).
  public func isExact(ringSize: UInt32?) -> Bool {
    guard let ringSize else { return true }
    return leastGrant.map { $0 == ringSize } ?? true && greatestGrant.map { $0 == ringSize } ?? true
  }
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
  /// Exits per write against the ring model; nil for `ram`.
  public var exitCheck: ExitCheck?
  /// CPUs the vCPU threads were seen running on (sched_getcpu), per vCPU.
  public var observedVCPUCPUs: [Int]
  /// CPU the drainer was seen on, if there was one.
  public var observedDrainCPU: Int?
  /// `--drain thread`: the least, over the kept runs and the stamped run, of the drainer
  /// thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`) over the run's wall time. The drainer
  /// spins, so on a CPU of its own this is near 1; below that it was off its CPU (other
  /// tasks, the hypervisor's steal, or blocked) while writes waited in the ring.
  public var drainerCPUShare: Double?
  /// Ring modes: how long writes waited in the ring (a separate stamped run); nil for the others.
  public var drainDelay: DrainDelay?

  public init(
    key: CaseKey, writes: Int, runs: Int, writesPerSec: Summary, nsPerWrite: Summary, userspaceExitsPerWrite: Double,
    exitsPerSec: Double, kvmRunNs: LatencySummary, kernelStats: [(name: String, value: Double)],
    verification: Verification?, exitCheck: ExitCheck? = nil, observedVCPUCPUs: [Int], observedDrainCPU: Int?,
    drainerCPUShare: Double? = nil, drainDelay: DrainDelay? = nil
  ) {
    self.drainerCPUShare = drainerCPUShare
    self.drainDelay = drainDelay
    self.exitCheck = exitCheck
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
      && lhs.kvmRunNs == rhs.kvmRunNs && lhs.verification == rhs.verification && lhs.exitCheck == rhs.exitCheck
      && lhs.kernelStats.map(\.name) == rhs.kernelStats.map(\.name)
      && lhs.kernelStats.map(\.value) == rhs.kernelStats.map(\.value) && lhs.drainDelay == rhs.drainDelay
  }

  /// The ring size the exits were measured at: K, or the mean granted where the kernel's
  /// arithmetic could not grant exactly K from every position.
  public var effectiveRingSize: Double? {
    guard let size = key.ringSize else { return nil }
    if let check = exitCheck, !check.isExact(ringSize: size), let achieved = check.achievedRingSize { return achieved }
    return Double(size)
  }

  /// Whether every write was accounted for and the exits matched the ring model.
  public var passed: Bool {
    (verification?.clean ?? true) && (exitCheck?.passed ?? true) && (drainDelay?.verification?.clean ?? true)
  }

  /// A kernel counter's mean delta per run, if the kernel exposes it.
  public func kernelStat(_ name: String) -> Double? {
    kernelStats.first { $0.name == name }?.value
  }
}

/// A coalesced or `ioeventfd` result against the plain result of the same space and CPUs.
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
  /// Usable ring entries on this kernel (`KVM_COALESCED_MMIO_MAX` − 1); 0 without a ring.
  public var ringCapacity: Int
  /// What the probe measured of the ring, and so its has-room arithmetic; nil without a ring.
  public var ring: RingFill?
  public var configuration: BenchConfiguration
  public var results: [BenchResult]
  public var comparisons: [Comparison]
  public var costModels: [CostModel]
  /// True when SIGINT/SIGTERM ended the run early: what was measured is still here.
  public var interrupted: Bool
  /// How the run was made, read before the first run; nil where it was not recorded.
  public var provenance: Provenance?

  public init(
    host: Host, ringCapacity: Int, ring: RingFill? = nil, configuration: BenchConfiguration,
    results: [BenchResult], comparisons: [Comparison], costModels: [CostModel], interrupted: Bool,
    provenance: Provenance? = nil
  ) {
    self.host = host
    self.ringCapacity = ringCapacity
    self.ring = ring
    self.configuration = configuration
    self.results = results
    self.comparisons = comparisons
    self.costModels = costModels
    self.interrupted = interrupted
    self.provenance = provenance
  }
}
