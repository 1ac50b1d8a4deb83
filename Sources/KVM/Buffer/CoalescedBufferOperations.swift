import CKVM
import Platform

/// `struct kvm_coalesced_mmio_zone2` of the proposed v2 API (third posting, 2024-08-20):
/// a zone plus the buffer fd whose ring receives its writes.
///
/// The `pio` flag and the fd are kept raw so that the kernel's `EINVAL` (pio not 0/1, fd of
/// another kind) and `EBADF` (fd not open) can be asked for on purpose.
public struct BufferZone: Hashable, Sendable, CustomStringConvertible {
  public var address: UInt64
  public var size: UInt32
  /// The `pio` member: 0 MMIO, 1 port I/O, anything else is refused with `EINVAL`.
  public var pioFlag: UInt32
  /// The `buffer_fd` member: an fd from `KVM_CREATE_COALESCED_MMIO_BUFFER`.
  public var bufferFD: Int32

  public init(address: UInt64, size: UInt32, pioFlag: UInt32, bufferFD: Int32) {
    self.address = address
    self.size = size
    self.pioFlag = pioFlag
    self.bufferFD = bufferFD
  }

  public init(_ zone: CoalescedZone, bufferFD: Int32) {
    self.init(address: zone.address, size: zone.size, pioFlag: zone.space.pioFlag, bufferFD: bufferFD)
  }

  /// The zone in typed form, nil when `pioFlag` is neither 0 nor 1.
  public var zone: CoalescedZone? {
    guard pioFlag <= 1 else { return nil }
    return CoalescedZone(address: address, size: size, space: pioFlag == 1 ? .pio : .mmio)
  }

  /// The C struct passed to `KVM_(UN)REGISTER_COALESCED_MMIO2` (24 bytes, 4 of tail padding).
  var kernelZone: kvm_coalesced_mmio_zone2 {
    var raw = kvm_coalesced_mmio_zone2()
    raw.addr = address
    raw.size = size
    raw.pio = pioFlag
    raw.buffer_fd = UInt32(bitPattern: bufferFD)
    return raw
  }

  public var description: String {
    "\(NumberFormat.hex(address)):\(NumberFormat.hex(size)) pio \(pioFlag) on fd \(bufferFD)"
  }
}

/// The kernel operations of the proposed v2 coalesced MMIO API ("KVM: Improve MMIO
/// Coalescing API", never merged): one ring page per buffer fd instead of one per VM.
///
/// A protocol because no released kernel has the API: `KernelBufferOperations` issues the
/// real ioctls (on this machine's kernel the first one gets `ENOTTY`; on the lab's patched
/// kernel, docs/v2-kernel.md, the whole flow runs), while the tests also drive the flow
/// through a double that follows the posted semantics and can break them on purpose.
public protocol CoalescedBufferOperations: AnyObject {
  /// `KVM_CREATE_COALESCED_MMIO_BUFFER` (`_IO(KVMIO, 0xd6)`) on the VM fd: a new buffer fd,
  /// `O_RDWR | O_CLOEXEC`, with no ring yet.
  func createBuffer() throws(SystemCallError) -> Int32
  /// What `fd` is, as `/proc/self/fd/N` names it (`anon_inode:coalesced_mmio_buf` for a buffer).
  func describe(_ fd: Int32) -> String?
  /// `mmap` of the buffer fd: allocates its one zeroed ring page (first = last = 0). A second
  /// mapping while one exists fails with `EBUSY`.
  func map(_ fd: Int32, length: Int) throws(SystemCallError) -> UnsafeMutableRawPointer
  /// `munmap`: frees the ring; the buffer's zones stay registered and their writes exit.
  func unmap(_ base: UnsafeMutableRawPointer, length: Int) throws(SystemCallError)
  /// `KVM_REGISTER_COALESCED_MMIO2`: `ENOBUFS` for a buffer without a ring, `EBADF` for an fd
  /// that is not open, `EINVAL` for an fd of another kind or `pio` not 0/1.
  func register(_ zone: BufferZone) throws(SystemCallError)
  /// `KVM_UNREGISTER_COALESCED_MMIO2`: ignores `buffer_fd` and, like v1, removes every zone of
  /// the same kind that fully contains the range; 0 even when none did.
  func unregister(_ zone: BufferZone) throws(SystemCallError)
  /// `poll` with a zero timeout: whether the fd reports `POLLIN` (a ring is mapped and
  /// `first != last`).
  func pollIn(_ fd: Int32) throws(SystemCallError) -> Bool
  /// `close`: once the fd is also unmapped, the kernel unregisters all its zones.
  func close(_ fd: Int32)
}

/// The v2 operations as real system calls on a VM fd.
///
/// Written to the third posting's numbers (0xAED6, 0x4018AED7, 0x4018AED8) and struct.
/// Released kernels answer the first ioctl with `ENOTTY`; the lab's patched 6.12
/// (lab/kernels/coalesced-mmio2) has the API and runs every call here.
public final class KernelBufferOperations: CoalescedBufferOperations {
  public let vm: VirtualMachine

  public init(vm: VirtualMachine) { self.vm = vm }

  public func createBuffer() throws(SystemCallError) -> Int32 {
    try vm.descriptor.ioctl("KVM_CREATE_COALESCED_MMIO_BUFFER", CKVM_CREATE_COALESCED_MMIO_BUFFER, value: 0)
  }

  public func describe(_ fd: Int32) -> String? {
    TextFile.linkTarget("/proc/self/fd/\(fd)")
  }

  public func map(_ fd: Int32, length: Int) throws(SystemCallError) -> UnsafeMutableRawPointer {
    let pointer = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
    guard let pointer, pointer != MAP_FAILED else {
      throw SystemCallError(operation: "mmap of coalesced MMIO buffer fd \(fd)", code: errno)
    }
    return pointer
  }

  public func unmap(_ base: UnsafeMutableRawPointer, length: Int) throws(SystemCallError) {
    guard munmap(base, length) == 0 else {
      throw SystemCallError(operation: "munmap of a coalesced MMIO buffer ring", code: errno)
    }
  }

  public func register(_ zone: BufferZone) throws(SystemCallError) {
    var raw = zone.kernelZone
    try vm.descriptor.ioctl("KVM_REGISTER_COALESCED_MMIO2", CKVM_REGISTER_COALESCED_MMIO2, &raw)
  }

  public func unregister(_ zone: BufferZone) throws(SystemCallError) {
    var raw = zone.kernelZone
    try vm.descriptor.ioctl("KVM_UNREGISTER_COALESCED_MMIO2", CKVM_UNREGISTER_COALESCED_MMIO2, &raw)
  }

  public func pollIn(_ fd: Int32) throws(SystemCallError) -> Bool {
    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    try Errno.retrying("poll of coalesced MMIO buffer fd \(fd)") { Platform.poll(&entry, 1, 0) }
    if entry.revents & Int16(POLLNVAL) != 0 {
      throw SystemCallError(operation: "poll of coalesced MMIO buffer fd \(fd)", code: EBADF)
    }
    return entry.revents & Int16(POLLIN) != 0
  }

  public func close(_ fd: Int32) {
    _ = Platform.close(fd)
  }
}
