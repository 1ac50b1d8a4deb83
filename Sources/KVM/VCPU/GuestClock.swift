import CKVM
import Platform

/// The host CPU's time-stamp counter.
public enum HostTSC {
  /// `rdtsc` on the calling CPU (0 where the CPU has none).
  @inline(__always)
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

  public init(low: Int64, high: Int64, khz: UInt64, measuredKHz: Double, readings: Int) {
    self.low = low
    self.high = high
    self.khz = khz
    self.measuredKHz = measuredKHz
    self.readings = readings
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
    return TSCRelation(low: low, high: high, khz: khz, measuredKHz: measuredKHz, readings: readings + other.readings)
  }
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
    + "at KVM_GET_TSC_KHZ, checked against the host TSC's rate over CLOCK_MONOTONIC"

  /// How far the host TSC's measured rate may stray from `KVM_GET_TSC_KHZ` (a scaled guest
  /// TSC would differ by far more).
  public static let rateTolerance = 0.01

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
  /// rate over `CLOCK_MONOTONIC`. Refused where the host does not promise a constant, nonstop
  /// TSC, an ioctl fails, the rates differ, or the readings do not agree on one offset.
  public static func relate(
    _ vcpus: [VCPU], readings: Int = 32, flags: (constant: Bool, nonstop: Bool)? = hostTSCFlags()
  ) -> Result<TSCRelation, ClockRefusal> {
    #if !(arch(x86_64) || arch(i386))
      return .failure(ClockRefusal("only x86 guests stamp their writes with rdtsc"))
    #else
      guard let flags else {
        return .failure(ClockRefusal("/proc/cpuinfo has no flags line, so the host TSC's behaviour is unknown"))
      }
      let missing = [flags.constant ? nil : "constant_tsc", flags.nonstop ? nil : "nonstop_tsc"].compactMap { $0 }
      guard missing.isEmpty else {
        return .failure(
          ClockRefusal(
            "the host CPU does not report \(missing.joined(separator: " and ")) (/proc/cpuinfo): its TSC may change "
              + "rate or stop, so a guest TSC stamp cannot be turned into host time"))
      }
      guard let first = vcpus.first else { return .failure(ClockRefusal("no vCPU to read a TSC from")) }
      let khz: UInt64
      do {
        khz = UInt64(try first.descriptor.ioctl("KVM_GET_TSC_KHZ", CKVM_GET_TSC_KHZ, value: 0))
      } catch {
        return .failure(ClockRefusal("\(error.description), so the guest TSC's frequency is unknown"))
      }
      guard khz > 0 else { return .failure(ClockRefusal("KVM_GET_TSC_KHZ answered 0 kHz")) }
      let measured = measureHostKHz()
      guard abs(measured / Double(khz) - 1) <= rateTolerance else {
        return .failure(
          ClockRefusal(
            "the host TSC ticked at \(Int(measured.rounded())) kHz against CLOCK_MONOTONIC, but KVM_GET_TSC_KHZ "
              + "says the guest's ticks at \(khz) kHz: a scaled or unsteady TSC, which cmmio does not relate"))
      }
      var relation: TSCRelation?
      for (index, vcpu) in vcpus.enumerated() {
        var low = Int64.min
        var high = Int64.max
        for _ in 0..<max(readings, 1) {
          var guest: UInt64 = 0
          var before: UInt64 = 0
          var after: UInt64 = 0
          guard ckvm_read_guest_tsc(vcpu.descriptor.rawValue, &guest, &before, &after) == 0 else {
            let error = SystemCallError(operation: "KVM_GET_MSRS (MSR_IA32_TSC)", code: errno)
            return .failure(ClockRefusal("\(error.description), so the guest TSC cannot be read"))
          }
          low = max(low, Int64(bitPattern: guest &- after))
          high = min(high, Int64(bitPattern: guest &- before))
        }
        guard low <= high else {
          return .failure(
            ClockRefusal(
              "vCPU \(index)'s TSC readings (KVM_GET_MSRS) do not agree on one offset from the host TSC: "
                + "the relation is unstable"))
        }
        let this = TSCRelation(low: low, high: high, khz: khz, measuredKHz: measured, readings: max(readings, 1))
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

  /// The host TSC's rate in kHz over about 10 ms of `CLOCK_MONOTONIC`; each end is a
  /// monotonic reading between two TSC readings, taken at the TSC's midpoint.
  static func measureHostKHz() -> Double {
    func pair() -> (tsc: Double, ns: Double) {
      let before = HostTSC.now()
      var time = timespec()
      clock_gettime(CLOCK_MONOTONIC, &time)
      let after = HostTSC.now()
      let ns = Double(time.tv_sec) * 1e9 + Double(time.tv_nsec)
      return (Double(before) / 2 + Double(after) / 2, ns)
    }
    let start = pair()
    var pause = timespec(tv_sec: 0, tv_nsec: 10_000_000)
    var left = timespec()
    while nanosleep(&pause, &left) != 0 && errno == EINTR { pause = left }
    let end = pair()
    guard end.ns > start.ns else { return 0 }
    return (end.tsc - start.tsc) / (end.ns - start.ns) * 1e6
  }
}
