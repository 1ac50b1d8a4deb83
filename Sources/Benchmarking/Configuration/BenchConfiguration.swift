import KVM

/// What each result measures: where the guest's writes go.
public enum BenchMode: String, Sendable, Hashable, CaseIterable {
  /// The same loop storing to guest RAM: no exit, the floor.
  case ram
  /// Every write exits to userspace (no zone registered).
  case plain
  /// Writes coalesced into the v1 ring (`KVM_REGISTER_COALESCED_MMIO`).
  case coalesced
  /// Writes coalesced into a v2 buffer (`KVM_REGISTER_COALESCED_MMIO2`); exit 3 where absent.
  case coalescedV2 = "coalesced-v2"
  /// Every write completes in the kernel and signals an eventfd (`KVM_IOEVENTFD`, no
  /// datamatch): no exit to userspace, and the written value is lost; exit 3 where absent.
  case ioeventfd

  /// Whether the mode uses a ring, so ring size and drain apply.
  public var usesRing: Bool { self == .coalesced || self == .coalescedV2 }
}

/// Who drains the ring.
public enum DrainStrategy: String, Sendable, Hashable, CaseIterable {
  /// The vCPU thread drains at each exit to userspace.
  case exit
  /// A drainer thread consumes entries as they appear (serialized with the vCPU threads).
  case thread
  /// v2 only: a thread woken by `poll()` on the buffer fd.
  case poll
}

/// The full configuration of one `cmmio bench` invocation (its options are in docs/cli.md).
public struct BenchConfiguration: Sendable, Equatable {
  public var modes: [BenchMode] = [.ram, .plain, .coalesced]
  public var space: IOSpace = .mmio
  /// Writes per run, per vCPU.
  public var writes: UInt32 = 20_000
  public var runs: Int = 5
  public var warmup: Int = 1
  /// Ring sizes K to model (1…usable capacity); empty means the full ring.
  public var ringSizes: [UInt32] = []
  /// Read the doorbell after every N writes; 0 never.
  public var flushEvery: UInt32 = 0
  public var drain: DrainStrategy = .exit
  public var vcpus: Int = 1
  /// CPUs the vCPU threads are pinned to, one result per CPU; nil leaves them unpinned.
  public var vcpuCPUs: CPUList?
  /// CPUs the drainer thread is pinned to (`thread`/`poll` drains).
  public var drainCPUs: CPUList?
  /// NUMA node for guest memory; nil leaves the kernel's default policy.
  public var numaNode: Int?
  public var verify = true
  /// Seconds one run may take before it is ended; nil for no bound.
  public var timeout: Double?

  /// The most `runs` and the most `warmup`: their sum and the per-result sample arrays
  /// stay far from any overflow or allocation limit.
  public static let maximumRuns = 1_000_000
  /// The longest `timeout`, in seconds (about 11.6 days): its deadline in nanoseconds
  /// stays well inside `UInt64`.
  public static let maximumTimeout: Double = 1_000_000
  /// The highest `numaNode` (libnuma's `NUMA_NUM_NODES` is 1024 at most).
  public static let maximumNUMANode = 1023
  /// The most `vcpus` whatever the host (`BenchPlan.make` also bounds them by the kernel's
  /// `KVM_CAP_MAX_VCPUS` and the guest layout).
  public static let maximumVCPUs = 1024

  public init() {}
}

/// The configuration of one result: one point of mode × space × ring size × CPUs × drain.
public struct CaseKey: Sendable, Hashable {
  public var mode: BenchMode
  public var space: IOSpace
  /// K for ring modes; nil for `ram` and `plain`.
  public var ringSize: UInt32?
  public var flushEvery: UInt32
  public var drain: DrainStrategy
  public var vcpus: Int
  /// The CPU the vCPU thread was pinned to (the first, for several vCPUs); nil if unpinned.
  public var vcpuCPU: Int?
  /// The CPU the drainer was pinned to; nil if unpinned or none.
  public var drainCPU: Int?
  /// The NUMA node of `vcpuCPU` (or of guest memory when `--numa-node` is given).
  public var numaNode: Int?

  public init(
    mode: BenchMode, space: IOSpace, ringSize: UInt32?, flushEvery: UInt32, drain: DrainStrategy, vcpus: Int,
    vcpuCPU: Int?, drainCPU: Int?, numaNode: Int?
  ) {
    self.mode = mode
    self.space = space
    self.ringSize = ringSize
    self.flushEvery = flushEvery
    self.drain = drain
    self.vcpus = vcpus
    self.vcpuCPU = vcpuCPU
    self.drainCPU = drainCPU
    self.numaNode = numaNode
  }
}
