import Guest
import KVM
import Platform
import Synchronization

/// Why a run was ended before every guest reached `hlt`.
enum StopReason: Int, Sendable {
  case none = 0
  /// SIGINT or SIGTERM.
  case interrupted = 1
  /// The run's timeout passed.
  case timedOut = 2
  /// Another thread of the run failed.
  case failed = 3
}

/// What the threads of one run share: the start gate, the stop request, and a
/// wake-up for the coordinating thread (a pipe) when a vCPU thread ends.
///
/// Stopping follows the kernel's recipe for kicking a vCPU without a race: set the
/// stop flag, set `kvm_run.immediate_exit` (a `KVM_RUN` about to start returns
/// `EINTR` at once), then signal the thread (one already in the guest leaves it).
final class RunControl: @unchecked Sendable {
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>
  private let condition: UnsafeMutablePointer<pthread_cond_t>
  private var arrived = 0
  private var open = false
  private let stop = Atomic<Int>(0)
  private let finished = Atomic<Int>(0)
  /// A non-blocking pipe the coordinator sleeps on: (read end, write end).
  private let wakeRead: Int32
  private let wakeWrite: Int32

  init() throws(SystemCallError) {
    var ends: [Int32] = [-1, -1]
    guard pipe(&ends) == 0 else { throw SystemCallError(operation: "pipe", code: errno) }
    for end in ends {
      _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
      _ = fcntl(end, F_SETFD, FD_CLOEXEC)
    }
    wakeRead = ends[0]
    wakeWrite = ends[1]
    mutex = .allocate(capacity: 1)
    condition = .allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(condition, nil)
  }

  deinit {
    close(wakeRead)
    close(wakeWrite)
    pthread_cond_destroy(condition)
    pthread_mutex_destroy(mutex)
    condition.deallocate()
    mutex.deallocate()
  }

  /// A thread of the run arrives at the start gate and waits until it opens, so the
  /// vCPUs start together once every thread is set up (pinned).
  func waitAtStart() {
    pthread_mutex_lock(mutex)
    arrived += 1
    pthread_cond_broadcast(condition)
    while !open { pthread_cond_wait(condition, mutex) }
    pthread_mutex_unlock(mutex)
  }

  /// The coordinator: waits until `threads` threads arrived, then opens the gate for all.
  /// Also used after a thread failed to start, with the number that did.
  func openGate(whenArrived threads: Int) {
    pthread_mutex_lock(mutex)
    while arrived < threads { pthread_cond_wait(condition, mutex) }
    open = true
    pthread_cond_broadcast(condition)
    pthread_mutex_unlock(mutex)
  }

  /// Why the run is being stopped (`.none` while it runs).
  @inline(__always)
  var stopReason: StopReason { StopReason(rawValue: stop.load(ordering: .acquiring)) ?? .none }

  /// Records the first reason to stop; later ones are ignored.
  func requestStop(_ reason: StopReason) {
    _ = stop.compareExchange(expected: 0, desired: reason.rawValue, ordering: .acquiringAndReleasing)
    wake()
  }

  /// vCPU threads that ended (halted, stopped or failed).
  var finishedVCPUs: Int { finished.load(ordering: .acquiring) }

  /// A vCPU thread ended.
  func vcpuFinished() {
    finished.add(1, ordering: .acquiringAndReleasing)
    wake()
  }

  private func wake() {
    var byte: UInt8 = 1
    _ = write(wakeWrite, &byte, 1)
  }

  /// Sleeps until woken or `milliseconds` pass; returns early on a signal (`EINTR`).
  func sleep(milliseconds: Int32) {
    var descriptor = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
    if poll(&descriptor, 1, milliseconds) > 0 {
      var bytes: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
      _ = withUnsafeMutableBytes(of: &bytes) { read(wakeRead, $0.baseAddress, $0.count) }
    }
  }
}
