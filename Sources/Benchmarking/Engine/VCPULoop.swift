import Guest
import KVM
import Platform

/// Why a run failed.
public enum BenchFailure: Error, Sendable, Equatable, CustomStringConvertible {
  /// An ioctl or system call failed (`KVM_RUN`, `KVM_SET_REGS`, `pthread_create`, …).
  case system(SystemCallError)
  case corruption(RingCorruption)
  /// An exit the benchmark guest never causes, with the vCPU and its `rip`.
  case unexpectedExit(vcpu: Int, exit: String, rip: UInt64)
  /// A thread could not be pinned to a CPU (`pthread_setaffinity_np`'s error).
  case pinning(cpu: Int, code: Int32)
  /// The run's timeout passed before every guest halted.
  case timedOut(seconds: Double, what: String)

  public var description: String {
    switch self {
    case .system(let error): return error.description
    case .corruption(let error): return error.description
    case .unexpectedExit(let vcpu, let exit, let rip):
      return "vCPU \(vcpu)'s guest stopped with \(exit) at rip \(NumberFormat.hex(rip))"
    case .pinning(let cpu, let code):
      return "pinning a thread to CPU \(cpu) failed: \(Errno.name(code)) (\(Errno.text(code)))"
    case .timedOut(let seconds, let what):
      return "\(what) did not finish within \(NumberFormat.compact(seconds)) seconds"
    }
  }
}

/// What one vCPU thread measured in one run.
struct VCPURunRecord: Sendable {
  /// Monotonic ns when the thread left the start barrier and when its loop ended.
  var start: UInt64 = 0
  var end: UInt64 = 0
  var writeExits = 0
  var readExits = 0
  var kvmRuns = 0
  var observedCPU = -1
  var halted = false
  var failure: BenchFailure?
  var latency = RunLatency()
}

/// One vCPU's thread body: the benchmark's `KVM_RUN` loop.
///
/// The loop is written for the measurement rather than reuse (the general
/// `GuestRunner` decodes every exit into an enum and calls a closure per write):
/// between two `KVM_RUN`s it reads `kvm_run` in place, records the round trip in a
/// preallocated histogram, and hands the exit's write to the `DrainCoordinator`,
/// which drains the ring and checks each write against its vCPU's expected value.
/// Nothing on this path allocates.
final class VCPUWorker: @unchecked Sendable {
  let vcpu: VCPU
  let index: Int
  /// CPU to pin the thread to, if any.
  let cpu: Int?
  /// The doorbell register a `--flush-every` loop reads.
  let doorbell: UInt64
  /// Written by the worker's thread, read after it is joined.
  var record = VCPURunRecord()

  init(vcpu: VCPU, index: Int, cpu: Int?) {
    self.vcpu = vcpu
    self.index = index
    self.cpu = cpu
    self.doorbell = GuestLayout.mmioDoorbell
  }

  /// Runs on the vCPU's own thread.
  func run(control: RunControl, drain: DrainCoordinator) {
    Interruption.prepareVCPUThread()
    // Only for speed: a failure leaves the shared table, which is merely slower.
    _ = Host.privateFileTable()
    var result = VCPURunRecord()
    if let cpu {
      let code = Host.pinCurrentThread(to: cpu)
      if code != 0 { result.failure = .pinning(cpu: cpu, code: code) }
    }
    control.waitAtStart()
    if result.failure != nil {
      control.requestStop(.failed)
    } else if control.stopReason == .none {
      loop(control: control, drain: drain, into: &result)
    }
    record = result
    control.vcpuFinished()
  }

