import CKVM

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A vCPU fd and its `kvm_run` mapping.
///
/// The corresponding type in rust-vmm is `VcpuFd`. It owns its fd and mapping,
/// so it may be handed to the thread that runs it (`@unchecked Sendable`): only
/// one thread may call `run()` at a time.
public final class VCPU: @unchecked Sendable {
  public let id: UInt32
  /// The VM is kept alive as long as any of its vCPUs.
  public let vm: VirtualMachine
  public let descriptor: OwnedDescriptor
  private let mapping: OwnedMapping
  /// The shared `struct kvm_run`.
  public let runState: UnsafeMutablePointer<kvm_run>
  /// The VM's coalesced ring, seen through this vCPU's mapping; nil where the
  /// kernel lacks `KVM_CAP_COALESCED_MMIO`.
  public let ring: CoalescedRing?

  init(id: UInt32, vm: VirtualMachine, descriptor: OwnedDescriptor, mapping: OwnedMapping, ringPageOffset: Int) {
    self.id = id
    self.vm = vm
    self.descriptor = descriptor
    self.mapping = mapping
    self.runState = mapping.base.assumingMemoryBound(to: kvm_run.self)
    let pageSize = Host.pageSize
    if ringPageOffset > 0, (ringPageOffset + 1) * pageSize <= mapping.length {
      ring = CoalescedRing(page: mapping.base.advanced(by: ringPageOffset * pageSize), pageSize: pageSize)
    } else {
      ring = nil
    }
  }

  /// `KVM_RUN` once. `EINTR` (a signal: a kick, SIGINT, a timeout) is returned as
  /// `.interrupted` so the caller can look at why and decide. Every other errno is
  /// thrown, never retried: `EAGAIN` (the kernel could not start the VM's worker
  /// thread under a pids or `RLIMIT_NPROC` limit) and `ENOMEM` answer the same on
  /// every retry, so a retry loop would spin; `SystemCallError.isEnvironmentFailure`
  /// marks them.
  public func run() throws(SystemCallError) -> VCPUExit {
    if ckvm_ioctl_int(descriptor.rawValue, CKVM_RUN, 0) == -1 {
      let code = errno
      if code == EINTR { return .interrupted }
      throw SystemCallError(operation: "KVM_RUN", code: code)
    }
    return decodeExit()
  }

  /// Sets `kvm_run.immediate_exit`: while set, `KVM_RUN` returns `EINTR` at once.
  /// Used with a signal to kick a vCPU out of the guest without a race.
  public func setImmediateExit(_ on: Bool) {
    runState.pointee.immediate_exit = on ? 1 : 0
  }

  /// Decodes `kvm_run` after a `KVM_RUN` that returned 0.
  public func decodeExit() -> VCPUExit {
    let run = runState
    switch Int32(run.pointee.exit_reason) {
    case KVM_EXIT_MMIO:
      let mmio = run.pointee.mmio
      let raw = withUnsafeBytes(of: mmio.data) { $0.loadUnaligned(as: UInt64.self) }
      let isWrite = mmio.is_write != 0
      return .mmio(
        address: mmio.phys_addr, length: mmio.len, isWrite: isWrite,
        data: isWrite ? maskToLength(raw, mmio.len) : 0)
    case KVM_EXIT_IO:
      let io = run.pointee.io
      let isOut = io.direction == UInt8(KVM_EXIT_IO_OUT)
      var data: UInt64 = 0
      if isOut {
        let size = min(Int(io.size), 8)
        let source = UnsafeRawPointer(run).advanced(by: Int(io.data_offset))
        withUnsafeMutableBytes(of: &data) { $0.copyMemory(from: UnsafeRawBufferPointer(start: source, count: size)) }
      }
      return .io(port: io.port, size: UInt32(io.size), isOut: isOut, count: io.count, data: UInt64(littleEndian: data))
    case KVM_EXIT_HLT: return .halt
    case KVM_EXIT_INTR: return .interrupted
    case KVM_EXIT_SHUTDOWN: return .shutdown
    case KVM_EXIT_FAIL_ENTRY:
      return .failEntry(reason: run.pointee.fail_entry.hardware_entry_failure_reason)
    case KVM_EXIT_INTERNAL_ERROR: return .internalError(suberror: run.pointee.internal.suberror)
    default: return .other(reason: run.pointee.exit_reason)
    }
  }

  /// `KVM_GET_REGS`.
  public func registers() throws(SystemCallError) -> kvm_regs {
    var regs = kvm_regs()
    try descriptor.ioctl("KVM_GET_REGS", CKVM_GET_REGS, &regs)
    return regs
  }

  /// `KVM_SET_REGS`.
  public func setRegisters(_ regs: kvm_regs) throws(SystemCallError) {
    var regs = regs
    try descriptor.ioctl("KVM_SET_REGS", CKVM_SET_REGS, &regs)
  }

  /// `KVM_GET_SREGS`.
  public func specialRegisters() throws(SystemCallError) -> kvm_sregs {
    var sregs = kvm_sregs()
    try descriptor.ioctl("KVM_GET_SREGS", CKVM_GET_SREGS, &sregs)
    return sregs
  }

  /// `KVM_SET_SREGS`.
  public func setSpecialRegisters(_ sregs: kvm_sregs) throws(SystemCallError) {
    var sregs = sregs
    try descriptor.ioctl("KVM_SET_SREGS", CKVM_SET_SREGS, &sregs)
  }

  /// Puts the vCPU in "unreal mode" at `entry`: real mode (CR0.PE clear) with
  /// CS base 0 and DS/ES base 0 and a 4 GiB limit, so `a32` stores reach any
  /// 32-bit guest physical address without page tables or a GDT.
  public func enterUnrealMode(entry: UInt64) throws(SystemCallError) {
    var sregs = try specialRegisters()
    sregs.cs.base = 0
    sregs.cs.selector = 0
    sregs.ds.base = 0
    sregs.ds.selector = 0
    sregs.ds.limit = 0xFFFF_FFFF
    sregs.ds.g = 1
    sregs.es = sregs.ds
    try setSpecialRegisters(sregs)
    var regs = kvm_regs()
    regs.rip = entry
    regs.rflags = 2
    try setRegisters(regs)
  }

  /// `KVM_GET_STATS_FD` on the vCPU fd: the kernel's own per-vCPU counters.
  public func statistics() throws(SystemCallError) -> StatsFile {
    let fd = try descriptor.ioctl("KVM_GET_STATS_FD", CKVM_GET_STATS_FD, nil)
    return try StatsFile(descriptor: OwnedDescriptor(fd))
  }
}
