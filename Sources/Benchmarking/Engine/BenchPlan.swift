import Guest
import KVM
import Platform

/// One result to measure: its key, and where each thread is pinned.
public struct BenchCase: Sendable, Equatable {
  public var key: CaseKey
  /// Per vCPU: the CPU its thread is pinned to, or nil.
  public var vcpuCPUs: [Int?]
  /// The drainer's CPU (`thread` drain of a ring mode), or nil.
  public var drainCPU: Int?
  /// Whether a drainer thread runs.
  public var hasDrainer: Bool

  /// One line naming the case, for progress and messages.
  public var label: String {
    var text = "\(key.mode.rawValue) \(key.space)"
    if let size = key.ringSize { text += " K=\(size)" }
    if key.mode.usesRing { text += " drain \(key.drain.rawValue)" }
    if key.vcpus > 1 { text += " \(key.vcpus) vCPUs" }
    if let cpu = key.vcpuCPU { text += " on CPU \(cpu)" }
    if let cpu = drainCPU { text += ", drainer on CPU \(cpu)" }
    return text
  }
}

/// A configuration checked against this host and kernel, and expanded into cases.
public struct BenchPlan: Sendable {
  public let configuration: BenchConfiguration
  public let cases: [BenchCase]
  /// The ring's fill measured by `RingCapacityProbe`; nil without `KVM_CAP_COALESCED_MMIO`.
  public let ring: RingFill?

  /// Usable ring entries (`KVM_COALESCED_MMIO_MAX` − 1: 169 on 4 KiB pages); 0 without a ring.
  public var ringCapacity: Int { ring?.usable ?? 0 }
  /// The has-room arithmetic the probe showed, which every ring cursor models.
  public var ringArithmetic: HasRoomArithmetic? { ring?.arithmetic }

  /// The most vCPUs a VM may have here (`KVMDevice.maxVCPUs`), bounded by the guest layout.
  public static func maximumVCPUs(_ device: KVMDevice) -> Int {
    min(device.maxVCPUs, GuestPlacement.maximumVCPUs)
  }

  /// Checks `configuration` and lays out its cases. `configuration.ringSizes` must already be
  /// concrete (empty means the measured capacity).
  public static func make(
    _ configuration: BenchConfiguration, device: KVMDevice, host: Host, ring: RingFill?
  ) throws(BenchSetupError) -> BenchPlan {
    let ringCapacity = ring?.usable ?? 0
    var config = configuration
    try config.check()
    try checkHost(config, device: device, host: host)
    let usesRing = config.modes.contains { $0.usesRing }
    if config.modes.contains(.coalescedV2) {
      try requireV2(device)
    }
    if config.modes.contains(.ioeventfd) {
      let answer = (try? device.checkExtension(.ioeventfd)) ?? 0
      guard answer > 0 else { throw .featureMissing(.ioeventfd) }
    }
    if usesRing {
      guard ringCapacity > 0 else { throw .featureMissing(.coalescedMMIO) }
      if config.space == .pio {
        let pio = (try? device.checkExtension(.coalescedPIO)) ?? 0
        guard pio > 0 else { throw .featureMissing(.coalescedPIO) }
      }
      // No model predicts this kernel: no ring size could be set, so none is claimed.
      if let ring, ring.arithmetic == nil { throw .unmodelledRing(ring) }
      if config.ringSizes.isEmpty { config.ringSizes = [UInt32(ringCapacity)] }
      for size in config.ringSizes where size < 1 || Int(size) > ringCapacity {
        throw .ringSizeOutOfRange(size, capacity: ringCapacity)
      }
    }
    return BenchPlan(configuration: config, cases: expand(config), ring: ring)
  }

  /// What depends on this host and kernel: the vCPU limit, the CPUs online and allowed to
  /// this process, the NUMA nodes present (`BenchConfiguration.check` made the rest).
  private static func checkHost(_ config: BenchConfiguration, device: KVMDevice, host: Host) throws(BenchSetupError) {
    let limit = maximumVCPUs(device)
    guard config.vcpus <= limit else { throw .vcpusAboveLimit(requested: config.vcpus, limit: limit) }
    for (setting, list) in [(BenchSetting.vcpuCPUs, config.vcpuCPUs), (.drainCPUs, config.drainCPUs)] {
      guard let list else { continue }
      let offline = ThreadPinning.offline(list, online: host.cpusOnline)
      if !offline.isEmpty { throw .cpusOffline(setting, cpus: offline, online: host.cpusOnline) }
      if let allowed = Host.allowedCPUs() {
        let outside = ThreadPinning.offline(list, online: allowed)
        if !outside.isEmpty { throw .cpusNotAllowed(setting, cpus: outside, allowed: allowed) }
      }
    }
    if let node = config.numaNode, !host.numaNodes.contains(where: { $0.node == node }) {
      throw .numaNodeMissing(node, nodes: host.numaNodes.map(\.node))
    }
  }

