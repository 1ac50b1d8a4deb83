import KVM
import Platform

/// Where a benchmark thread may run. Pinning itself and the current CPU are the KVM
/// layer's (`Host.pinCurrentThread(to:)`, `Host.currentCPU()`).
public enum ThreadPinning {
  /// The CPUs of `list` that are not online now, for the usage error that rejects them.
  public static func offline(_ list: CPUList, online: CPUList) -> [Int] {
    let available = Set(online.cpus)
    return list.cpus.filter { !available.contains($0) }
  }
}

/// A POSIX thread running one closure, joined explicitly.
///
/// Benchmark threads are plain pthreads rather than tasks: the `KVM_RUN` loop must
/// stay synchronous on a thread of its own that can be pinned and kicked with a signal.
final class BenchThread: @unchecked Sendable {
  private final class Body {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
  }

  /// The thread's `pthread_t`, for `Interruption.kick(_:)`.
  let handle: pthread_t
  private var joined = false

  /// Starts `body` on a new thread; throws the `pthread_create` error.
  init(_ body: @escaping @Sendable () -> Void) throws(SystemCallError) {
    let context = Unmanaged.passRetained(Body(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(
      &thread, nil,
      { context in
        let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
        body.run()
        return nil
      }, context)
    guard result == 0 else {
      Unmanaged<Body>.fromOpaque(context).release()
      throw SystemCallError(operation: "pthread_create", code: result)
    }
    handle = thread
  }

  /// Sends SIGUSR1 so a `KVM_RUN` in progress on this thread returns `EINTR`.
  func kick() { _ = Interruption.kick(UInt(handle)) }

  /// Waits for the thread to end.
  func join() {
    guard !joined else { return }
    pthread_join(handle, nil)
    joined = true
  }

  deinit { join() }
}
