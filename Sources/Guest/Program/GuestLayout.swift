import KVM

/// Where things live in every cmmio guest's physical address space.
///
/// Guest RAM is one small slot at 0; everything above it is unbacked, so any
/// access there is MMIO: either coalesced into the ring or a `KVM_EXIT_MMIO`.
public enum GuestLayout {
  /// Guest RAM: slot 0 at guest physical 0.
  public static let ramSize = 0x10000
  /// Where the code is loaded and the vCPU starts.
  public static let codeAddress: UInt64 = 0x1000
  /// Room for code: up to the data area.
  public static let codeLimit = 0x7000
  /// RAM the `ram` workload stores to: the floor, a store that never exits.
  public static let ramTarget: UInt64 = 0x8000
  /// Scratch RAM for 8-byte operands (`movq mm0, [addr]`).
  public static let constantPool: UInt64 = 0xC000
  /// The default emulated device register for MMIO workloads.
  public static let mmioDevice: UInt64 = 0x10_0000
  /// A non-coalesced "doorbell" register: reading it forces an exit (and a drain).
  public static let mmioDoorbell: UInt64 = 0x10_1000
  /// The default port for PIO workloads (the POST port, as in the kernel selftest).
  public static let pioDevice: UInt16 = 0x80

  /// Whether a guest write to `address` in `space` can reach a device at all: MMIO
  /// above RAM and within the 32-bit range an unreal-mode store addresses; any port.
  /// Never traps: an `address + length` past 2^64 is simply unreachable.
  public static func isReachable(_ address: UInt64, length: UInt64, space: IOSpace) -> Bool {
    let (end, overflow) = address.addingReportingOverflow(length)
    guard !overflow else { return false }
    switch space {
    case .pio: return end <= 0x1_0000
    case .mmio: return address >= UInt64(ramSize) && end <= 0x1_0000_0000
    }
  }
}