  private static func requireV2(_ device: KVMDevice) throws(BenchSetupError) {
    let vm: VirtualMachine
    do { vm = try device.createVM() } catch { throw .failure(error.description) }
    let probe = MMIO2Probe.run(on: vm)
    guard probe.supported else { throw .featureMissing(.coalescedV2(answer: probe.answer)) }
  }

  /// Every result, in the order they are measured: per vCPU placement, each mode, each ring size,
  /// each drainer CPU. `ram` first in each group, so the floor is measured before what is compared with it.
  static func expand(_ config: BenchConfiguration) -> [BenchCase] {
    var placements: [[Int?]] = []
    if let list = config.vcpuCPUs {
      if config.vcpus == 1 {
        placements = list.cpus.map { [$0] }
      } else {
        // Several vCPUs: spread over the list round-robin; one result.
        placements = [(0..<config.vcpus).map { list.cpus[$0 % list.cpus.count] }]
      }
    } else {
      placements = [Array(repeating: nil, count: config.vcpus)]
    }
    let drainers: [Int?] = config.drain == .exit ? [nil] : (config.drainCPUs?.cpus.map { $0 } ?? [nil])
    var cases: [BenchCase] = []
    for placement in placements {
      let vcpuCPU = placement.first ?? nil
      let node = config.numaNode ?? vcpuCPU.flatMap { Host.node(ofCPU: $0) }
      for mode in config.modes {
        if mode.usesRing {
          for size in config.ringSizes {
            for drainCPU in drainers {
              let key = CaseKey(
                mode: mode, space: config.space, ringSize: size, flushEvery: config.flushEvery, drain: config.drain,
                vcpus: config.vcpus, vcpuCPU: vcpuCPU, drainCPU: drainCPU, numaNode: node)
              cases.append(
                BenchCase(key: key, vcpuCPUs: placement, drainCPU: drainCPU, hasDrainer: config.drain != .exit))
            }
          }
        } else {
          let key = CaseKey(
            mode: mode, space: config.space, ringSize: nil, flushEvery: config.flushEvery, drain: config.drain,
            vcpus: config.vcpus, vcpuCPU: vcpuCPU, drainCPU: nil, numaNode: node)
          cases.append(BenchCase(key: key, vcpuCPUs: placement, drainCPU: nil, hasDrainer: false))
        }
      }
    }
    return cases
  }
}

/// Measures the ring's real capacity and so the kernel's has-room arithmetic: from an empty
/// ring (`first = last = start`) at a few start indexes, how many writes the kernel coalesces
/// before one exits. The same quantity `cmmio verify`'s `capacity` check measures at every
/// start index, read by the same `RingFill` (kernels before 6.12 take 85 from index 0, 169
/// from index 85; 6.12 and later 169 from anywhere, with 4 KiB pages).
public enum RingCapacityProbe {
  /// The start indexes tried: both ends and both sides of the middle, where the pre-6.12
  /// arithmetic switches between about half and the whole ring.
  public static func starts(slots: UInt32) -> [UInt32] {
    Array(Set([0, slots / 2 - 1, slots / 2, slots - 1])).sorted()
  }

  /// Nil when the kernel has no `KVM_CAP_COALESCED_MMIO`. `GuestRunner` drains the ring at each
  /// exit, so the writes it reports as coalesced before the first exit are the fill.
  public static func measure(_ device: KVMDevice) throws(GuestRunError) -> RingFill? {
    let machine: GuestMachine
    let vcpu: VCPU
    do throws(SystemCallError) {
      machine = try GuestMachine(device: device)
      guard try machine.vm.ringPageOffset() > 0 else { return nil }
      try machine.vm.register(CoalescedZone(address: GuestLayout.mmioDevice, size: 8))
      vcpu = try machine.addVCPU()
    } catch {
      throw .kvm(error)
    }
    guard let ring = vcpu.ring else { return nil }
    // One more write than the ring could ever take, so one of them must exit.
    let program = GuestWorkload(target: .device(.mmio, GuestLayout.mmioDevice), writes: ring.capacity).program()
    let starts = starts(slots: ring.capacity)
    var counts: [Int] = []
    for start in starts {
      do { try machine.restart(vcpu, with: program) } catch { throw .kvm(error) }
      ring.reset(to: start)
      var runner: GuestRunner
      do { runner = try GuestRunner(vcpu: vcpu) } catch { throw .corruption(error) }
      var coalesced = 0
      var refused = false
      _ = try runner.run { write in
        if write.delivery == .exit { refused = true } else if !refused { coalesced += 1 }
      }
      counts.append(coalesced)
    }
    return RingFill(slots: ring.capacity, starts: starts, counts: counts)
  }
}
