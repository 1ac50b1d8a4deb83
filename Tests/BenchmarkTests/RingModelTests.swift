import CMMIOTestSupport
import Guest
import KVM
import Testing

@testable import Benchmarking
@testable import Exerciser

@Suite(
  "Bench exits per write against the ring model, on the real /dev/kvm",
  .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct RingModelKernelTests {
  @Test(
    "exit drain, one vCPU: exits per write are 1/(K + 1) within one exit, every grant exact, the check passes",
    arguments: [IOSpace.mmio, .pio])
  func exitsMatchModel(space: IOSpace) throws {
    let sizes: [UInt32] = [1, 8, 84, 85, 168, 169]
    let outcome = try measure { config in
      config.modes = [.plain, .coalesced]
      config.space = space
      config.writes = 3_000
      config.ringSizes = sizes
    }
    #expect(outcome.failure == nil)
    #expect(outcome.results.count == 1 + sizes.count)
    for result in outcome.results {
      let check = try #require(result.exitCheck)
      #expect(check.passed, "\(result.key): \(check.problem ?? "")")
      #expect(check.promise == .exact)
      let exits = result.userspaceExitsPerWrite * Double(result.writes)
      guard let k = result.key.ringSize else {
        #expect(exits == Double(result.writes))
        continue
      }
      #expect(check.arithmetic == .fixed)
      #expect(check.isExact(ringSize: k))
      #expect(check.achievedRingSize == Double(k))
      #expect(check.brokenGrants == 0)
      #expect(result.effectiveRingSize == Double(k))
      #expect(abs(exits - Double(result.writes) / Double(k + 1)) <= 1, "K=\(k): \(exits) exits")
      #expect(abs(check.modelExitsPerWrite - 1 / Double(k + 1)) < 1e-12)
      #expect(result.verification?.clean == true)
    }
  }

  @Test("thread drain and two vCPUs: the bound holds, no drain finds more than it granted")
  func otherDrainsBound() throws {
    for (drain, vcpus) in [(DrainStrategy.thread, 1), (.exit, 2)] {
      let outcome = try measure { config in
        config.modes = [.coalesced]
        config.drain = drain
        config.vcpus = vcpus
        config.writes = 2_000
        config.ringSizes = [1, 32]
      }
      #expect(outcome.failure == nil)
      for result in outcome.results {
        let check = try #require(result.exitCheck)
        #expect(check.promise == .atMost)
        #expect(check.passed, "\(drain) \(vcpus): \(check.problem ?? "")")
        #expect(check.brokenGrants == 0)
        #expect(result.userspaceExitsPerWrite <= check.modelExitsPerWrite)
      }
    }
  }

  // The test-only seam `BenchEngine.ringSizeSkew`: the cursor grants the kernel K ± 1 slots
  // while the model and the report say K. A deliberately wrong model on the real kernel.
  @Test(
    "a ring size not achieved (the cursor grants K ± 1 while the report says K) is a failed check, never ok",
    arguments: [Int32(1), -1])
  func wrongModelFails(skew: Int32) throws {
    let outcome = try measure(ringSizeSkew: skew) { config in
      config.modes = [.coalesced]
      config.writes = 3_000
      config.ringSizes = [8, 84]
    }
    #expect(outcome.failure == nil)
    #expect(outcome.results.count == 2)
    for result in outcome.results {
      let check = try #require(result.exitCheck)
      #expect(!check.passed)
      #expect(!result.passed)
      #expect(check.brokenGrants > 0)
      #expect(check.problem?.contains("where the cursor had granted") == true)
      // The writes themselves were all seen: only the ring size claimed was wrong.
      #expect(result.verification?.clean == true)
    }
  }

  @Test("verify's capacity sweep and bench's probe measure the same fills and read the same arithmetic")
  func verifyAndBenchAgree() throws {
    let device = try KVMDevice()
    let probe = try #require(try RingCapacityProbe.measure(device))
    let sweep = try Conformance.Gather.ringSweep(device, space: .mmio)
    let verify = Conformance.Judge.measuredFill(sweep)
    #expect(verify.slots == probe.slots)
    for (start, count) in zip(probe.starts, probe.counts) {
      let index = try #require(verify.starts.firstIndex(of: start))
      #expect(verify.counts[index] == count, "start \(start)")
    }
    #expect(verify.arithmetic == probe.arithmetic)
    #expect(Conformance.Judge.capacity([sweep]).passed == (probe.arithmetic == .fixed))
  }
}

@Suite(
  "cmmio bench: a ring model that does not hold is exit 1, on the real /dev/kvm",
  .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct RingModelCommandLineTests {
  // The test-only environment seam CMMIO_TEST_HAS_ROOM: the cursors model the pre-6.12
  // arithmetic on this 6.18 kernel. From position 168 that grants 1 slot by a `first` the
  // fixed arithmetic reads as 85: the exit check must fail and the command exit 1.
  @Test("a wrong has-room model: FAILED in the table, exit 1 with one sentence naming the broken grant")
  func wrongModelExitsOne() throws {
    let run = try CMMIOBinary.run(
      ["bench", "--modes", "coalesced", "--ring-sizes", "1", "--writes", "3000", "--runs", "1", "--warmup", "0"],
      environment: ["CMMIO_TEST_HAS_ROOM": "pre-6.12"])
    #expect(run.status == 1)
    #expect(run.stdout.contains("FAILED: exits ≠ model"))
    #expect(!run.stdout.contains(" ok\n"))
    #expect(run.stderr.hasPrefix("cmmio: verification failed for 1 result(s)"))
    #expect(run.stderr.contains("where the cursor had granted 1"))
  }

  @Test("the measured model: the same bench is ok and exits 0")
  func rightModelExitsZero() throws {
    let run = try CMMIOBinary.run([
      "bench", "--modes", "coalesced", "--ring-sizes", "1", "--writes", "3000", "--runs", "1", "--warmup", "0",
    ])
    #expect(run.status == 0)
    #expect(run.stdout.contains(" ok\n"))
  }
}
