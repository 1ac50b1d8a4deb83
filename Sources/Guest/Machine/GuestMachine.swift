import KVM

/// A VM set up to run cmmio guests: RAM slot 0, code loaded, vCPUs in unreal mode.
///
/// It owns the VM, its memory and its vCPUs; all are released together.
public final class GuestMachine: @unchecked Sendable {
  public let vm: VirtualMachine
  public let memory: GuestMemory
  public private(set) var vcpus: [VCPU] = []

  /// Creates the VM and its RAM; no vCPU yet.
  public init(device: KVMDevice) throws(SystemCallError) {
    vm = try device.createVM()
    memory = try vm.addMemory(slot: 0, guestAddress: 0, size: GuestLayout.ramSize)
  }

  /// The ring every vCPU of this VM shares (nil without `KVM_CAP_COALESCED_MMIO`).
  public var ring: CoalescedRing? { vcpus.first?.ring }

  /// Loads `program` (code and constants) into RAM.
  public func load(_ program: GuestProgram) {
    precondition(program.bytes.count <= GuestLayout.codeLimit, "guest program too large")
    memory.write(program.bytes, at: program.origin)
    for (address, value) in program.constants {
      memory.write((0..<8).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }, at: address)
    }
  }

  /// Creates a vCPU that starts at `entry` in unreal mode.
  @discardableResult
  public func addVCPU(entry: UInt64 = GuestLayout.codeAddress) throws(SystemCallError) -> VCPU {
    let vcpu = try vm.createVCPU(id: UInt32(vcpus.count))
    try vcpu.enterUnrealMode(entry: entry)
    vcpus.append(vcpu)
    return vcpu
  }

  /// Loads `program` at its origin and points vCPU `index` at it again, so one
  /// machine can run several programs in turn (zones and ring are kept).
  public func restart(_ vcpu: VCPU, with program: GuestProgram) throws(SystemCallError) {
    load(program)
    try vcpu.enterUnrealMode(entry: program.origin)
  }
}
