import Guest
import KVM

/// Where a zone session registers its zones: the VM (v1) or a v2 buffer.
public protocol ZoneRegistrar {
  /// The kernel's name of the register ioctl, for the report.
  var registerName: String { get }
  /// The kernel's name of the unregister ioctl.
  var unregisterName: String { get }
  mutating func register(_ zone: CoalescedZone) throws(SystemCallError)
  mutating func unregister(_ range: CoalescedZone) throws(SystemCallError)
  /// Entries of every ring other than the VM's, one list per ring, drained in ring order.
  mutating func drainRings() throws -> [[ObservedWrite]]
}

/// The mainline API: `KVM_(UN)REGISTER_COALESCED_MMIO` on the VM fd; writes land in the VM
/// ring, which the guest runner drains itself.
public struct VMRegistrar: ZoneRegistrar {
  public let vm: VirtualMachine

  public init(vm: VirtualMachine) { self.vm = vm }

  public var registerName: String { "KVM_REGISTER_COALESCED_MMIO" }
  public var unregisterName: String { "KVM_UNREGISTER_COALESCED_MMIO" }

  public mutating func register(_ zone: CoalescedZone) throws(SystemCallError) { try vm.register(zone) }
  public mutating func unregister(_ range: CoalescedZone) throws(SystemCallError) { try vm.unregister(range) }
  public mutating func drainRings() throws -> [[ObservedWrite]] { [] }
}

/// The proposed v2 API through one mapped buffer: `KVM_(UN)REGISTER_COALESCED_MMIO2`, writes
/// land in the buffer's own ring. Verified only against the tests' kernel double.
public struct BufferRegistrar: ZoneRegistrar {
  public let buffer: CoalescedBuffer
  private var cursor: RingCursor?

  /// `buffer` must be mapped: its ring is read from its current `last` on.
  public init(buffer: CoalescedBuffer) throws(RingCorruption) {
    self.buffer = buffer
    cursor = try buffer.ring.map { ring throws(RingCorruption) in try RingCursor(ring: ring) }
  }

  public var registerName: String { "KVM_REGISTER_COALESCED_MMIO2" }
  public var unregisterName: String { "KVM_UNREGISTER_COALESCED_MMIO2" }

  public mutating func register(_ zone: CoalescedZone) throws(SystemCallError) { try buffer.register(zone) }
  public mutating func unregister(_ range: CoalescedZone) throws(SystemCallError) { try buffer.unregister(range) }

  public mutating func drainRings() throws -> [[ObservedWrite]] {
    guard cursor != nil else { return [[]] }
    var entries: [ObservedWrite] = []
    try cursor!.drain { entries.append(ObservedWrite($0)) }
    return [entries]
  }
}
