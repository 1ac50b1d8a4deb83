import CKVM
import Platform

/// The host CPU's time-stamp counter.
public enum HostTSC {
  /// `rdtsc` on the calling CPU (0 where the CPU has none). Inlined into callers: the
  /// benchmark's loop reads it twice per `KVM_RUN`.
  @inlinable @inline(__always)
  public static func now() -> UInt64 { ckvm_host_tsc() }
}

/// How a vCPU's TSC relates to the host's: guest TSC = host TSC + offset, the offset
/// somewhere in `low...high` cycles, both counters ticking at `khz`.
///
/// Each reading of the vCPU's `MSR_IA32_TSC` through `KVM_GET_MSRS` is bracketed by two
/// host `rdtsc` readings; the kernel computes the MSR from its own `rdtsc` in between, so
/// that reading bounds the offset to [guest − after, guest − before]. The relation is the
/// intersection of every reading's bounds: as tight as the tightest reading, and empty when
/// the offset was not one constant.
public struct TSCRelation: Sendable, Equatable {
  /// Bounds of guest TSC − host TSC, in cycles.
  public var low: Int64
  public var high: Int64
  /// The vCPU's TSC frequency (`KVM_GET_TSC_KHZ`), which the host's TSC was measured to match.
  public var khz: UInt64
  /// The host TSC's rate measured against `CLOCK_MONOTONIC`, in kHz.
  public var measuredKHz: Double
  /// `KVM_GET_MSRS` readings taken (per vCPU, summed).
  public var readings: Int
  /// What the TSC's steady rate rests on.
  public var basis: TSCBasis
  /// A host TSC reading and the `CLOCK_MONOTONIC` time at it, taken as the relation was made:
  /// two relations' anchors give the TSC's rate over the time between them.
  public var anchor: ClockPair

  public init(
    low: Int64, high: Int64, khz: UInt64, measuredKHz: Double, readings: Int, basis: TSCBasis = .cpuFlags,
    anchor: ClockPair = ClockPair(tsc: 0, ns: 0)
  ) {
    self.low = low
    self.high = high
    self.khz = khz
    self.measuredKHz = measuredKHz
    self.readings = readings
    self.basis = basis
    self.anchor = anchor
  }

  /// The middle of the bounds: the offset used.
  public var offset: Int64 { low + (high - low) / 2 }
  /// Half the width of the bounds, in cycles: no conversion through `offset` is wrong by more.
  public var uncertaintyCycles: Int64 { (high - low + 1) / 2 }
  /// `uncertaintyCycles` in nanoseconds.
  public var uncertaintyNs: Double { nanoseconds(cycles: Double(uncertaintyCycles)) }

  /// Cycles of the vCPU's TSC in nanoseconds.
  public func nanoseconds(cycles: Double) -> Double { cycles * 1e6 / Double(khz) }

  /// Both relations at once (two calibrations of one run, several vCPUs), or nil when their
  /// bounds do not overlap: the offset moved.
  public func intersected(with other: TSCRelation) -> TSCRelation? {
    let low = max(self.low, other.low)
    let high = min(self.high, other.high)
    guard low <= high else { return nil }
    var joined = self
    joined.low = low
    joined.high = high
    joined.readings = readings + other.readings
    return joined
  }
}

/// What a steady TSC rate rests on: the CPU's word (`constant_tsc` and `nonstop_tsc` in
/// /proc/cpuinfo), or only the rate measured over the run, where the CPU gives no such word
/// (QEMU's TCG, for one, cannot offer an invariant TSC).
public enum TSCBasis: String, Sendable, Equatable {
  case cpuFlags = "constant_tsc"
  case measured
}

/// One `KVM_GET_MSRS` reading of a vCPU's `MSR_IA32_TSC`, between two host `rdtsc` readings.
struct TSCReading: Equatable {
  var guest: UInt64
  var before: UInt64
  var after: UInt64
}

/// A host TSC reading and `CLOCK_MONOTONIC` at the same moment (the clock read between two
/// TSC readings, the TSC taken at their midpoint).
public struct ClockPair: Sendable, Equatable {
  public var tsc: Double
  public var ns: Double

