import CMMIOTestSupport
import Foundation
import KVM
import Testing

@testable import Benchmarking

@Suite("bench --modes ioeventfd on the real /dev/kvm", .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct IoeventfdKernelTests {
  @Test(
    "ioeventfd beside plain and coalesced: no write exits, the eventfd counts every write, the kernel sees each",
    arguments: [IOSpace.mmio, .pio])
  func besidePlainAndCoalesced(space: IOSpace) throws {
    let outcome = try measure { config in
      config.modes = [.plain, .coalesced, .ioeventfd]
      config.space = space
      config.writes = 3_000
      config.runs = 2
    }
    #expect(outcome.failure == nil)
    #expect(outcome.results.map(\.key.mode) == [.plain, .coalesced, .ioeventfd])
    let result = try #require(outcome.results.first { $0.key.mode == .ioeventfd })
    let writes = result.writes * result.runs
    #expect(result.userspaceExitsPerWrite == 0)
    #expect(
      result.verification
        == Verification(entries: 0, lost: 0, outOfOrder: 0, eventfdCount: writes, eventfdExpected: writes))
    let check = try #require(result.exitCheck)
    #expect(check.promise == .exact && check.modelExitsPerWrite == 0 && check.passed)
    #expect(result.passed)
    // Every write still traps into the kernel. Where the CPU exits on it (VMX, SVM) `exits`
    // counts it; under kvm_pvm, which emulates every guest instruction without an exit,
    // `insn_emulation` does (three instructions per loop iteration).
    let perRun = Double(result.writes)
    let kernel = max(result.kernelStat("exits") ?? 0, result.kernelStat("insn_emulation") ?? 0)
    #expect(kernel >= perRun, "kernel counters per run: \(result.kernelStats)")
    let (comparisons, _) = analyze(results: outcome.results)
    #expect(comparisons.contains { $0.key == result.key && $0.speedupVsPlain > 0 })
  }

  @Test("a KVM_IOEVENTFD binding can be removed once (KVM_IOEVENTFD_FLAG_DEASSIGN), then ENOENT")
  func deassign() throws {
    let vm = try KVMDevice().createVM()
    let counter = try EventCounter()
    let binding = IoeventBinding(address: 0x10_0000, length: 4, space: .mmio)
    try vm.registerIoeventfd(binding, counter: counter)
    try vm.deassignIoeventfd(binding, counter: counter)
    #expect(throws: SystemCallError.self) { try vm.deassignIoeventfd(binding, counter: counter) }
    #expect(try counter.take() == 0)
  }
}

@Suite("ioeventfd's verification judgement")
struct IoeventfdJudgementTests {
  @Test("an eventfd count other than the writes fails verification and says so", arguments: [5_999, 6_001])
  func wrongCount(counted: Int) {
    let verification = Verification(
      entries: 0, lost: 0, outOfOrder: 0, eventfdCount: counted, eventfdExpected: 6_000)
    #expect(!verification.clean)
    #expect(verification.eventfdProblem == "the eventfd counted \(counted) of 6000 writes")
    let right = Verification(entries: 0, lost: 0, outOfOrder: 0, eventfdCount: 6_000, eventfdExpected: 6_000)
    #expect(right.clean && right.eventfdProblem == nil)
  }

  @Test("runs add up: counts summed, the eventfd's kept where only some tallies have one")
  func adding() {
    let empty = Verification(entries: 0, lost: 0, outOfOrder: 0)
    let run = Verification(entries: 0, lost: 0, outOfOrder: 0, eventfdCount: 2_999, eventfdExpected: 3_000)
    let sum = empty.adding(run).adding(run)
    #expect(sum.eventfdCount == 5_998 && sum.eventfdExpected == 6_000 && !sum.clean)
    #expect(empty.adding(empty).eventfdCount == nil && empty.adding(empty).clean)
  }
}

@Suite("cmmio bench --modes ioeventfd", .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct IoeventfdCommandLineTests {
  @Test(
    "plain, coalesced and ioeventfd side by side: exit 0, eventfd_count = writes, no write exits",
    arguments: ["mmio", "pio"])
  func sideBySide(space: String) throws {
    let run = try CMMIOBinary.run([
      "bench", "--modes", "plain,coalesced,ioeventfd", "--space", space, "--writes", "3000", "--runs", "2",
      "--warmup", "0", "--format", "json",
    ])
    #expect(run.status == 0, "\(run.stderr)")
    let document = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    let results = try #require(document["results"] as? [[String: Any]])
    #expect(results.compactMap { $0["mode"] as? String } == ["plain", "coalesced", "ioeventfd"])
    let ioeventfd = try #require(results.first { $0["mode"] as? String == "ioeventfd" })
    let verification = try #require(ioeventfd["verification"] as? [String: Any])
    #expect(verification["eventfd_count"] as? Int == 6_000)
    #expect(ioeventfd["userspace_exits_per_write"] as? Double == 0)
    let comparisons = try #require(document["comparisons"] as? [[String: Any]])
    #expect(comparisons.contains { $0["mode"] as? String == "ioeventfd" })
    #expect((document["headline"] as? String)?.contains("KVM_IOEVENTFD") == true)
  }

  @Test("--drain thread with only ioeventfd is a usage error: it has no ring")
  func noRing() throws {
    let run = try CMMIOBinary.run(["bench", "--modes", "ioeventfd", "--drain", "thread", "--writes", "10"])
    #expect(run.status == 64)
    #expect(run.stderr.hasPrefix("cmmio: "))
  }
}
