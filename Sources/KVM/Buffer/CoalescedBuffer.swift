import Platform

/// Why no v2 buffer could be had.
public enum BufferCreationError: Error, Sendable, Equatable, CustomStringConvertible {
  /// `KVM_CREATE_COALESCED_MMIO_BUFFER` was refused with `ENOTTY` or `EINVAL`: the kernel does
  /// not have the API (every kernel here answers `ENOTTY`).
  case absent(SystemCallError)
  /// The ioctl failed some other way (`EMFILE`, `ENOMEM`, …): the API may be there.
  case failed(SystemCallError)
  /// An fd came back but it is not a coalesced MMIO buffer (closed at once).
  case notABuffer(target: String)

  /// Whether this means the kernel lacks the v2 API, rather than that the ioctl failed.
  public var meansAbsent: Bool {
    switch self {
    case .absent, .notABuffer: true
    case .failed: false
    }
  }

  /// One sentence: what was tried, what came back, and what the API is.
  public var description: String {
    let tried = MMIO2Probe.attempt
    switch self {
    case .absent(let error):
      return "\(tried) answered \(error.errnoName) (\(error.errnoText)): this kernel lacks the v2 coalesced MMIO "
        + "buffer API, which is an unmerged 2024 proposal (\"KVM: Improve MMIO Coalescing API\")"
    case .failed(let error):
      return "\(tried) failed with \(error.errnoName) (\(error.errnoText))"
    case .notABuffer(let target):
      return "\(tried) returned an fd that is \(target), not \(MMIO2Probe.anonInodeName), so this kernel's ioctl "
        + "0xAED6 is not the v2 coalesced MMIO buffer API (an unmerged 2024 proposal)"
    }
  }
}

/// One buffer fd of the proposed v2 API, its ring mapping, and the zones registered on it.
///
/// It owns the fd and the mapping: `close()` (or deinit) unmaps, then closes, which in the
/// posted code unregisters every zone of the buffer. No released kernel has the API; it runs
/// against the lab's patched kernel (docs/v2-kernel.md) and the test double.
public final class CoalescedBuffer {
  public let operations: any CoalescedBufferOperations
  /// The buffer fd, -1 once closed.
  public private(set) var fd: Int32
  /// The mapped ring page, nil when unmapped.
  public private(set) var base: UnsafeMutableRawPointer?
  /// The length mapped: one page (the posted code checks neither length nor offset).
  public let length: Int

  /// Creates a buffer with `KVM_CREATE_COALESCED_MMIO_BUFFER` and checks that the fd is one.
  public static func create(
    _ operations: any CoalescedBufferOperations, pageSize: Int = Host.pageSize
  ) throws(BufferCreationError) -> CoalescedBuffer {
    let fd: Int32
    do {
      fd = try operations.createBuffer()
    } catch {
      throw error.code == ENOTTY || error.code == EINVAL ? .absent(error) : .failed(error)
    }
    let target = operations.describe(fd) ?? "unreadable"
    guard target == MMIO2Probe.anonInodeName else {
      operations.close(fd)
      throw .notABuffer(target: target)
    }
    return CoalescedBuffer(operations: operations, fd: fd, length: pageSize)
  }

  init(operations: any CoalescedBufferOperations, fd: Int32, length: Int) {
    self.operations = operations
    self.fd = fd
    self.length = length
  }

  deinit { close() }

  /// The ring in the mapped page (`struct kvm_coalesced_mmio_ring`, as in v1), nil when unmapped.
  public var ring: CoalescedRing? {
    base.map { CoalescedRing(page: $0, pageSize: length) }
  }

  /// Maps the ring page.
  public func map() throws(SystemCallError) {
    base = try operations.map(fd, length: length)
  }

  /// Maps the fd a second time while the first mapping exists, which the posted code refuses
  /// with `EBUSY`: `.failure` carries the kernel's answer; `.success` means a second mapping
  /// was made (and unmapped again at once).
  public func mapAgain() -> Result<Void, SystemCallError> {
    do {
      let second = try operations.map(fd, length: length)
      try? operations.unmap(second, length: length)
      return .success(())
    } catch {
      return .failure(error)
    }
  }

  /// Unmaps the ring page: the posted code frees the ring; zones stay registered, writes exit.
  public func unmap() throws(SystemCallError) {
    guard let mapped = base else { return }
    base = nil
    try operations.unmap(mapped, length: length)
  }

  /// `KVM_REGISTER_COALESCED_MMIO2` of `zone` on this buffer.
  public func register(_ zone: CoalescedZone) throws(SystemCallError) {
    try operations.register(BufferZone(zone, bufferFD: fd))
  }

  /// `KVM_UNREGISTER_COALESCED_MMIO2` of `range` (the kernel ignores which buffer).
  public func unregister(_ range: CoalescedZone) throws(SystemCallError) {
    try operations.unregister(BufferZone(range, bufferFD: fd))
  }

  /// Whether `poll` reports `POLLIN` now.
  public func pollIn() throws(SystemCallError) -> Bool {
    try operations.pollIn(fd)
  }

  /// Unmaps (if mapped) and closes the fd; later calls do nothing.
  public func close() {
    try? unmap()
    guard fd >= 0 else { return }
    operations.close(fd)
    fd = -1
  }
}
