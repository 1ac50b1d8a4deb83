import CMMIOTestSupport
import Guest
import KVM
import Testing

@testable import Benchmarking

/// Runs the engine on the real kernel with a small workload (1 run, no warm-up unless changed).
func measure(
  skew: Int64 = 0, ringSizeSkew: Int32 = 0, _ configure: (inout BenchConfiguration) -> Void
) throws -> BenchOutcome {
  let device = try KVMDevice()
  var config = BenchConfiguration()
  config.writes = 1_000
  config.runs = 1
  config.warmup = 0
  configure(&config)
  let ring = try RingCapacityProbe.measure(device)
  let plan = try BenchPlan.make(config, device: device, host: Host.current(), ring: ring)
  let engine = BenchEngine(plan: plan, device: device)
  engine.expectationSkew = skew
  engine.ringSizeSkew = ringSizeSkew
  return engine.run()
}

@Suite("Bench engine on the real /dev/kvm", .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct EngineKernelTests {
  @Test(
    "userspace exits per write: 1 for plain, 1/(K+1) for coalesced at ring size K, nothing lost",
    arguments: [IOSpace.mmio, .pio])
  func exitsPerWrite(space: IOSpace) throws {
    let outcome = try measure { config in
      config.modes = [.plain, .coalesced]
      config.space = space
      config.writes = 2_000
      config.runs = 2
      config.ringSizes = [1, 8, 32, 169]
    }
    #expect(outcome.failure == nil)
    #expect(outcome.interruptedBy == nil)
    #expect(outcome.results.count == 5)
    for result in outcome.results {
      let writes = Double(result.writes)
      let exits = result.userspaceExitsPerWrite * writes  // per run
      let expected = result.key.ringSize.map { writes / Double($0 + 1) } ?? writes
      #expect(
        abs(exits - expected) <= 1, "\(result.key.mode) K=\(String(describing: result.key.ringSize)): \(exits) exits")
      if result.key.mode == .plain { #expect(result.userspaceExitsPerWrite == 1) }
      let verification = try #require(result.verification)
      #expect(verification.lost == 0)
      #expect(verification.outOfOrder == 0)
      #expect(verification.entries == result.writes * result.runs)
      #expect(result.runs == 2)
      #expect(result.key.space == space)
    }
  }

  @Test("the kernel's own exits are never below the userspace exits; for plain they match within 1%")
  func kernelExits() throws {
    let outcome = try measure { config in
      config.modes = [.ram, .plain, .coalesced]
      config.ringSizes = [4, 169]
    }
    #expect(outcome.failure == nil)
    #expect(outcome.results.count == 4)
    for result in outcome.results {
      let userspace = result.userspaceExitsPerWrite * Double(result.writes)
      let kernel = try #require(result.kernelStat("exits"), "this kernel exposes no 'exits' counter")
      #expect(kernel >= userspace, "\(result.key.mode): kernel exits \(kernel) < userspace exits \(userspace)")
      if result.key.mode == .plain {
        #expect(kernel <= userspace * 1.01, "plain: kernel exits \(kernel), userspace exits \(userspace)")
        #expect(result.kernelStat("mmio_exits") == userspace)
      }
      #expect(result.kernelStat("insn_emulation") != nil || result.kernelStat("exits") != nil)
      #expect(result.kvmRunNs.p50 > 0 && result.kvmRunNs.p50 <= result.kvmRunNs.max)
      #expect(result.kvmRunNs.p90 <= result.kvmRunNs.p99 && result.kvmRunNs.p99 <= result.kvmRunNs.p999)
    }
    let ram = try #require(outcome.results.first { $0.key.mode == .ram })
    #expect(ram.userspaceExitsPerWrite == 0)
    #expect(ram.verification == Verification(entries: 0, lost: 0, outOfOrder: 0))
  }

  @Test(
    "two vCPUs through the one ring, drained at exits and by a drainer thread: nothing lost",
    arguments: [
      DrainStrategy.exit, .thread,
    ])
  func twoVCPUs(drain: DrainStrategy) throws {
    for space in IOSpace.allCases {
      let outcome = try measure { config in
        config.modes = [.plain, .coalesced]
        config.space = space
        config.vcpus = 2
        config.drain = drain
        config.ringSizes = [8, 169]
      }
      #expect(outcome.failure == nil)
      #expect(outcome.results.count == 3)
      for result in outcome.results {
        #expect(result.writes == 2_000)
        #expect(result.observedVCPUCPUs.count == 2)
        let verification = try #require(result.verification)
        #expect(verification == Verification(entries: 2_000, lost: 0, outOfOrder: 0), "\(space) \(result.key)")
        if result.key.mode == .coalesced && drain == .thread { #expect(result.observedDrainCPU != nil) }
        if drain == .exit { #expect(result.observedDrainCPU == nil) }
      }
    }
  }

  @Test(
    "the verifier can fail: a skewed expectation shows up as lost and out-of-order writes",
    arguments: [
      Int64(5), -5,
    ])
  func corruptedExpectation(skew: Int64) throws {
    let outcome = try measure(skew: skew) { config in
      config.modes = [.plain, .coalesced]
      config.writes = 300
      config.ringSizes = [16]
    }
    #expect(outcome.failure == nil)
    for result in outcome.results {
      let verification = try #require(result.verification)
      #expect(!verification.clean)
      if skew > 0 {
        // Expecting 305 first: the first write (300) skips 305…301.
        #expect(verification.lost == 5)
        #expect(verification.outOfOrder == 1)
      } else {
        // Expecting 295 first: 300…296 arrive before their place.
        #expect(verification.outOfOrder == 5)
      }
    }
  }

  @Test("--no-verify measures without checking")
  func noVerify() throws {
    let outcome = try measure(skew: 7) { config in
      config.modes = [.plain]
      config.writes = 100
      config.verify = false
    }
    #expect(outcome.results.count == 1)
    #expect(outcome.results[0].verification == nil)
  }

  @Test("--flush-every: each doorbell read is a userspace exit and drains the ring")
  func flushEvery() throws {
    let outcome = try measure { config in
      config.modes = [.coalesced]
      config.writes = 1_000
      config.flushEvery = 10
      config.ringSizes = [169]
    }
    let result = try #require(outcome.results.first)
    // 100 doorbell reads; the ring (K=169) never fills between two of them.
    #expect(result.userspaceExitsPerWrite * 1_000 == 100)
    #expect(result.verification == Verification(entries: 1_000, lost: 0, outOfOrder: 0))
    #expect(result.key.flushEvery == 10)
  }

  @Test("pinned vCPU threads run where they were pinned, one result per CPU; memory on a NUMA node")
  func pinning() throws {
    let online = Host.onlineCPUs()
    let cpus = Array(online.cpus.prefix(2))
    let node = Host.current().numaNodes.first?.node ?? 0
    let outcome = try measure { config in
      config.modes = [.ram, .coalesced]
      config.writes = 200
      config.vcpuCPUs = CPUList(cpus)
      config.numaNode = node
    }
    #expect(outcome.failure == nil)
    #expect(outcome.results.count == 2 * cpus.count)
    for result in outcome.results {
      let cpu = try #require(result.key.vcpuCPU)
      #expect(result.observedVCPUCPUs == [cpu])
      #expect(result.key.numaNode == node)
      #expect(result.verification?.clean == true)
    }
  }

  @Test("the probe measures (page size − 8)/24 − 1 from every start index it tries: the 6.12+ arithmetic here")
  func ringCapacity() throws {
    let ring = try #require(try RingCapacityProbe.measure(KVMDevice()))
    #expect(ring.usable == (Host.pageSize - 8) / 24 - 1)
    #expect(ring.counts.allSatisfy { $0 == ring.usable })
    #expect(ring.starts == RingCapacityProbe.starts(slots: ring.slots))
    #expect(ring.arithmetic == .fixed)
  }
}

@Suite("Bench plan: what is refused before anything runs", .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct EnginePlanTests {
  private func plan(_ configure: (inout BenchConfiguration) -> Void) throws(BenchSetupError) -> BenchPlan {
    var config = BenchConfiguration()
    configure(&config)
    let device: KVMDevice
    do { device = try KVMDevice() } catch { throw .failure("\(error)") }
    let ring: RingFill?
    do { ring = try RingCapacityProbe.measure(device) } catch { throw .failure("\(error)") }
    return try BenchPlan.make(config, device: device, host: Host.current(), ring: ring)
  }

  private func usageError(_ configure: (inout BenchConfiguration) -> Void) -> Bool {
    do {
      _ = try plan(configure)
      return false
    } catch {
      return error.kind == .usage
    }
  }

  @Test("out-of-range values are usage errors")
  func usage() {
    #expect(usageError { $0.ringSizes = [0] })
    #expect(usageError { $0.ringSizes = [170] })
    #expect(usageError { $0.vcpus = 0 })
    #expect(usageError { $0.vcpus = 100_000 })
    #expect(usageError { $0.runs = 0 })
    #expect(usageError { $0.writes = 0 })
    #expect(usageError { $0.vcpuCPUs = CPUList([CPUList.maximumCPU]) })
    #expect(usageError { $0.numaNode = 4_000 })
    #expect(usageError { $0.drain = .poll })
    #expect(usageError { $0.drainCPUs = CPUList([0]) })
    #expect(usageError { $0.timeout = 0 })
    #expect(usageError { $0.modes = [] })
    #expect(!usageError { $0.ringSizes = [1, 169] })
  }

  @Test("coalesced-v2 is a missing feature on a kernel without the v2 API, naming what it answered")
  func v2() {
    do {
      _ = try plan { $0.modes = [.coalescedV2] }
      Issue.record("coalesced-v2 was accepted")
    } catch {
      guard case .featureMissing(.coalescedV2(let answer)) = error else {
        Issue.record("expected featureMissing, got \(error)")
        return
      }
      #expect(MMIO2Probe.attempt.contains("KVM_CREATE_COALESCED_MMIO_BUFFER"))
      #expect(answer.contains("ENOTTY") || answer.contains("EINVAL"))
    }
  }

  @Test("cases: one per mode × ring size × vCPU CPU × drainer CPU, the floor first")
  func expansion() throws {
    var config = BenchConfiguration()
    config.modes = [.ram, .plain, .coalesced]
    config.ringSizes = [1, 8]
    config.vcpuCPUs = CPUList([0, 1])
    config.drain = .thread
    config.drainCPUs = CPUList([0, 1])
    let cases = BenchPlan.expand(config)
    // Per vCPU CPU: ram, plain, and coalesced at 2 sizes × 2 drainer CPUs.
    #expect(cases.count == 2 * (1 + 1 + 2 * 2))
    #expect(cases.first?.key.mode == .ram)
    #expect(cases.filter { $0.key.mode == .plain }.allSatisfy { $0.drainCPU == nil && !$0.hasDrainer })
    #expect(cases.filter { $0.key.mode == .coalesced }.allSatisfy { $0.hasDrainer && $0.drainCPU != nil })
    config.vcpus = 3
    config.drain = .exit
    config.drainCPUs = nil
    let spread = BenchPlan.expand(config)
    #expect(spread.count == 1 + 1 + 2)
    #expect(spread.allSatisfy { $0.vcpuCPUs == [0, 1, 0] && $0.key.vcpuCPU == 0 })
  }
}

@Suite("Verifier and guest placement")
struct EngineUnitTests {
  private func verifier(vcpus: Int, first: UInt64, storage: UnsafeMutablePointer<UInt64>) -> WriteVerifier {
    WriteVerifier(
      base: 0x10_0000, stride: 8, vcpus: vcpus, space: .mmio, length: 4, firstValue: first, expectsWrites: true,
      enabled: true, storage: storage)
  }

  @Test("interleaved vCPUs are checked per vCPU by address")
  func interleaved() {
    let storage = UnsafeMutablePointer<UInt64>.allocate(capacity: 2)
    defer { storage.deallocate() }
    var check = verifier(vcpus: 2, first: 3, storage: storage)
    for (vcpu, value) in [(0, 3), (1, 3), (1, 2), (0, 2), (0, 1), (1, 1)] {
      check.observe(address: 0x10_0000 + 8 * UInt64(vcpu), length: 4, space: .mmio, data: UInt64(value))
    }
    check.finish()
    #expect(check.verification == Verification(entries: 6, lost: 0, outOfOrder: 0))
  }

  @Test("a skipped value is lost, a repeated one out of order, a stray address out of order, an unseen tail lost")
  func failures() {
    let storage = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    defer { storage.deallocate() }
    var check = verifier(vcpus: 1, first: 10, storage: storage)
    for value: UInt64 in [10, 9, 7, 7, 6] { check.observe(address: 0x10_0000, length: 4, space: .mmio, data: value) }
    check.observe(address: 0x10_0004, length: 4, space: .mmio, data: 5)  // not a register
    check.observe(address: 0x10_0000, length: 4, space: .pio, data: 5)  // wrong kind
    check.finish()  // 5…1 never seen
    #expect(check.lost == 1 + 5)
    #expect(check.outOfOrder == 2 + 1 + 1)
    #expect(check.entries == 7)
  }

  @Test("vCPU 0's loop is the reference loop; vCPU i has its own copy, register and zone slot")
  func placement() {
    let placement = GuestPlacement(mode: .coalesced, space: .pio, vcpus: 3, writes: 20_000, flushEvery: 0)
    #expect(placement.program(ofVCPU: 0).hex == "66 b8 20 4e 00 00 ba 80 00 66 ef 66 48 75 fa f4")
    #expect(placement.register(ofVCPU: 2) == 0x90)
    #expect(placement.origin(ofVCPU: 2) == 0x1080)
    #expect(placement.zone == CoalescedZone(address: 0x80, size: 24, space: .pio))
    let ram = GuestPlacement(mode: .ram, space: .mmio, vcpus: 2, writes: 20_000, flushEvery: 0)
    #expect(ram.program(ofVCPU: 0).hex == "66 b8 20 4e 00 00 66 bb 00 80 00 00 67 66 89 03 66 48 75 f8 f4")
    let longest = GuestPlacement(mode: .plain, space: .mmio, vcpus: 1, writes: 5, flushEvery: 2)
    #expect(UInt64(longest.program(ofVCPU: 0).bytes.count) <= GuestPlacement.codeStride)
    #expect(GuestPlacement.maximumVCPUs == 448)
  }
}
