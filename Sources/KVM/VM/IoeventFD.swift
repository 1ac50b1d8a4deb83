import CKVM
import Platform

/// An eventfd(2) that `KVM_IOEVENTFD` signals: the kernel adds 1 to its 64-bit counter for
/// each guest write that matches, without the write reaching userspace.
///
/// Non-blocking (`EFD_NONBLOCK`), so reading a counter of zero answers at once with `EAGAIN`.
public final class EventCounter: @unchecked Sendable {
  public let descriptor: OwnedDescriptor

  public init() throws(SystemCallError) {
    let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
    guard fd >= 0 else { throw SystemCallError(operation: "eventfd", code: errno) }
    descriptor = OwnedDescriptor(fd)
  }

  /// read(2) of the 8-byte counter: what it counted since the last read, and resets it to 0
  /// (an eventfd without `EFD_SEMAPHORE`). 0 when nothing was counted (`EAGAIN`).
  public func take() throws(SystemCallError) -> UInt64 {
    var value: UInt64 = 0
    while true {
      let count = read(descriptor.rawValue, &value, MemoryLayout<UInt64>.size)
      if count == MemoryLayout<UInt64>.size { return value }
      let code = errno
      if count < 0 && code == EINTR { continue }
      if count < 0 && code == EAGAIN { return 0 }
      throw SystemCallError(operation: "read of the eventfd counter", code: count < 0 ? code : EIO)
    }
  }
}

/// One `KVM_IOEVENTFD` binding: writes of `length` bytes to `address` on the MMIO or PIO bus
/// complete in the kernel and signal the eventfd. Without datamatch (no
/// `KVM_IOEVENTFD_FLAG_DATAMATCH`) every value matches, and the value itself is dropped.
public struct IoeventBinding: Sendable, Equatable {
  public var address: UInt64
  public var length: UInt32
  public var space: IOSpace
  /// Fires only for this value (`KVM_IOEVENTFD_FLAG_DATAMATCH`); nil matches any value.
  public var datamatch: UInt64?

  public init(address: UInt64, length: UInt32, space: IOSpace, datamatch: UInt64? = nil) {
    self.address = address
    self.length = length
    self.space = space
    self.datamatch = datamatch
  }

  /// `struct kvm_ioeventfd` for `fd`; `deassign` sets `KVM_IOEVENTFD_FLAG_DEASSIGN`.
  func kernelValue(fd: Int32, deassign: Bool) -> kvm_ioeventfd {
    var raw = kvm_ioeventfd()
    raw.addr = address
    raw.len = length
    raw.fd = fd
    var flags: UInt32 = 0
    if space == .pio { flags |= UInt32(CKVM_IOEVENTFD_FLAG_PIO) }
    if let datamatch {
      raw.datamatch = datamatch
      flags |= UInt32(CKVM_IOEVENTFD_FLAG_DATAMATCH)
    }
    if deassign { flags |= UInt32(CKVM_IOEVENTFD_FLAG_DEASSIGN) }
    raw.flags = flags
    return raw
  }
}

extension VirtualMachine {
  /// `KVM_IOEVENTFD` (VM ioctl): binds `binding` to `counter`'s eventfd.
  public func registerIoeventfd(_ binding: IoeventBinding, counter: EventCounter) throws(SystemCallError) {
    var raw = binding.kernelValue(fd: counter.descriptor.rawValue, deassign: false)
    try descriptor.ioctl("KVM_IOEVENTFD", CKVM_IOEVENTFD, &raw)
  }

  /// `KVM_IOEVENTFD` with `KVM_IOEVENTFD_FLAG_DEASSIGN`: removes the same binding (`ENOENT` if none).
  public func deassignIoeventfd(_ binding: IoeventBinding, counter: EventCounter) throws(SystemCallError) {
    var raw = binding.kernelValue(fd: counter.descriptor.rawValue, deassign: true)
    try descriptor.ioctl("KVM_IOEVENTFD (deassign)", CKVM_IOEVENTFD, &raw)
  }
}
