import CKVM
import Platform

/// A coalesced zone: `struct kvm_coalesced_mmio_zone` in typed form.
///
/// Writes that fall entirely inside a zone are appended to the ring instead of
/// exiting to userspace.
public struct CoalescedZone: Hashable, Sendable, CustomStringConvertible {
  /// Guest physical address (MMIO) or port number (PIO).
  public var address: UInt64
  /// Length in bytes; the kernel field is a `__u32`.
  public var size: UInt32
  public var space: IOSpace

  public init(address: UInt64, size: UInt32, space: IOSpace = .mmio) {
    self.address = address
    self.size = size
    self.space = space
  }

  /// One past the last byte, in 65 bits' worth of arithmetic: nil if it would overflow.
  public var end: UInt64? {
    let (sum, overflow) = address.addingReportingOverflow(UInt64(size))
    return overflow ? nil : sum
  }

  /// Whether `[address, address + length)` lies entirely inside this zone (the kernel's rule
  /// for coalescing a write, and for unregister removing a zone).
  public func contains(address other: UInt64, length: UInt64, space: IOSpace) -> Bool {
    guard space == self.space, other >= address, let end else { return false }
    let (otherEnd, overflow) = other.addingReportingOverflow(length)
    return !overflow && otherEnd <= end
  }

  /// The C struct passed to `KVM_(UN)REGISTER_COALESCED_MMIO`.
  var kernelZone: kvm_coalesced_mmio_zone {
    var zone = kvm_coalesced_mmio_zone()
    zone.addr = address
    zone.size = size
    zone.pio = space.pioFlag
    return zone
  }

  /// `ADDR:SIZE` or `ADDR:SIZE:pio`, hex addresses as `0x…`.
  public var description: String {
    let base = NumberFormat.hex(address) + ":" + NumberFormat.hex(size)
    return space == .pio ? base + ":pio" : base
  }
}
