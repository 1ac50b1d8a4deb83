import Exerciser
import Guest
import KVM
import Platform

/// A double of the kernel side of the proposed v2 coalesced MMIO API ("KVM: Improve MMIO
/// Coalescing API", third posting, 2024-08-20), following the posted semantics as
/// docs/v2-kernel.md ("The series", "How it works") records them. No released kernel has the API;
/// the same scenarios run on the lab's patched kernel as steps of its C test and cmmio checks
/// (docs/v2-kernel.md). The double remains for what a kernel cannot be made to do: refuse,
/// lie, or break one rule on purpose.
///
/// - CREATE returns a real, unique fd (an open of /dev/null stands in for the anon inode).
/// - `mmap` allocates one zeroed page (first = last = 0); length and offset are not checked; a
///   second mapping while one exists gives `EBUSY`. `munmap` frees the ring; the buffer's zones
///   stay registered and their writes exit.
/// - REGISTER2: `pio` not 0/1 `EINVAL`; an fd that is not open `EBADF`; an open fd of another
///   kind `EINVAL`; a buffer without a ring `ENOBUFS`.
/// - UNREGISTER2 ignores `buffer_fd` and, like v1, removes every zone of the same kind that fully
///   contains the range, returning 0 even when none did.
/// - `poll` reports `POLLIN` exactly when a ring is mapped and `first != last`.
/// - Closing the fd unregisters its zones once the ring is also unmapped (a mapping holds the
///   file, as in the kernel).
/// - Guest writes (`perform`) go, as on the I/O bus, to the first zone in registration order
///   that fully contains them and whose buffer has a ring with room (`last < MAX` and
///   `(last + 1) % MAX != first`); everything else exits.
///
/// `faults` makes it break one rule on purpose, so tests can show each check of the flow fail.
final class V2KernelDouble: CoalescedBufferOperations, GuestWriter {
  /// Deliberate departures from the posted semantics.
  struct Faults {
    /// CREATE fails with this errno.
    var createErrno: Int32?
    /// `describe` names the buffer fd as this instead.
    var describeAs: String?
    /// A second mmap succeeds.
    var allowSecondMap = false
    /// `poll` always reports POLLIN.
    var alwaysReadable = false
    /// REGISTER2 on a buffer without a ring succeeds.
    var registerUnmapped = false
    /// Close never unregisters.
    var keepZonesOnClose = false
    /// munmap leaves the ring in place, still receiving writes.
    var ringSurvivesUnmap = false
    /// Coalesced writes land in the next buffer's ring (when there is one).
    var misroute = false
    /// The data of coalesced entries is flipped.
    var corruptData = false
  }

  private struct Buffer {
    var fd: Int32?
    var page: UnsafeMutableRawPointer?
  }

  let pageSize: Int
  var faults = Faults()
  private var buffers: [Int: Buffer] = [:]
  private var nextID = 0
  /// Registered zones, in order, with the buffer each belongs to.
  private(set) var zones: [(zone: BufferZone, buffer: Int)] = []

  init(pageSize: Int = Host.pageSize) { self.pageSize = pageSize }

  deinit {
    for buffer in buffers.values {
      buffer.page?.deallocate()
      if let fd = buffer.fd { _ = Platform.close(fd) }
    }
  }

  /// Buffers still alive (open, or closed but still mapped).
  var liveBuffers: Int { buffers.count }

  private func id(of fd: Int32) -> Int? {
    buffers.first { $0.value.fd == fd }?.key
  }

  var capacity: UInt32 { CoalescedRing.capacity(pageSize: pageSize) }

  // MARK: CoalescedBufferOperations

  func createBuffer() throws(SystemCallError) -> Int32 {
    if let code = faults.createErrno {
      throw SystemCallError(operation: "KVM_CREATE_COALESCED_MMIO_BUFFER", code: code)
    }
    let fd = open("/dev/null", O_RDWR | O_CLOEXEC)
    guard fd >= 0 else { throw SystemCallError(operation: "KVM_CREATE_COALESCED_MMIO_BUFFER", code: errno) }
    buffers[nextID] = Buffer(fd: fd, page: nil)
    nextID += 1
    return fd
  }

  func describe(_ fd: Int32) -> String? {
    if id(of: fd) != nil { return faults.describeAs ?? MMIO2Probe.anonInodeName }
    return TextFile.linkTarget("/proc/self/fd/\(fd)")
  }

  func map(_ fd: Int32, length: Int) throws(SystemCallError) -> UnsafeMutableRawPointer {
    guard let id = id(of: fd) else {
      throw SystemCallError(operation: "mmap", code: fcntl(fd, F_GETFD) == -1 ? EBADF : ENODEV)
    }
    if buffers[id]!.page != nil {
      guard faults.allowSecondMap else { throw SystemCallError(operation: "mmap", code: EBUSY) }
      return UnsafeMutableRawPointer.allocate(byteCount: pageSize, alignment: 16)
    }
    let page = UnsafeMutableRawPointer.allocate(byteCount: pageSize, alignment: 16)
    page.initializeMemory(as: UInt8.self, repeating: 0, count: pageSize)
    buffers[id]!.page = page
    return page
  }

