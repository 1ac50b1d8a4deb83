import CKVM
import CNuma
import KVM

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Where a benchmark thread was asked to run and where it was seen running.
public enum ThreadPinning {
  /// Pins the calling thread to `cpu` (`pthread_setaffinity_np` through the C shim).
  /// Returns the error number on failure (`EINVAL` for a CPU the process may not use).
  public static func pinCurrentThread(to cpu: Int) -> Int32 {
    ckvm_pin_current_thread(Int32(truncatingIfNeeded: cpu))
  }

  /// `sched_getcpu()`: the CPU the calling thread runs on now.
  @inline(__always)
  public static func currentCPU() -> Int { Int(ckvm_current_cpu()) }

  /// The CPUs of `list` that are not online now, for the usage error that rejects them.
  public static func offline(_ list: CPUList, online: CPUList) -> [Int] {
    let available = Set(online.cpus)
    return list.cpus.filter { !available.contains($0) }
  }

  /// The CPUs this process may run on (`sched_getaffinity` through libnuma), or nil if
  /// that cannot be read. A CPU can be online yet outside the set (`taskset`, cpusets).
  public static func allowedCPUs() -> CPUList? {
    guard let mask = numa_allocate_cpumask() else { return nil }
    defer { numa_bitmask_free(mask) }
    guard numa_sched_getaffinity(0, mask) >= 0 else { return nil }
    let possible = Int(mask.pointee.size)
    return CPUList((0..<possible).filter { numa_bitmask_isbitset(mask, UInt32($0)) != 0 })
  }

  /// Binds `length` bytes at `base` to NUMA node `node` (`numa_tonode_memory`, an
  /// `mbind(MPOL_BIND)`), so the pages are allocated there when first touched.
  /// Without NUMA support in the kernel there is one node and nothing to do.
  public static func placeMemory(_ base: UnsafeMutableRawPointer, length: Int, onNode node: Int) {
    guard numa_available() >= 0 else { return }
    numa_tonode_memory(base, length, Int32(node))
  }

  /// For a benchmark thread: blocks SIGINT and SIGTERM, so a signal sent to the process
  /// is delivered to the coordinating thread, which then kicks the vCPU threads; and
  /// unblocks SIGUSR1, the kick itself, which the creating thread may have blocked (a
  /// process spawned from a libdispatch worker starts with every signal blocked).
  public static func prepareBenchThreadSignals() {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    pthread_sigmask(SIG_BLOCK, &set, nil)
    sigemptyset(&set)
    sigaddset(&set, SIGUSR1)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
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

  /// The thread's `pthread_t`, for `ckvm_kick_thread`.
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
  func kick() { _ = ckvm_kick_thread(UInt(handle)) }

  /// Waits for the thread to end.
  func join() {
    guard !joined else { return }
    pthread_join(handle, nil)
    joined = true
  }

  deinit { join() }
}
