import CKVM
import Platform
import Synchronization

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
  /// The shared `struct kvm_run`, which `run()` reads in place.
  @usableFromInline let state: UnsafeMutablePointer<kvm_run>
  /// `descriptor.rawValue`, copied: the vCPU fd lives as long as the vCPU, and reading the
  /// class's `var` from another module costs a dynamic exclusivity check (`swift_beginAccess`)
  /// on every `KVM_RUN` of the benchmark's loop.
  @usableFromInline let fd: Int32
  /// The VM's coalesced ring, seen through this vCPU's mapping; nil where the
  /// kernel lacks `KVM_CAP_COALESCED_MMIO`.
  public let ring: CoalescedRing?

  /// The start of the vCPU's mapping (`struct kvm_run`, then the ring page).
  public var runState: UnsafeMutableRawPointer { UnsafeMutableRawPointer(state) }

  init(id: UInt32, vm: VirtualMachine, descriptor: OwnedDescriptor, mapping: OwnedMapping, ringPageOffset: Int) {
    self.id = id
    self.vm = vm
    self.descriptor = descriptor
    self.fd = descriptor.rawValue
    self.mapping = mapping
    self.state = mapping.base.assumingMemoryBound(to: kvm_run.self)
    let pageSize = Host.pageSize
    if ringPageOffset > 0, (ringPageOffset + 1) * pageSize <= mapping.length {
      ring = CoalescedRing(page: mapping.base.advanced(by: ringPageOffset * pageSize), pageSize: pageSize)
    } else {
      ring = nil
    }
  }

  /// `KVM_RUN` once: the one place cmmio enters a guest. `EINTR` (a signal: a kick,
  /// SIGINT, a timeout) is returned as `.interrupted` so the caller can look at why and
  /// decide. Every other errno is thrown, never retried: `EAGAIN` (the kernel could
  /// not start the VM's worker thread under a pids or `RLIMIT_NPROC` limit) and
  /// `ENOMEM` answer the same on every retry, so a retry loop would spin;
  /// `SystemCallError.isEnvironmentFailure` marks them.
  ///
  /// Inlined into its callers (the benchmark's loop among them): the exit is decoded by
  /// loading each field straight from the mapped `kvm_run`, with no call and no copy
  /// of the structure between the ioctl and the caller's `switch`.
  @inlinable @inline(__always)
  public func run() throws(SystemCallError) -> VCPUExit {
    if ckvm_ioctl_int(fd, CKVM_RUN, 0) == -1 {
      let code = errno
      if code == EINTR { return .interrupted }
      throw SystemCallError(operation: "KVM_RUN", code: code)
    }
    return VCPUExit(reading: state)
  }

  /// `KVM_RUN` until it returns an exit, going back in after each interruption while
  /// `resume()` says so; when it says not to, answers `.interrupted`. `resume` is asked
  /// once per interruption (a caller may count them there).
  ///
  /// The one place `kvm_run.immediate_exit` is cleared. A stopper sets its flag, then
  /// `immediate_exit`, then signals the thread (the kernel's recipe for a kick without a
  /// race); here `immediate_exit` is cleared first and the flag read after a full fence,
  /// so a stop is either seen by `resume()` or leaves `immediate_exit` set for the next
  /// `KVM_RUN`, never lost between the two.
  @inlinable @inline(__always)
  public func run(resumingWhile resume: () -> Bool) throws(SystemCallError) -> VCPUExit {
    while true {
      let exit = try run()
      guard case .interrupted = exit else { return exit }
      state.pointee.immediate_exit = 0
      atomicMemoryFence(ordering: .sequentiallyConsistent)
      guard resume() else { return .interrupted }
    }
  }

  /// Sets `kvm_run.immediate_exit`: while set, `KVM_RUN` returns `EINTR` at once.
  /// Used with a signal to kick a vCPU out of the guest without a race.
  public func setImmediateExit(_ on: Bool) {
    state.pointee.immediate_exit = on ? 1 : 0
  }

  /// Answers the MMIO read that exited with 0: `kvm_run.mmio.data` is what the guest
  /// reads when `KVM_RUN` resumes, and the kernel leaves whatever was there.
  public func answerReadWithZero() {
    state.pointee.mmio.data = (0, 0, 0, 0, 0, 0, 0, 0)
  }

  /// The guest's instruction pointer (`KVM_GET_REGS`), for messages about an exit.
  public func instructionPointer() throws(SystemCallError) -> UInt64 {
    try registers().rip
  }

  /// `KVM_GET_REGS`.
  func registers() throws(SystemCallError) -> kvm_regs {
    var regs = kvm_regs()
    try descriptor.ioctl("KVM_GET_REGS", CKVM_GET_REGS, &regs)
    return regs
  }

  /// `KVM_SET_REGS`.
  func setRegisters(_ regs: kvm_regs) throws(SystemCallError) {
    var regs = regs
    try descriptor.ioctl("KVM_SET_REGS", CKVM_SET_REGS, &regs)
  }

  /// `KVM_GET_SREGS`.
  func specialRegisters() throws(SystemCallError) -> kvm_sregs {
    var sregs = kvm_sregs()
    try descriptor.ioctl("KVM_GET_SREGS", CKVM_GET_SREGS, &sregs)
    return sregs
  }

  /// `KVM_SET_SREGS`.
  func setSpecialRegisters(_ sregs: kvm_sregs) throws(SystemCallError) {
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
