import CKVM

/// Why `KVM_RUN` returned: `kvm_run.exit_reason` and the fields that go with it.
public enum VCPUExit: Equatable, Sendable {
  /// `KVM_EXIT_MMIO`: an access to guest physical memory that no slot backs.
  /// `data` holds the written bytes (masked to `length`); for reads it is 0.
  case mmio(address: UInt64, length: UInt32, isWrite: Bool, data: UInt64)
  /// `KVM_EXIT_IO`: a port access. `data` is the first element (masked to `size`).
  case io(port: UInt16, size: UInt32, isOut: Bool, count: UInt32, data: UInt64)
  /// `KVM_EXIT_HLT`: the guest executed `hlt`.
  case halt
  /// `KVM_RUN` returned `EINTR` (a signal, or `immediate_exit`): `KVM_EXIT_INTR`.
  case interrupted
  /// `KVM_EXIT_SHUTDOWN`: triple fault.
  case shutdown
  /// `KVM_EXIT_FAIL_ENTRY` with the hardware's reason.
  case failEntry(reason: UInt64)
  /// `KVM_EXIT_INTERNAL_ERROR` with its suberror (1 is emulation failure).
  case internalError(suberror: UInt32)
  /// Any other `KVM_EXIT_*`.
  case other(reason: UInt32)

  /// The exit as the kernel names it, for messages.
  public var kernelName: String {
    switch self {
    case .mmio: "KVM_EXIT_MMIO"
    case .io: "KVM_EXIT_IO"
    case .halt: "KVM_EXIT_HLT"
    case .interrupted: "KVM_EXIT_INTR"
    case .shutdown: "KVM_EXIT_SHUTDOWN"
    case .failEntry: "KVM_EXIT_FAIL_ENTRY"
    case .internalError: "KVM_EXIT_INTERNAL_ERROR"
    case .other(let reason): "exit reason \(reason)"
    }
  }

  /// The write this exit carries, if it is one.
  public var write: GuestWrite? {
    switch self {
    case .mmio(let address, let length, true, let data):
      GuestWrite(space: .mmio, address: address, length: length, data: data)
    case .io(let port, let size, true, _, let data):
      GuestWrite(space: .pio, address: UInt64(port), length: size, data: data)
    default: nil
    }
  }
}

extension VCPUExit {
  /// Decodes `kvm_run` after a `KVM_RUN` that returned 0: the one decoder. It reads
  /// the fields of the exit in place from the mapping; written data is masked to the
  /// access's length (the kernel does not clear the rest of `mmio.data`).
  @inlinable @inline(__always)
  init(reading run: UnsafeMutablePointer<kvm_run>) {
    switch Int32(run.pointee.exit_reason) {
    case KVM_EXIT_MMIO:
      let length = run.pointee.mmio.len
      let address = run.pointee.mmio.phys_addr
      guard run.pointee.mmio.is_write != 0 else {
        self = .mmio(address: address, length: length, isWrite: false, data: 0)
        return
      }
      let raw = withUnsafeBytes(of: run.pointee.mmio.data) { $0.loadUnaligned(as: UInt64.self) }
      self = .mmio(
        address: address, length: length, isWrite: true, data: maskToLength(UInt64(littleEndian: raw), length))
    case KVM_EXIT_IO:
      let size = run.pointee.io.size
      let isOut = run.pointee.io.direction == UInt8(KVM_EXIT_IO_OUT)
      var data: UInt64 = 0
      if isOut {
        // The first element, at `data_offset` from the start of `kvm_run`.
        let source = UnsafeRawPointer(run).advanced(by: Int(run.pointee.io.data_offset))
        withUnsafeMutableBytes(of: &data) {
          $0.copyMemory(from: UnsafeRawBufferPointer(start: source, count: min(Int(size), 8)))
        }
      }
      self = .io(
        port: run.pointee.io.port, size: UInt32(size), isOut: isOut, count: run.pointee.io.count,
        data: UInt64(littleEndian: data))
    case KVM_EXIT_HLT: self = .halt
    case KVM_EXIT_INTR: self = .interrupted
    case KVM_EXIT_SHUTDOWN: self = .shutdown
    case KVM_EXIT_FAIL_ENTRY: self = .failEntry(reason: run.pointee.fail_entry.hardware_entry_failure_reason)
    case KVM_EXIT_INTERNAL_ERROR: self = .internalError(suberror: run.pointee.internal.suberror)
    default: self = .other(reason: run.pointee.exit_reason)
    }
  }
}

/// Keeps the low `length` bytes of `value`: the kernel does not clear the rest.
@inlinable @inline(__always)
public func maskToLength(_ value: UInt64, _ length: UInt32) -> UInt64 {
  length >= 8 ? value : value & ((1 << (UInt64(length) * 8)) &- 1)
}