  func unmap(_ base: UnsafeMutableRawPointer, length: Int) throws(SystemCallError) {
    guard let id = buffers.first(where: { $0.value.page == base })?.key else {
      // A second mapping the `allowSecondMap` fault handed out, or garbage.
      if faults.allowSecondMap { base.deallocate() }
      return
    }
    if faults.ringSurvivesUnmap { return }
    base.deallocate()
    buffers[id]!.page = nil
    if buffers[id]!.fd == nil { release(id) }
  }

  func register(_ zone: BufferZone) throws(SystemCallError) {
    guard zone.pioFlag <= 1 else { throw SystemCallError(operation: "KVM_REGISTER_COALESCED_MMIO2", code: EINVAL) }
    guard let id = id(of: zone.bufferFD) else {
      let open = fcntl(zone.bufferFD, F_GETFD) != -1
      throw SystemCallError(operation: "KVM_REGISTER_COALESCED_MMIO2", code: open ? EINVAL : EBADF)
    }
    guard buffers[id]!.page != nil || faults.registerUnmapped else {
      throw SystemCallError(operation: "KVM_REGISTER_COALESCED_MMIO2", code: ENOBUFS)
    }
    zones.append((zone, id))
  }

  func unregister(_ range: BufferZone) throws(SystemCallError) {
    guard range.pioFlag <= 1 else { throw SystemCallError(operation: "KVM_UNREGISTER_COALESCED_MMIO2", code: EINVAL) }
    guard let wanted = range.zone else { return }
    zones.removeAll { entry in
      entry.zone.zone.map {
        $0.contains(address: wanted.address, length: UInt64(wanted.size), space: wanted.space)
      } ?? false
    }
  }

  func pollIn(_ fd: Int32) throws(SystemCallError) -> Bool {
    guard let id = id(of: fd) else {
      if fcntl(fd, F_GETFD) == -1 { throw SystemCallError(operation: "poll", code: EBADF) }
      return false
    }
    if faults.alwaysReadable { return true }
    guard let page = buffers[id]!.page else { return false }
    return page.load(fromByteOffset: 0, as: UInt32.self) != page.load(fromByteOffset: 4, as: UInt32.self)
  }

  func close(_ fd: Int32) {
    guard let id = id(of: fd) else {
      _ = Platform.close(fd)
      return
    }
    _ = Platform.close(fd)
    buffers[id]!.fd = nil
    if buffers[id]!.page == nil { release(id) }
  }

  private func release(_ id: Int) {
    buffers[id] = nil
    if !faults.keepZonesOnClose { zones.removeAll { $0.buffer == id } }
  }

  // MARK: GuestWriter

  /// Simulated guest writes: into the ring of the first containing zone with room, else an exit.
  func perform(_ writes: [ExpectedWrite]) throws -> [ObservedWrite] {
    var exits: [ObservedWrite] = []
    for write in writes {
      if !coalesce(write) {
        exits.append(
          ObservedWrite(
            space: write.space, address: write.address, length: write.length, data: write.data, delivery: .exit))
      }
    }
    return exits
  }

  private func coalesce(_ write: ExpectedWrite) -> Bool {
    for (zone, owner) in zones {
      guard let typed = zone.zone,
        typed.contains(address: write.address, length: UInt64(write.length), space: write.space)
      else { continue }
      var target = owner
      if faults.misroute, let next = buffers.keys.sorted().first(where: { $0 > owner && buffers[$0]?.page != nil }) {
        target = next
      }
      guard let page = buffers[target]?.page else { continue }
      let first = page.load(fromByteOffset: 0, as: UInt32.self)
      let last = page.load(fromByteOffset: 4, as: UInt32.self)
      guard last < capacity, (last + 1) % capacity != first else { continue }
      let entry = page.advanced(by: CoalescedRing.headerSize + Int(last) * CoalescedRing.entrySize)
      entry.storeBytes(of: write.address, toByteOffset: 0, as: UInt64.self)
      entry.storeBytes(of: write.length, toByteOffset: 8, as: UInt32.self)
      entry.storeBytes(of: write.space.pioFlag, toByteOffset: 12, as: UInt32.self)
      entry.storeBytes(of: faults.corruptData ? ~write.data : write.data, toByteOffset: 16, as: UInt64.self)
      page.storeBytes(of: (last + 1) % capacity, toByteOffset: 4, as: UInt32.self)
      return true
    }
    return false
  }
}
