import Platform

/// One guest write: where (`space`, `address`), how wide (`length`) and what (`data`).
/// The one type for a write, whether the kernel put it in the coalesced ring
/// (`RingEntry`), a `KVM_EXIT_MMIO`/`KVM_EXIT_IO` reported it (`VCPUExit.write`), a
/// program is expected to make it (`ExpectedWrite`) or a runner observed it
/// (`ObservedWrite`, which adds how it arrived).
public struct GuestWrite: Hashable, Sendable, CustomStringConvertible {
  /// MMIO or PIO (a ring entry's `pio` field).
  public var space: IOSpace
  /// Guest physical address, or the port number for PIO (`phys_addr`).
  public var address: UInt64
  /// Bytes written (`len`), 1 to 8.
  public var length: UInt32
  /// The written bytes, little-endian, masked to `length` (the kernel leaves the rest stale).
  public var data: UInt64

  public init(space: IOSpace, address: UInt64, length: UInt32, data: UInt64) {
    self.space = space
    self.address = address
    self.length = length
    self.data = data
  }

  /// In the order of `struct kvm_coalesced_mmio`'s fields.
  public init(address: UInt64, length: UInt32, space: IOSpace, data: UInt64) {
    self.init(space: space, address: address, length: length, data: data)
  }

  /// The one sentence for a write: `mmio write of 4 at 0x100000 data 0x2a`.
  public var description: String {
    "\(space) write of \(length) at \(NumberFormat.hex(address)) data \(NumberFormat.hex(data))"
  }
}

/// One decoded `struct kvm_coalesced_mmio` entry of the ring.
public typealias RingEntry = GuestWrite
