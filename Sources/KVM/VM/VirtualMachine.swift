import CKVM
import Platform

/// A VM fd: memory slots, coalesced zones, vCPUs.
///
/// The corresponding type in rust-vmm is `VmFd`. Every coalesced write of the
/// VM, from any vCPU and any zone, goes through one ring page (see `CoalescedRing`).
public final class VirtualMachine: @unchecked Sendable {
  public let device: KVMDevice
  public let descriptor: OwnedDescriptor
  private var memories: [GuestMemory] = []

  init(device: KVMDevice, descriptor: OwnedDescriptor) {
    self.device = device
    self.descriptor = descriptor
  }

  /// `KVM_CHECK_EXTENSION` on the VM fd, which may differ from the system fd's answer.
  public func checkExtension(_ capability: Capability) throws(SystemCallError) -> Int32 {
    try descriptor.ioctl("KVM_CHECK_EXTENSION", CKVM_CHECK_EXTENSION, value: UInt(capability.rawValue))
  }

  /// `KVM_CHECK_EXTENSION(KVM_CAP_COALESCED_MMIO)`: the ring's page offset in each vCPU mapping, 0 if absent.
  public func ringPageOffset() throws(SystemCallError) -> Int {
    Int(try checkExtension(.coalescedMMIO))
  }

  /// Allocates `size` bytes of guest RAM at `guestAddress` and installs it as `slot`
  /// with `KVM_SET_USER_MEMORY_REGION`.
  @discardableResult
  public func addMemory(slot: UInt32 = 0, guestAddress: UInt64 = 0, size: Int) throws(SystemCallError) -> GuestMemory {
    let memory = try GuestMemory(slot: slot, guestAddress: guestAddress, size: size)
    var region = kvm_userspace_memory_region()
    region.slot = slot
    region.guest_phys_addr = guestAddress
    region.memory_size = UInt64(size)
    region.userspace_addr = UInt64(UInt(bitPattern: memory.mapping.base))
    try descriptor.ioctl("KVM_SET_USER_MEMORY_REGION", CKVM_SET_USER_MEMORY_REGION, &region)
    memories.append(memory)
    return memory
  }

  /// `KVM_REGISTER_COALESCED_MMIO` (VM ioctl). MMIO and PIO zones both go through it.
  public func register(_ zone: CoalescedZone) throws(SystemCallError) {
    try registerRaw(address: zone.address, size: zone.size, pioFlag: zone.space.pioFlag)
  }

  /// `KVM_UNREGISTER_COALESCED_MMIO`: removes every zone of the same kind that fully
  /// contains the range, and answers 0 even when none did.
  public func unregister(_ zone: CoalescedZone) throws(SystemCallError) {
    var raw = zone.kernelZone
    try descriptor.ioctl("KVM_UNREGISTER_COALESCED_MMIO", CKVM_UNREGISTER_COALESCED_MMIO, &raw)
  }

  /// `KVM_REGISTER_COALESCED_MMIO` with any `pio` value, so the kernel's `EINVAL`
  /// for values other than 0 and 1 can be observed.
  public func registerRaw(address: UInt64, size: UInt32, pioFlag: UInt32) throws(SystemCallError) {
    var raw = kvm_coalesced_mmio_zone()
    raw.addr = address
    raw.size = size
    raw.pio = pioFlag
    try descriptor.ioctl("KVM_REGISTER_COALESCED_MMIO", CKVM_REGISTER_COALESCED_MMIO, &raw)
  }

  /// `KVM_CREATE_VCPU`, then maps its `kvm_run` area (size from `KVM_GET_VCPU_MMAP_SIZE`).
  public func createVCPU(id: UInt32 = 0) throws(SystemCallError) -> VCPU {
    let fd = try descriptor.ioctl("KVM_CREATE_VCPU", CKVM_CREATE_VCPU, value: UInt(id))
    let owned = OwnedDescriptor(fd)
    let size = try device.vcpuMmapSize()
    let mapping = try OwnedMapping(length: size, fd: owned.rawValue, operation: "mmap vCPU \(id) kvm_run")
    return VCPU(id: id, vm: self, descriptor: owned, mapping: mapping, ringPageOffset: try ringPageOffset())
  }

  /// `KVM_GET_STATS_FD` on the VM fd.
  public func statistics() throws(SystemCallError) -> StatsFile {
    let fd = try descriptor.ioctl("KVM_GET_STATS_FD", CKVM_GET_STATS_FD, nil)
    return try StatsFile(descriptor: OwnedDescriptor(fd))
  }
}
