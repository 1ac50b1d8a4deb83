import CMMIOTestSupport
import Foundation
import Guest
import KVM
import Synchronization
import Testing

/// A guest that stays inside `KVM_RUN` for a while between writes, so a signal
/// is likely to find it in the guest rather than in userspace (MMIO shown; PIO
/// uses `mov dx, port` and `out dx, eax`):
///
///       mov eax, writes
///       mov ebx, address
///     outer:
///       mov ecx, delay
///     inner:
///       dec ecx
///       jnz inner
///       mov dword [ebx], eax     ; write i carries writes − i
///       dec eax
///       jnz outer
///       hlt
private func delayedWrites(writes: UInt32, delay: UInt32, space: IOSpace = .mmio, address: UInt64) -> GuestProgram {
  var program = GuestProgram()
  program.append(X86.mov(.eax, writes))
  switch space {
  case .mmio: program.append(X86.mov(.ebx, UInt32(address)))
  case .pio: program.append(X86.movDX(UInt16(address)))
  }
  let outer = program.nextAddress
  program.append(X86.mov(.ecx, delay))
  let inner = program.nextAddress
  program.append(X86.dec(.ecx))
  program.append(X86.jnz(Int8(Int(inner) - Int(program.nextAddress + 2)), target: inner))
  program.append(space == .mmio ? X86.store(width: 4) : X86.out(width: 4))
  program.append(X86.dec(.eax))
  program.append(X86.jnz(Int8(Int(outer) - Int(program.nextAddress + 2)), target: outer))
  program.halt()
  return program
}

/// A guest that only spins in a delay loop, then halts: 2 × 10^6 iterations, about
/// 10 s inside one `KVM_RUN` on this host's emulated guest (measured), far longer
/// than a kick takes to land, yet finite: a lost kick fails the test, never hangs it.
private func longLoop() -> GuestProgram {
  delayedWrites(writes: 1, delay: 2_000_000, address: GuestLayout.ramTarget)
}

/// A thread of its own that runs `body` (a vCPU must be run from one thread, and
/// a signal must be aimed at that thread), publishing its pthread id so it can be kicked.
private final class GuestThread<Result: Sendable>: Sendable {
  private struct State: Sendable {
    var thread: UInt?
    var result: Result?
  }
  private let state = Mutex(State())

  init(_ body: @escaping @Sendable () -> Result) {
    let thread = Thread { [self] in
      // Threads started from the test runner's (libdispatch) threads inherit a mask
      // that blocks SIGUSR1, SIGINT and SIGTERM: blocked, a kick stays pending and
      // KVM_RUN never sees it. A vCPU thread must take them.
      var signals = sigset_t()
      sigemptyset(&signals)
      for signal in [SIGUSR1, SIGINT, SIGTERM] { sigaddset(&signals, signal) }
      pthread_sigmask(SIG_UNBLOCK, &signals, nil)
      state.withLock { $0.thread = Interruption.currentThread }
      let result = body()
      state.withLock { $0.result = result }
    }
    thread.start()
  }

  var result: Result? { state.withLock { $0.result } }

  /// Sends `signal` to the thread once it has started; false if it has not yet.
  func signal(_ signal: Int32) -> Bool {
    guard let thread = state.withLock({ $0.thread }) else { return false }
    return pthread_kill(pthread_t(thread), signal) == 0
  }

  /// Sends SIGUSR1 (a no-op handler without `SA_RESTART`) every `microseconds` until
  /// `body` returns; returns the result and the number of kicks sent.
  ///
  /// It sleeps on the calling thread rather than with `Task.sleep`: a suspended
  /// task may wait long for a cooperative thread while other suites' synchronous
  /// tests hold them all (seen under ThreadSanitizer), and the guest would run on unkicked.
  func kickUntilDone(every microseconds: UInt32 = 1000) -> (Result, kicks: Int) {
    var kicks = 0
    while true {
      let (thread, result) = state.withLock { ($0.thread, $0.result) }
      if let result { return (result, kicks) }
      if let thread {
        #expect(Interruption.kick(thread) == 0)
        kicks += 1
      }
      usleep(microseconds)
    }
  }
}

/// What a guest thread reports back: the writes in order and the counts, or the error.
private struct RunOutcome: Sendable {
  var writes: [ObservedWrite] = []
  var counts = RunCounts()
  var error: GuestRunError?

  /// Runs `vcpu`'s guest to `hlt` with a `GuestRunner`, on the calling thread.
  init(vcpu: VCPU, ringSize: UInt32? = nil, deadline: UInt64? = nil) {
    var runner: GuestRunner
    do {
      runner = try GuestRunner(vcpu: vcpu, ringSize: ringSize)
    } catch {
      self.error = .corruption(error)
      return
    }
    runner.deadline = deadline
    do {
      (writes, counts) = try runner.collect()
    } catch {
      self.error = error
    }
  }
}