  private func loop(control: RunControl, drain: DrainCoordinator, into result: inout VCPURunRecord) {
    let vcpu = self.vcpu
    let doorbell = self.doorbell
    var latency = RunLatency()
    var writeExits = 0
    var readExits = 0
    var kvmRuns = 0
    var halted = false
    var failure: BenchFailure?
    result.observedCPU = Host.currentCPU()
    let timer = RunTimer()
    loop: while true {
      let before = timer.now()
      let exit: VCPUExit
      do {
        // An interruption is a kick: go straight back in unless the run is being stopped.
        // Any errno (EAGAIN and ENOMEM from an environment that refuses the VM's worker
        // thread or memory) answers the same on a retry: fail.
        exit = try vcpu.run(resumingWhile: { control.stopReason == .none })
      } catch {
        failure = .system(error)
        break loop
      }
      let after = timer.now()
      if case .interrupted = exit { break loop }
      kvmRuns &+= 1
      latency.record(after &- before)
      switch exit {
      case .mmio(let address, let length, true, let data):
        writeExits &+= 1
        drain.drainAtExit(address: address, length: length, space: .mmio, data: data, isWrite: true)
      case .mmio(let address, _, false, _) where address == doorbell:
        // The flush: a read of a non-coalesced register; the device answers whatever is there.
        readExits &+= 1
        drain.drainAtExit()
      case .io(let port, let size, true, 1, let data) where size <= 8:
        writeExits &+= 1
        drain.drainAtExit(address: UInt64(port), length: size, space: .pio, data: data, isWrite: true)
      case .halt:
        drain.drainAtExit(halted: true)
        halted = true
        break loop
      default:
        failure = unexpected(exit)
        break loop
      }
    }
    let (nanosecondsPerTick, end) = timer.finish()
    latency.setNanosecondsPerUnit(nanosecondsPerTick)
    result.start = timer.startedAt
    result.end = end
    result.writeExits = writeExits
    result.readExits = readExits
    result.kvmRuns = kvmRuns
    result.halted = halted
    result.failure = failure
    result.latency = latency
    if failure != nil { control.requestStop(.failed) }
  }

  /// An exit the benchmark guest never makes, described as the kernel names it.
  private func unexpected(_ exit: VCPUExit) -> BenchFailure {
    switch exit {
    case .mmio(let address, _, false, _):
      return unexpected("KVM_EXIT_MMIO read of \(NumberFormat.hex(address))")
    case .io(let port, _, let isOut, let count, _):
      // kvm_run.io.direction as the kernel numbers it: KVM_EXIT_IO_IN 0, KVM_EXIT_IO_OUT 1.
      return unexpected("KVM_EXIT_IO (direction \(isOut ? 1 : 0), count \(count)) at port \(port)")
    default:
      return unexpected(exit.kernelName)
    }
  }

  private func unexpected(_ exit: String) -> BenchFailure {
    .unexpectedExit(vcpu: index, exit: exit, rip: (try? vcpu.instructionPointer()) ?? 0)
  }
}

/// The `thread` drain strategy's drainer: consumes entries as they appear until every
/// vCPU thread has ended, serialized with the vCPU threads' own drains at exits.
final class DrainerWorker: @unchecked Sendable {
  let cpu: Int?
  /// `--drain poll`: the v2 buffer fd to wait on with `poll()` before each drain.
  let pollFD: Int32?
  var observedCPU = -1
  var failure: BenchFailure?
  /// The thread drain's CPU time over its wall time in the run: near 1 for a drainer that
  /// had its CPU to itself, lower when it was off it (preempted, stolen, blocked). Nil for
  /// the `poll()` drainer, which sleeps by design.
  var cpuShare: Double?

  init(cpu: Int?, pollFD: Int32? = nil) {
    self.cpu = cpu
    self.pollFD = pollFD
  }

  func run(control: RunControl, drain: DrainCoordinator, vcpus: Int) {
    Interruption.prepareVCPUThread()
    if let cpu {
      let code = Host.pinCurrentThread(to: cpu)
      if code != 0 { failure = .pinning(cpu: cpu, code: code) }
    }
    control.waitAtStart()
    guard failure == nil else {
      control.requestStop(.failed)
      return
    }
    observedCPU = Host.currentCPU()
    let wallStart = Clock.monotonicNanoseconds()
    let cpuStart = Clock.threadCPUNanoseconds()
    defer {
      let wall = Clock.monotonicNanoseconds() &- wallStart
      if pollFD == nil && wall > 0 {
        cpuShare = min(Double(Clock.threadCPUNanoseconds() &- cpuStart) / Double(wall), 1)
      }
    }
    while control.finishedVCPUs < vcpus && control.stopReason == .none {
      if let pollFD {
        // Wakes when a coalesced write makes the ring non-empty (POLLIN); the 1 ms timeout
        // only bounds how late the end of the run is noticed.
        var entry = pollfd(fd: pollFD, events: Int16(POLLIN), revents: 0)
        _ = poll(&entry, 1, 1)
        _ = drain.drain()
      } else if drain.drain() == 0 {
        sched_yield()
      }
    }
  }
}