  public init(tsc: Double, ns: Double) {
    self.tsc = tsc
    self.ns = ns
  }

  /// Now: of `tries` readings, the one whose two TSC readings lie closest together, so
  /// a reading the thread was preempted in (or, under emulation, a slow clock read) is
  /// not the one kept.
  public static func now(tries: Int = 5) -> ClockPair {
    var best = ClockPair(tsc: 0, ns: 0)
    var narrowest = UInt64.max
    for _ in 0..<max(tries, 1) {
      let before = HostTSC.now()
      var time = timespec()
      clock_gettime(CLOCK_MONOTONIC, &time)
      let after = HostTSC.now()
      guard after &- before < narrowest else { continue }
      narrowest = after &- before
      best = ClockPair(
        tsc: Double(before) / 2 + Double(after) / 2, ns: Double(time.tv_sec) * 1e9 + Double(time.tv_nsec))
    }
    return best
  }

  /// The TSC's rate from this pair to `later`, in kHz (0 when no time passed).
  public func khz(to later: ClockPair) -> Double {
    guard later.ns > ns else { return 0 }
    return (later.tsc - tsc) / (later.ns - ns) * 1e6
  }
}

/// A relation that held across a run: the offset's bounds before and after overlapped, and the
/// host TSC ticked at the vCPU's frequency over the whole run.
public struct TSCSpan: Sendable, Equatable {
  /// The relation made before the run, used to convert.
  public var relation: TSCRelation
  /// The host TSC's rate from the relation before the run to the one after, against `CLOCK_MONOTONIC`.
  public var runKHz: Double
  /// The relative difference of `runKHz` from `KVM_GET_TSC_KHZ`: a wait of t in the run,
  /// converted at `khz`, is off by about t × this.
  public var rateError: Double

  /// No wait up to `longestNs` is off by more than this, in ns: half the offset's bounds, plus
  /// the rate's error over the longest wait.
  public func uncertaintyNs(longestNs: Double) -> Double { relation.uncertaintyNs + rateError * longestNs }
}

/// Why a vCPU's clock cannot be related to the host's: one sentence.
public struct ClockRefusal: Error, Sendable, Equatable, CustomStringConvertible {
  public var reason: String

  public init(_ reason: String) { self.reason = reason }

  public var description: String { reason }
}

/// Relates the vCPUs' TSC to the host's (`TSCRelation`), or says why it cannot.
public enum GuestClock {
  /// The method, in words, for reports.
  public static let method =
    "guest TSC = host TSC + offset; offset bounded by KVM_GET_MSRS(MSR_IA32_TSC) readings each bracketed "
    + "by two host rdtsc readings (intersection of the bounds, before and after the run); cycles converted "
    + "at KVM_GET_TSC_KHZ, checked against the host TSC's rate over CLOCK_MONOTONIC for 10 ms before and "
    + "after the run (within 5%: no TSC scaling) and over the whole run (within 1%: rate_error); a steady "
    + "rate rests on the CPU's constant_tsc and nonstop_tsc (tsc_basis constant_tsc) or, where it reports "
    + "neither, on those measurements alone (tsc_basis measured: a stop or slowdown shorter than 1% of the "
    + "run would go unseen); uncertainty = half the offset's bounds + rate_error × the longest wait"

  /// How far the host TSC's rate over a whole run may stray from `KVM_GET_TSC_KHZ`: the
  /// conversion of every wait in the run rests on it.
  public static let rateTolerance = 0.01
  /// How far the rate measured over 10 ms before a run may stray: that window only tells a
  /// scaled guest TSC (off by far more) from the host's, and under QEMU's TCG a single clock
  /// read can be late by over 100 µs, 1% of the window.
  public static let scalingTolerance = 0.05