/// Signals go to the whole process (handlers, the recorded SIGINT): these tests
/// run one at a time.
@Suite(
  "KVM_RUN and EINTR: kicks, retries, deadlines", .serialized,
  .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct EINTRTests {
  init() {
    Interruption.install()
  }

  @Test("a signal sent to the thread inside KVM_RUN makes VCPU.run() return .interrupted")
  func runReturnsInterrupted() throws {
    #expect(Interruption.signal == nil)
    let machine = try GuestMachine(device: KVMDevice())
    // A delay loop of seconds at this host's emulation speed, then hlt: a kick ends
    // the run long before, unless EINTR is not reported.
    machine.load(longLoop())
    let vcpu = try machine.addVCPU()
    let guest = GuestThread { () -> [VCPUExit] in
      var exits: [VCPUExit] = []
      repeat {
        do { exits.append(try vcpu.run()) } catch { return exits }
      } while exits.last != .halt && exits.last != .interrupted
      return exits
    }
    let (exits, kicks) = guest.kickUntilDone()
    #expect(kicks >= 1)
    #expect(exits == [.interrupted], "the run ended with \(exits) after \(kicks) kicks")
    #expect(Interruption.signal == nil)
  }

  @Test(
    "GuestRunner retries KVM_RUN after EINTR and still sees every write, in order",
    arguments: [(IOSpace.mmio, UInt32(169)), (.mmio, 1), (.pio, 169), (.pio, 1)])
  func runnerRetries(space: IOSpace, ringSize: UInt32) throws {
    #expect(Interruption.signal == nil)
    let machine = try GuestMachine(device: KVMDevice())
    let writes: UInt32 = 600
    let address = space == .mmio ? GuestLayout.mmioDevice : UInt64(GuestLayout.pioDevice)
    try machine.vm.register(CoalescedZone(address: address, size: 8, space: space))
    machine.load(delayedWrites(writes: writes, delay: 100, space: space, address: address))
    let vcpu = try machine.addVCPU()
    let ringSize = min(ringSize, try #require(vcpu.ring).usableEntries)
    let guest = GuestThread { RunOutcome(vcpu: vcpu, ringSize: ringSize) }
    let (outcome, kicks) = guest.kickUntilDone()
    #expect(outcome.error == nil)
    #expect(outcome.writes.count == Int(writes))
    let inOrder = outcome.writes.enumerated().allSatisfy { index, write in
      write.space == space && write.address == address && write.length == 4
        && write.data == UInt64(writes) - UInt64(index)
    }
    #expect(inOrder)
    let counts = outcome.counts
    #expect(counts.ringEntries + counts.writeExits == Int(writes))
    #expect(counts.interruptions >= 1, "\(kicks) kicks, none landed inside KVM_RUN")
    // Every KVM_RUN ended in a write exit, an EINTR, or the final hlt.
    #expect(counts.runs == counts.writeExits + counts.interruptions + 1)
    // A ring of K makes at most every (K+1)th write exit; an EINTR drains early,
    // so it can only make fewer writes exit, never lose one.
    #expect(counts.writeExits <= Int(writes) / (Int(ringSize) + 1))
    #expect(Interruption.signal == nil)
  }

  @Test("a kick after the deadline ends the run with .timedOut")
  func deadlineInThePast() throws {
    #expect(Interruption.signal == nil)
    let machine = try GuestMachine(device: KVMDevice())
    machine.load(longLoop())
    let vcpu = try machine.addVCPU()
    let guest = GuestThread { RunOutcome(vcpu: vcpu, deadline: Clock.monotonicNanoseconds() - 1) }
    let (outcome, kicks) = guest.kickUntilDone()
    guard case .timedOut = outcome.error else {
      Issue.record("expected .timedOut after \(kicks) kicks, got \(String(describing: outcome.error))")
      return
    }
    #expect(outcome.counts.runs == 0, "the run was not retried past its deadline")
  }

  @Test("SIGINT inside KVM_RUN ends the run with .interrupted(SIGINT), not a retry")
  func sigintIsNotRetried() throws {
    #expect(Interruption.signal == nil)
    defer { Interruption.clear() }
    let machine = try GuestMachine(device: KVMDevice())
    machine.load(longLoop())
    let vcpu = try machine.addVCPU()
    let guest = GuestThread { RunOutcome(vcpu: vcpu) }
    // SIGINT, aimed at the vCPU thread once it exists; the handler records it.
    while !guest.signal(SIGINT) { usleep(1000) }
    // If SIGINT arrived before KVM_RUN began, later kicks find it recorded.
    let (outcome, _) = guest.kickUntilDone()
    #expect(outcome.error == .interrupted(signal: SIGINT))
    #expect(Interruption.signal == SIGINT)
  }
}
