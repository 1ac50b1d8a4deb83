/// Which address space a zone, a write or a ring entry belongs to.
///
/// The kernel's term is the `pio` member of `struct kvm_coalesced_mmio_zone`
/// and `struct kvm_coalesced_mmio`: 0 for MMIO, 1 for port I/O.
public enum IOSpace: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
  case mmio
  case pio

  /// The value of the kernel's `pio` field.
  public var pioFlag: UInt32 { self == .pio ? 1 : 0 }

  public var description: String { rawValue }
}
