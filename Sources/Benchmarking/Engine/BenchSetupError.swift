import KVM

/// A setting of `BenchConfiguration` that a check can refuse. The layer above names it
/// for its users (the command line by its flag); this layer never does.
public enum BenchSetting: String, Sendable, CaseIterable {
  case modes, space, writes, runs, warmup, ringSizes, flushEvery, drain, vcpus, vcpuCPUs, drainCPUs, numaNode, timeout

  /// The values an integer setting takes whatever the host (the host's own limits, such as
  /// `KVM_CAP_MAX_VCPUS` or the NUMA nodes present, are checked by `BenchPlan.make`).
  public var range: ClosedRange<Int>? {
    switch self {
    case .writes, .flushEvery: 1...Int(UInt32.max)
    case .runs: 1...BenchConfiguration.maximumRuns
    case .warmup: 0...BenchConfiguration.maximumRuns
    case .vcpus: 1...BenchConfiguration.maximumVCPUs
    case .numaNode: 0...BenchConfiguration.maximumNUMANode
    default: nil
    }
  }
}

/// A kernel feature a configuration needs and the kernel does not offer.
public enum BenchFeature: Sendable, Equatable {
  /// `KVM_CAP_COALESCED_MMIO`, for the ring modes.
  case coalescedMMIO
  /// `KVM_CAP_COALESCED_PIO`, for the ring modes in port space.
  case coalescedPIO
  /// `KVM_CAP_IOEVENTFD`, for the `ioeventfd` mode.
  case ioeventfd
  /// The proposed v2 API: `MMIO2Probe.attempt` answered `answer` (an errno name and text).
  case coalescedV2(answer: String)
}

/// Why a bench cannot start. Each case is one refusal with the values it concerns; the
/// command line words it and picks the exit status by `kind`.
public enum BenchSetupError: Error, Sendable, Equatable {
  /// The setting's value is outside `setting.range` (for `timeout`: more than 0, at most
  /// `BenchConfiguration.maximumTimeout` seconds); `value` as it was given.
  case outOfRange(BenchSetting, value: String)
  /// No mode to measure.
  case noModes
  /// More vCPUs than this kernel (`KVM_CAP_MAX_VCPUS`) and the guest layout allow.
  case vcpusAboveLimit(requested: Int, limit: Int)
  /// A CPU list (`vcpuCPUs` or `drainCPUs`) names CPUs that are not online.
  case cpusOffline(BenchSetting, cpus: [Int], online: CPUList)
  /// A CPU list names CPUs outside this process's affinity mask (`sched_getaffinity`).
  case cpusNotAllowed(BenchSetting, cpus: [Int], allowed: CPUList)
  /// `setting` (`drain` other than `exit`, with its `value`, or `drainCPUs`) applies only to
  /// the ring modes, and `modes` has none.
  case needsRingMode(BenchSetting, value: String?, modes: [BenchMode])
  /// `drainCPUs` with the `exit` drain, where the vCPU threads drain and no drainer runs.
  case drainCPUsWithExitDrain
  /// The `poll` drain without `coalescedV2`: `poll()` waits on a v2 buffer fd.
  case pollNeedsV2
  /// The NUMA node does not exist on this host.
  case numaNodeMissing(Int, nodes: [Int])
  /// A ring size K outside 1…`capacity`, the usable entries of this kernel's ring.
  case ringSizeOutOfRange(UInt32, capacity: Int)
  /// A kernel feature the configuration needs is missing.
  case featureMissing(BenchFeature)
  /// The ring's measured fill matches no has-room arithmetic cmmio models, so no ring size
  /// could be set.
  case unmodelledRing(RingFill)
  /// Setting up failed (creating the VM for the v2 probe), with the system's account of it.
  case failure(String)

  /// How the command line classifies a refusal.
  public enum Kind: Sendable, Equatable {
    /// A value or combination the host, the kernel or the engine cannot take (usage).
    case usage
    /// A kernel feature is missing.
    case featureMissing
    /// Setting up failed.
    case failure
  }

  public var kind: Kind {
    switch self {
    case .featureMissing: .featureMissing
    case .unmodelledRing, .failure: .failure
    default: .usage
    }
  }
}

extension BenchConfiguration {
  /// The checks of this configuration that need no host, kernel or device: every setting's
  /// range and the combinations that would do nothing. The one place they are made: the
  /// command line calls it before opening the device, `BenchPlan.make` for every caller.
  public func check() throws(BenchSetupError) {
    guard !modes.isEmpty else { throw .noModes }
    try Self.check(.writes, Int(writes))
    try Self.check(.runs, runs)
    try Self.check(.warmup, warmup)
    if flushEvery != 0 { try Self.check(.flushEvery, Int(flushEvery)) }
    try Self.check(.vcpus, vcpus)
    if let numaNode { try Self.check(.numaNode, numaNode) }
    if let timeout { try Self.check(timeout: timeout) }
    let hasRing = modes.contains { $0.usesRing }
    if drain != .exit && !hasRing { throw .needsRingMode(.drain, value: drain.rawValue, modes: modes) }
    if drainCPUs != nil {
      if !hasRing { throw .needsRingMode(.drainCPUs, value: nil, modes: modes) }
      if drain == .exit { throw .drainCPUsWithExitDrain }
    }
    if drain == .poll && !modes.contains(.coalescedV2) { throw .pollNeedsV2 }
  }

  /// `value` against `setting.range`: a caller holding a wider integer than the
  /// configuration's field (the command line's `Int`) checks it here before converting.
  public static func check(_ setting: BenchSetting, _ value: Int) throws(BenchSetupError) {
    guard let range = setting.range, range.contains(value) else {
      throw .outOfRange(setting, value: String(value))
    }
  }

  /// A timeout must be more than 0 and at most `maximumTimeout` seconds (NaN is neither).
  public static func check(timeout: Double) throws(BenchSetupError) {
    guard timeout > 0 && timeout <= maximumTimeout else { throw .outOfRange(.timeout, value: "\(timeout)") }
  }
}
