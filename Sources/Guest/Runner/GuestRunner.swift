import KVM
import Platform

/// How a guest write reached userspace.
public enum Delivery: String, Sendable, Equatable {
  /// Found in the coalesced ring.
  case coalesced
  /// Seen as its own `KVM_EXIT_MMIO` or `KVM_EXIT_IO`.
  case exit
}

/// A guest write as userspace saw it: the write, and how it arrived.
public struct ObservedWrite: Equatable, Sendable, CustomStringConvertible {
  public var write: GuestWrite
  public var delivery: Delivery

  public init(_ write: GuestWrite, delivery: Delivery) {
    self.write = write
    self.delivery = delivery
  }

  public init(space: IOSpace, address: UInt64, length: UInt32, data: UInt64, delivery: Delivery) {
    self.init(GuestWrite(space: space, address: address, length: length, data: data), delivery: delivery)
  }

  /// An entry found in the ring.
  public init(_ entry: RingEntry) {
    self.init(entry, delivery: .coalesced)
  }

  public var space: IOSpace {
    get { write.space }
    set { write.space = newValue }
  }
  public var address: UInt64 {
    get { write.address }
    set { write.address = newValue }
  }
  public var length: UInt32 {
    get { write.length }
    set { write.length = newValue }
  }
  public var data: UInt64 {
    get { write.data }
    set { write.data = newValue }
  }

  /// Whether this is the write `expected` describes: address, length, kind and data.
  public func matches(_ expected: ExpectedWrite) -> Bool { write == expected }

  public var description: String { "\(write) (\(delivery.rawValue))" }
}

/// What one run of a guest cost.
public struct RunCounts: Sendable, Equatable {
  /// `KVM_RUN` calls made.
  public var runs = 0
  /// Writes that exited to userspace (`KVM_EXIT_MMIO`/`KVM_EXIT_IO` writes).
  public var writeExits = 0
  /// Reads that exited (doorbells, probes of reads).
  public var readExits = 0
  /// Entries taken from the ring.
  public var ringEntries = 0
  /// `KVM_RUN` returns with `EINTR` that were retried.
  public var interruptions = 0

  public init() {}

  /// Every return to userspace that was an MMIO or PIO exit.
  public var userspaceExits: Int { writeExits + readExits }
}

/// Why a guest run stopped before `hlt`.
public enum GuestRunError: Error, Sendable, Equatable, CustomStringConvertible {
  case kvm(SystemCallError)
  case corruption(RingCorruption)
  /// An exit no cmmio guest should cause (shutdown, internal error, …), with the guest's rip.
  case unexpectedExit(VCPUExit, rip: UInt64)
  /// SIGINT or SIGTERM arrived.
  case interrupted(signal: Int32)
  /// The run went past its deadline: the timeout's length, when it was given as one.
  case timedOut(seconds: Double?)

  public var description: String {
    switch self {
    case .kvm(let error): return error.description
    case .corruption(let error): return error.description
    case .unexpectedExit(let exit, let rip):
      return "the guest stopped with \(exit.kernelName) at rip \(NumberFormat.hex(rip)) (\(exit))"
    case .interrupted(let signal): return Interrupted(signal: signal).description
    case .timedOut(let seconds?): return "the guest did not halt within \(NumberFormat.compact(seconds)) seconds"
    case .timedOut(nil): return "the guest did not halt before its deadline"
    }
  }
}

/// Runs one vCPU's guest to `hlt`, accounting for every write it makes.
///
/// Before handling any exit it drains the ring, as the kernel documentation
/// requires, so the writes are observed in the order the guest made them: the
/// coalesced ones before the access that exited.
public struct GuestRunner {
  public let vcpu: VCPU
  /// The ring reader; nil runs without draining (no zone, or no ring).
  public var cursor: RingCursor?
  /// Monotonic nanoseconds after which an interrupted `KVM_RUN` ends the run.
  public var deadline: UInt64?
  /// The timeout `deadline` was set from, for the message; see `setTimeout(_:)`.
  public private(set) var timeout: Double?

  public init(vcpu: VCPU, ringSize: UInt32? = nil) throws(RingCorruption) {
    self.vcpu = vcpu
    self.cursor = try vcpu.ring.map { ring throws(RingCorruption) in try RingCursor(ring: ring, ringSize: ringSize) }
  }

  /// Ends the run, at the next interrupted `KVM_RUN`, once `seconds` have passed from now.
  /// Something must still kick the vCPU (a signal to its thread) for a guest that never exits.
  public mutating func setTimeout(_ seconds: Double) {
    timeout = seconds
    deadline = Clock.deadline(afterSeconds: seconds)
  }

  /// Runs until `hlt`, calling `observe` for each write in guest order.
  public mutating func run(_ observe: (ObservedWrite) -> Void) throws(GuestRunError) -> RunCounts {
    var counts = RunCounts()
    let deadline = self.deadline
    while true {
      let exit: VCPUExit
      do {
        // Each interruption was one KVM_RUN; resume unless SIGINT or SIGTERM arrived or
        // the deadline passed.
        exit = try vcpu.run(resumingWhile: {
          counts.runs += 1
          counts.interruptions += 1
          if Interruption.signal != nil { return false }
          if let deadline, Clock.monotonicNanoseconds() >= deadline { return false }
          return true
        })
      } catch {
        throw .kvm(error)
      }
      if exit != .interrupted { counts.runs += 1 }
      if cursor != nil {
        do {
          counts.ringEntries += try cursor!.drain { observe(ObservedWrite($0)) }
        } catch {
          throw .corruption(error)
        }
      }
      if let write = exit.write {
        counts.writeExits += 1
        observe(ObservedWrite(write, delivery: .exit))
        continue
      }
      switch exit {
      case .halt:
        return counts
      case .mmio, .io:
        // A read: the device answers 0 (kvm_run's data is already zeroed or stale; clear it).
        counts.readExits += 1
        vcpu.answerReadWithZero()
      case .interrupted:
        if let signal = Interruption.signal { throw .interrupted(signal: signal) }
        throw .timedOut(seconds: timeout)
      default:
        let rip = (try? vcpu.instructionPointer()) ?? 0
        throw .unexpectedExit(exit, rip: rip)
      }
    }
  }

  /// Runs to `hlt` and returns every write in order.
  public mutating func collect() throws(GuestRunError) -> (writes: [ObservedWrite], counts: RunCounts) {
    var writes: [ObservedWrite] = []
    let counts = try run { writes.append($0) }
    return (writes, counts)
  }

}