  /// Whether the host CPU says its TSC ticks at a constant rate (`constant_tsc`) and does not
  /// stop in deep C-states (`nonstop_tsc`), from the first `flags` line of /proc/cpuinfo.
  /// Nil when the file or the line cannot be read.
  public static func hostTSCFlags(cpuinfo: String? = TextFile.read("/proc/cpuinfo", limit: 64 << 10)) -> (
    constant: Bool, nonstop: Bool
  )? {
    guard let cpuinfo else { return nil }
    for line in cpuinfo.split(separator: "\n") where line.hasPrefix("flags") {
      guard let colon = line.firstIndex(of: ":") else { continue }
      let flags = line[line.index(after: colon)...].split(separator: " ")
      return (flags.contains("constant_tsc"), flags.contains("nonstop_tsc"))
    }
    return nil
  }

  /// Relates every vCPU's TSC to the host's: `readings` `KVM_GET_MSRS` readings per vCPU, their
  /// bounds intersected; the frequency from `KVM_GET_TSC_KHZ`, checked against the host TSC's
  /// rate over `CLOCK_MONOTONIC`. Refused where an ioctl fails, the rates differ, or the
  /// readings do not agree on one offset. `flags` (/proc/cpuinfo's; nil when unknown) only
  /// decide the `basis`: a relation across a run must still pass `span`.
  public static func relate(
    _ vcpus: [VCPU], readings: Int = 32, flags: (constant: Bool, nonstop: Bool)? = hostTSCFlags()
  ) -> Result<TSCRelation, ClockRefusal> {
    #if !(arch(x86_64) || arch(i386))
      return .failure(ClockRefusal("only x86 guests stamp their writes with rdtsc"))
    #else
      // Without the CPU's word for a steady TSC, the rate measured here and over the run
      // (`span`) is all the relation rests on, and the report says so (`TSCBasis.measured`).
      let basis: TSCBasis = flags.map { $0.constant && $0.nonstop } == true ? .cpuFlags : .measured
      guard let first = vcpus.first else { return .failure(ClockRefusal("no vCPU to read a TSC from")) }
      let khz: UInt64
      do {
        khz = UInt64(try first.descriptor.ioctl("KVM_GET_TSC_KHZ", CKVM_GET_TSC_KHZ, value: 0))
      } catch {
        return .failure(ClockRefusal("\(error.description), so the guest TSC's frequency is unknown"))
      }
      guard khz > 0 else { return .failure(ClockRefusal("KVM_GET_TSC_KHZ answered 0 kHz")) }
      let measured = measureHostKHz()
      guard abs(measured / Double(khz) - 1) <= scalingTolerance else {
        return .failure(
          ClockRefusal(
            "the host TSC ticked at \(Int(measured.rounded())) kHz against CLOCK_MONOTONIC, but KVM_GET_TSC_KHZ "
              + "says the guest's ticks at \(khz) kHz: a scaled or unsteady TSC, which cmmio does not relate"))
      }
      let anchor = ClockPair.now()
      var relation: TSCRelation?
      for (index, vcpu) in vcpus.enumerated() {
        var taken: [TSCReading] = []
        for _ in 0..<max(readings, 1) {
          var reading = TSCReading(guest: 0, before: 0, after: 0)
          guard ckvm_read_guest_tsc(vcpu.descriptor.rawValue, &reading.guest, &reading.before, &reading.after) == 0
          else {
            let error = SystemCallError(operation: "KVM_GET_MSRS (MSR_IA32_TSC)", code: errno)
            return .failure(ClockRefusal("\(error.description), so the guest TSC cannot be read"))
          }
          taken.append(reading)
        }
        let low: Int64
        let high: Int64
        switch offsetBounds(taken, vcpu: index, khz: khz, measuredKHz: measured) {
        case .success(let bounds): (low, high) = bounds
        case .failure(let refusal): return .failure(refusal)
        }
        let this = TSCRelation(
          low: low, high: high, khz: khz, measuredKHz: measured, readings: max(readings, 1), basis: basis,
          anchor: anchor)
        if let previous = relation {
          guard let joined = previous.intersected(with: this) else {
            return .failure(ClockRefusal("vCPU \(index)'s TSC offset differs from vCPU 0's: no one relation holds"))
          }
          relation = joined
        } else {
          relation = this
        }
      }
      guard let relation else { return .failure(ClockRefusal("no vCPU to read a TSC from")) }
      return .success(relation)
    #endif
  }

