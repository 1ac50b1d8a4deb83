import CKVM

/// Guest RAM: an anonymous shared mapping given to the VM as one memory slot
/// (`KVM_SET_USER_MEMORY_REGION`). Lives as long as the VM that holds it.
public final class GuestMemory: @unchecked Sendable {
  public let slot: UInt32
  public let guestAddress: UInt64
  public let mapping: OwnedMapping

  init(slot: UInt32, guestAddress: UInt64, size: Int) throws(SystemCallError) {
    self.slot = slot
    self.guestAddress = guestAddress
    self.mapping = try OwnedMapping(length: size, operation: "mmap guest memory")
  }

  public var size: Int { mapping.length }

  /// Copies `bytes` into guest memory at guest physical `address`.
  public func write(_ bytes: [UInt8], at address: UInt64) {
    precondition(
      address >= guestAddress && address - guestAddress + UInt64(bytes.count) <= UInt64(size),
      "write outside guest memory")
    let offset = Int(address - guestAddress)
    bytes.withUnsafeBytes { mapping.base.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
  }

  /// Reads a little-endian value at guest physical `address`.
  public func load<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) -> T {
    let offset = Int(address - guestAddress)
    return T(littleEndian: mapping.base.loadUnaligned(fromByteOffset: offset, as: T.self))
  }
}
