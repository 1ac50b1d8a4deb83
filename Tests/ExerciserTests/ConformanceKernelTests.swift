import CMMIOTestSupport
import Exerciser
import Guest
import KVM
import Platform
import Testing

/// `cmmio verify` against the running kernel: real guests on the real /dev/kvm.
@Suite("verify on the real /dev/kvm", .enabled(if: KVMAvailability.usable, KVMAvailability.reason), .serialized)
struct ConformanceKernelTests {
  @Test("every check passes on this kernel, both spaces")
  func everyCheckPasses() throws {
    let checks = Conformance.verify(try KVMDevice(), spaces: [.mmio, .pio])
    for check in checks { #expect(check.passed, "\(check)") }
    let names = checks.map(\.name)
    #expect(Set(names).count == names.count)
    #expect(
      names == [
        "capacity", "ring-fill-mmio", "unregister-exit-mmio", "ring-fill-pio", "unregister-exit-pio",
        "read-exits-mmio", "straddle-exits-mmio", "read-exits-pio", "straddle-exits-pio",
        "unregister-subrange-mmio", "unregister-partial-mmio", "unregister-superset-mmio",
        "unregister-subrange-pio", "unregister-partial-pio", "unregister-superset-pio",
        "overlap-accepted-mmio", "overlap-accepted-pio", "pio-flag-einval",
      ])
  }

  @Test("one space only checks that space")
  func oneSpace() throws {
    let checks = Conformance.verify(try KVMDevice(), spaces: [.pio])
    #expect(checks.allSatisfy { $0.passed })
    #expect(!checks.contains { $0.name.hasSuffix("-mmio") })
    #expect(checks.count == 10)
  }

  @Test("the sweep sees every start index fill to capacity − 1 on the real ring", arguments: IOSpace.allCases)
  func sweepObservations(space: IOSpace) throws {
    let sweep = try Conformance.Gather.ringSweep(try KVMDevice(), space: space)
    let capacity = CoalescedRing.capacity(pageSize: Host.pageSize)
    #expect(sweep.starts.map(\.startIndex) == Array(0..<capacity))
    for start in sweep.starts {
      #expect(start.ring.first == start.startIndex)
      #expect(start.ring.entries.count == Int(capacity) - 1)
      #expect(start.ring.last == (start.startIndex + capacity - 1) % capacity)
      #expect(start.ring.entries.allSatisfy { $0.space == space && $0.length == 4 })
    }
  }

  @Test("real observations fail a judge when the kernel is not doing what the plan says")
  func realObservationsCanFail() throws {
    let device = try KVMDevice()
    // The read plan without its zone: the control write exits instead of being coalesced.
    var plan = Conformance.readsPlan(.mmio)
    plan.zones = []
    let observed = try Conformance.Gather.probes(device, plan)
    let check = Conformance.Judge.probes(plan, observed)
    #expect(!check.passed)
    #expect(check.detail.contains("expected coalesced mmio write of 1"))
    // A partial-overlap unregister really removes nothing; judged as if the range
    // were a sub-range, the real probes (still coalesced) make it fail.
    var relabelled = try Conformance.Gather.unregister(device, space: .mmio, relation: .partial)
    #expect(Conformance.Judge.unregister(relabelled).passed)
    relabelled.relation = .subrange
    let unregister = Conformance.Judge.unregister(relabelled)
    #expect(!unregister.passed)
    #expect(unregister.detail.contains("should have removed the zone"))
  }

  @Test("the kernel's answers to pio flags are 0, 0 and EINVAL for the rest")
  func pioFlags() throws {
    let observed = try Conformance.Gather.pioFlags(try KVMDevice())
    #expect(observed.attempts.map(\.flag) == Conformance.pioFlags)
    #expect(
      observed.attempts.map(\.outcome) == [
        .ok, .ok, .failed(errno: EINVAL), .failed(errno: EINVAL), .failed(errno: EINVAL),
      ])
  }
}
