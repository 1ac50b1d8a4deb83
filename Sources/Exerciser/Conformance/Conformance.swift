import Guest
import KVM
import Platform

/// `cmmio verify`: the running kernel's coalesced MMIO/PIO behaviour checked
/// against what `virt/kvm/coalesced_mmio.c` does, in the spirit of the kernel's own
/// `tools/testing/selftests/kvm/coalesced_io_test.c`.
///
/// Every check is split in two: gathering (`Conformance.Gather`, real guests on
/// the real kernel) produces plain observations (ring snapshots, guest events,
/// ioctl outcomes), and judging (`Conformance.Judge`) is a pure function of those
/// observations. Tests feed the judges wrong observations to show each can fail.
public enum Conformance {
  /// One verdict: a line of the report.
  public struct Check: Sendable, Equatable, CustomStringConvertible {
    /// Stable name scripts can rely on, such as `ring-fill-mmio`.
    public var name: String
    public var passed: Bool
    /// One sentence: what was seen when it passed, the first problem when it failed.
    public var detail: String

    public init(name: String, passed: Bool, detail: String) {
      self.name = name
      self.passed = passed
      self.detail = detail
    }

    public var description: String { "\(passed ? "PASS" : "FAIL") \(name): \(detail)" }
  }

  /// What an ioctl answered: 0, or -1 with an errno.
  public enum Outcome: Sendable, Equatable, CustomStringConvertible {
    case ok
    case failed(errno: Int32)

    public init(_ body: () throws(SystemCallError) -> Void) {
      do {
        try body()
        self = .ok
      } catch {
        self = .failed(errno: error.code)
      }
    }

    public var description: String {
      switch self {
      case .ok: "returned 0"
      case .failed(let code): "failed with \(Errno.name(code)) (\(Errno.text(code)))"
      }
    }
  }

  /// One thing userspace saw while a guest ran, in the order it saw it.
  public enum Event: Sendable, Equatable, CustomStringConvertible {
    /// An entry found in the ring (drained before the exit that follows it).
    case coalesced(RingEntry)
    /// A write that exited: `KVM_EXIT_MMIO` with `is_write`, or `KVM_EXIT_IO` out.
    case writeExit(GuestWrite)
    /// A read that exited: `KVM_EXIT_MMIO` without `is_write`, or `KVM_EXIT_IO` in.
    case readExit(IOSpace, address: UInt64, length: UInt32)
    /// `KVM_EXIT_HLT`: the program's end.
    case halt
    /// Any other exit (shutdown, internal error, …), described.
    case unexpected(String)

    /// A write that exited, given by its fields.
    public static func writeExit(_ space: IOSpace, address: UInt64, length: UInt32, data: UInt64) -> Event {
      .writeExit(GuestWrite(space: space, address: address, length: length, data: data))
    }

    /// The event an exit is, as the guest made it.
    public init(exit: VCPUExit) {
      if let write = exit.write {
        self = .writeExit(write)
        return
      }
      switch exit {
      case .mmio(let address, let length, false, _): self = .readExit(.mmio, address: address, length: length)
      case .io(let port, let size, false, _, _): self = .readExit(.pio, address: UInt64(port), length: size)
      case .halt: self = .halt
      default: self = .unexpected("\(exit.kernelName) (\(exit))")
      }
    }

    /// `write` delivered as `delivery`: the event a conforming kernel shows for it.
    public init(_ write: ExpectedWrite, _ delivery: Delivery) {
      switch delivery {
      case .coalesced: self = .coalesced(write)
      case .exit: self = .writeExit(write)
      }
    }

    public var description: String {
      switch self {
      case .coalesced(let write): return "coalesced \(write)"
      case .writeExit(let write): return "exit on \(write)"
      case .readExit(let space, let address, let length):
        return "exit on \(space) read of \(length) at \(NumberFormat.hex(address))"
      case .halt: return "hlt"
      case .unexpected(let text): return text
      }
    }
  }

  /// A feature the checks need is missing, or a guest could not be run as planned.
  public struct Unavailable: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
  }
}
