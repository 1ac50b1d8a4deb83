import Guest
import KVM

/// Where each vCPU's copy of the benchmark loop lives and what it writes.
///
/// vCPU i runs its own copy of `GuestWorkload`'s loop at `codeAddress + codeStride·i`
/// and writes its own register, `base + 8·i`: MMIO `0x100000 + 8·i`, port
/// `0x80 + 8·i`, or RAM `0x8000 + 8·i` for the `ram` floor. One zone of 8 bytes per
/// vCPU, `[base, base + 8·vcpus)`, covers every register, so all vCPUs share the one
/// ring (and the kernel's ring lock). vCPU 0's loop is byte-identical to
/// `bench/reference/cmmio-ref`'s.
public struct GuestPlacement: Sendable, Equatable {
  /// Bytes between two vCPUs' registers (a 4-byte write each, 8-byte aligned slots).
  public static let registerStride: UInt64 = 8
  /// Bytes between two vCPUs' programs: room for the longest loop (with a doorbell, 47 bytes).
  public static let codeStride: UInt64 = 0x40

  public let mode: BenchMode
  public let space: IOSpace
  public let vcpus: Int
  public let writes: UInt32
  public let flushEvery: UInt32
  /// Every write carries the guest's TSC (the drain delay's stamped run; `GuestWorkload.stamped`).
  public let stamped: Bool

  public init(mode: BenchMode, space: IOSpace, vcpus: Int, writes: UInt32, flushEvery: UInt32, stamped: Bool = false) {
    self.mode = mode
    self.space = space
    self.vcpus = vcpus
    self.writes = writes
    self.flushEvery = flushEvery
    self.stamped = stamped
  }

  /// The most vCPUs the layout has room for: programs in the code area, MMIO registers
  /// below the doorbell.
  public static let maximumVCPUs: Int = {
    let programs = GuestLayout.codeLimit / Int(codeStride)
    let registers = Int((GuestLayout.mmioDoorbell - GuestLayout.mmioDevice) / registerStride)
    return min(programs, registers)
  }()

  /// vCPU 0's register: what `base + 8·i` starts from.
  public var base: UInt64 {
    switch mode {
    case .ram: return GuestLayout.ramTarget
    case .plain, .coalesced, .coalescedV2, .ioeventfd:
      return space == .mmio ? GuestLayout.mmioDevice : UInt64(GuestLayout.pioDevice)
    }
  }

  /// vCPU `index`'s register.
  public func register(ofVCPU index: Int) -> UInt64 { base + Self.registerStride * UInt64(index) }

  /// vCPU `index`'s loop.
  public func workload(ofVCPU index: Int) -> GuestWorkload {
    let target: GuestWorkload.Target
    switch mode {
    case .ram:
      // A store to RAM, whichever space is measured: the floor for both (as cmmio-ref does).
      target = index == 0 ? .ram : .device(.mmio, register(ofVCPU: index))
    case .plain, .coalesced, .coalescedV2, .ioeventfd:
      target = .device(space, register(ofVCPU: index))
    }
    return GuestWorkload(target: target, writes: writes, flushEvery: flushEvery, stamped: stamped)
  }

  /// Where vCPU `index`'s program is loaded and starts.
  public func origin(ofVCPU index: Int) -> UInt64 { GuestLayout.codeAddress + Self.codeStride * UInt64(index) }

  /// vCPU `index`'s program, at its origin.
  public func program(ofVCPU index: Int) -> GuestProgram { workload(ofVCPU: index).program(at: origin(ofVCPU: index)) }

  /// The zone that coalesces every vCPU's register (ring modes only).
  public var zone: CoalescedZone {
    CoalescedZone(address: base, size: UInt32(Self.registerStride) * UInt32(vcpus), space: space)
  }
}
