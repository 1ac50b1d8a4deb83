import Platform

/// A value guarded by a `pthread_mutex_t`.
///
/// Used instead of the standard library's `Mutex` for the drain lock because
/// ThreadSanitizer does not see `Mutex`'s futex-based locking on Linux and reports
/// every access under it as a race; a pthread mutex it understands, so the `thread`
/// drain and multi-vCPU runs can be checked with `swift test --sanitize=thread`.
/// The value sits behind a pointer rather than in a stored `var`: passing a class's
/// stored property `inout` costs a dynamic exclusivity check (`swift_beginAccess`)
/// on every exit of the benchmark's hot loop, and the lock already excludes.
final class PthreadLocked<Value>: @unchecked Sendable {
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>
  private let value: UnsafeMutablePointer<Value>

  init(_ initial: Value) {
    value = .allocate(capacity: 1)
    value.initialize(to: initial)
    mutex = .allocate(capacity: 1)
    mutex.initialize(to: pthread_mutex_t())
    pthread_mutex_init(mutex, nil)
  }

  deinit {
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
    value.deinitialize(count: 1)
    value.deallocate()
  }

  /// Runs `body` with the value while holding the lock.
  @inline(__always)
  func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return try body(&value.pointee)
  }

  /// Runs `body` with the value, holding the lock only if `locking`. Pass false only where
  /// one thread alone touches the value while the others that do are not running: thread
  /// creation and `pthread_join` then order every access, and the lock would only cost the
  /// hot loop (about 1% of plain exits' throughput, bench/README.md).
  @inline(__always)
  func with<Result>(locking: Bool, _ body: (inout Value) throws -> Result) rethrows -> Result {
    guard locking else { return try body(&value.pointee) }
    return try withLock(body)
  }
}
