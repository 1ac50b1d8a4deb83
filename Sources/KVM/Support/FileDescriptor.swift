import CKVM
import Platform

/// An owned file descriptor, closed exactly once when its owner goes away.
///
/// The KVM objects (system, VM, vCPU, stats and buffer fds) each hold one.
public final class OwnedDescriptor: @unchecked Sendable {
  /// The raw descriptor, valid until `close()` or deinit.
  public private(set) var rawValue: Int32

  public init(_ rawValue: Int32) { self.rawValue = rawValue }

  /// Closes now rather than at deinit; later calls do nothing.
  public func close() {
    guard rawValue >= 0 else { return }
    _ = Platform.close(rawValue)
    rawValue = -1
  }

  deinit { close() }

  /// `ioctl(fd, request, arg)` with a pointer argument, retried on `EINTR`.
  @discardableResult
  public func ioctl(_ name: String, _ request: UInt, _ arg: UnsafeMutableRawPointer?) throws(SystemCallError) -> Int32 {
    let fd = rawValue
    return try Errno.retrying(name) { ckvm_ioctl_ptr(fd, request, arg) }
  }

  /// `ioctl(fd, request, arg)` with an integer argument, retried on `EINTR`.
  @discardableResult
  public func ioctl(_ name: String, _ request: UInt, value: UInt) throws(SystemCallError) -> Int32 {
    let fd = rawValue
    return try Errno.retrying(name) { ckvm_ioctl_int(fd, request, value) }
  }
}

/// An owned shared mapping, unmapped when its owner goes away.
public final class OwnedMapping: @unchecked Sendable {
  public let base: UnsafeMutableRawPointer
  public let length: Int

  /// Maps `length` bytes of `fd` (or anonymous memory when `fd` is nil) read-write and shared.
  public init(length: Int, fd: Int32? = nil, operation: String) throws(SystemCallError) {
    let flags = fd == nil ? (MAP_SHARED | MAP_ANONYMOUS) : MAP_SHARED
    let pointer = mmap(nil, length, PROT_READ | PROT_WRITE, flags, fd ?? -1, 0)
    guard let pointer, pointer != MAP_FAILED else {
      throw SystemCallError(operation: operation, code: errno)
    }
    self.base = pointer
    self.length = length
  }

  deinit { munmap(base, length) }
}