  /// The offset's bounds from one vCPU's readings, in the order taken: the intersection of
  /// each reading's [guest − after, guest − before]. Refused when they do not intersect, and
  /// then, where the guest TSC did not keep pace with the host's across the readings, saying
  /// so: KVM answers `MSR_IA32_TSC` for userspace as the host TSC times the vCPU's L1 scaling
  /// ratio plus its offset, and `set_tsc_khz()` (arch/x86/kvm/x86.c) leaves that ratio at 0 when
  /// the vCPU's rate is below the host's `tsc_khz` by more than `tsc_tolerance_ppm` and the CPU
  /// has no TSC scaling; the reading is then the offset alone, a TSC that never advances.
  static func offsetBounds(_ readings: [TSCReading], vcpu: Int, khz: UInt64, measuredKHz: Double) -> Result<
    (low: Int64, high: Int64), ClockRefusal
  > {
    var low = Int64.min
    var high = Int64.max
    for reading in readings {
      low = max(low, Int64(bitPattern: reading.guest &- reading.after))
      high = min(high, Int64(bitPattern: reading.guest &- reading.before))
    }
    if low <= high, !readings.isEmpty { return .success((low, high)) }
    if let first = readings.first, let last = readings.last, last.after > first.before {
      let host = last.after - first.before
      let guest = Int64(bitPattern: last.guest &- first.guest)
      if guest < Int64(host / 2) {
        return .failure(
          ClockRefusal(
            "vCPU \(vcpu)'s TSC, read through KVM_GET_MSRS, advanced \(guest) cycles while the host's advanced "
              + "\(host): the kernel is not reporting the vCPU's TSC (KVM_GET_TSC_KHZ says \(khz) kHz, the host TSC "
              + "ticked at \(Int(measuredKHz.rounded())) kHz; a KVM without TSC scaling answers this way when the "
              + "vCPU's rate is below the host's tsc_khz beyond its tolerance, its L1 TSC scaling ratio left at 0)"))
      }
    }
    return .failure(
      ClockRefusal(
        "vCPU \(vcpu)'s TSC readings (KVM_GET_MSRS) do not agree on one offset from the host TSC: "
          + "the relation is unstable"))
  }

  /// Checks a relation made before a run against one made after it: the offset's bounds must
  /// overlap (the offset did not move), and the host TSC must have ticked at `KVM_GET_TSC_KHZ`
  /// within `rateTolerance` from one to the other (it neither stopped nor changed rate for
  /// more than that share of the run, which is all a `TSCBasis.measured` relation rests on).
  public static func span(before: TSCRelation, after: TSCRelation) -> Result<TSCSpan, ClockRefusal> {
    guard before.intersected(with: after) != nil else {
      return .failure(
        ClockRefusal(
          "the guest TSC's offset from the host's moved during the run (bounds [\(before.low), \(before.high)] "
            + "cycles before, [\(after.low), \(after.high)] after): the clocks do not keep one relation"))
    }
    let khz = Double(before.khz)
    let runKHz = before.anchor.khz(to: after.anchor)
    guard abs(runKHz / khz - 1) <= rateTolerance else {
      return .failure(
        ClockRefusal(
          "over the run the host TSC ticked at \(Int(runKHz.rounded())) kHz against CLOCK_MONOTONIC, not the "
            + "\(before.khz) kHz of KVM_GET_TSC_KHZ: it stopped or changed rate"))
    }
    return .success(TSCSpan(relation: before, runKHz: runKHz, rateError: abs(runKHz / khz - 1)))
  }

  /// The host TSC's rate in kHz over about 10 ms of `CLOCK_MONOTONIC`.
  static func measureHostKHz() -> Double {
    let start = ClockPair.now()
    var pause = timespec(tv_sec: 0, tv_nsec: 10_000_000)
    var left = timespec()
    while nanosleep(&pause, &left) != 0 && errno == EINTR { pause = left }
    return start.khz(to: ClockPair.now())
  }
}
