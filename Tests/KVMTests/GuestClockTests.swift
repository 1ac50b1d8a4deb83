import CMMIOTestSupport
import Guest
import KVM
import Testing

@Suite("Relating a vCPU's TSC to the host's")
struct GuestClockTests {
  @Test("constant_tsc and nonstop_tsc are read from the first flags line; no flags line is unknown")
  func flags() throws {
    let both = try #require(
      GuestClock.hostTSCFlags(cpuinfo: "processor\t: 0\nflags\t\t: fpu tsc constant_tsc nonstop_tsc\n"))
    #expect(both.constant && both.nonstop)
    let neither = try #require(GuestClock.hostTSCFlags(cpuinfo: "flags\t: fpu tsc rdtscp\nflags\t: constant_tsc\n"))
    #expect(!neither.constant && !neither.nonstop)
    #expect(GuestClock.hostTSCFlags(cpuinfo: "processor\t: 0\n") == nil)
  }

  @Test("bounds that do not overlap have no intersection; overlapping ones narrow")
  func intersection() throws {
    let a = TSCRelation(low: -100, high: 300, khz: 1_000_000, measuredKHz: 1e6, readings: 1)
    let b = TSCRelation(low: 200, high: 900, khz: 1_000_000, measuredKHz: 1e6, readings: 1)
    let c = TSCRelation(low: 301, high: 400, khz: 1_000_000, measuredKHz: 1e6, readings: 1)
    let both = try #require(a.intersected(with: b))
    #expect(both.low == 200 && both.high == 300 && both.offset == 250 && both.uncertaintyCycles == 50)
    #expect(both.uncertaintyNs == 50)
    #expect(a.intersected(with: c) == nil)
  }
}

@Suite(
  "The guest's TSC against the host's, on the real /dev/kvm",
  .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct GuestClockKernelTests {
  @Test("a missing constant_tsc or nonstop_tsc refuses, naming the flag (the flags given, not /proc/cpuinfo's)")
  func refusedWithoutFlags() throws {
    let machine = try GuestMachine(device: try KVMDevice())
    let vcpu = try machine.addVCPU()
    for (flags, named) in [((false, true), "constant_tsc"), ((true, false), "nonstop_tsc")] {
      guard case .failure(let refusal) = GuestClock.relate([vcpu], flags: flags) else {
        Issue.record("related without \(named)")
        continue
      }
      #expect(refusal.reason.contains(named))
    }
  }

  /// The relation is checked against the guest itself: `rdtsc; mov [0x100000], eax; hlt`
  /// exits with its stamp, which must fall between host TSC readings taken around KVM_RUN.
  @Test("the offset holds for the guest's own rdtsc: its stamp lies inside the host's KVM_RUN bracket")
  func guestStampInsideBracket() throws {
    guard let flags = GuestClock.hostTSCFlags(), flags.constant, flags.nonstop else {
      Issue.record("this host does not report constant_tsc and nonstop_tsc; the relation cannot be tested here")
      return
    }
    let machine = try GuestMachine(device: try KVMDevice())
    var program = GuestProgram()
    program.append(X86.mov(.ebx, 0x10_0000))
    program.append(X86.rdtsc)
    program.append(X86.store(width: 4))
    program.halt()
    machine.load(program)
    let vcpu = try machine.addVCPU()
    let relation = try GuestClock.relate([vcpu]).get()
    #expect(relation.khz > 0)
    #expect(abs(relation.measuredKHz / Double(relation.khz) - 1) <= GuestClock.rateTolerance)
    #expect(relation.uncertaintyNs < 100_000, "the offset is known only to ± \(relation.uncertaintyNs) ns")
    let before = HostTSC.now()
    let exit = try vcpu.run()
    let after = HostTSC.now()
    guard case .mmio(let address, 4, true, let data) = exit else {
      Issue.record("expected the 4-byte write to exit, got \(exit)")
      return
    }
    #expect(address == 0x10_0000)
    // The stamp in host time, by the offset, modulo 2^32 around the bracket.
    let stampHost = UInt32(truncatingIfNeeded: data) &- UInt32(truncatingIfNeeded: UInt64(bitPattern: relation.offset))
    let slack = UInt32(relation.uncertaintyCycles)
    let sinceStart = stampHost &- UInt32(truncatingIfNeeded: before) &+ slack
    let span = UInt32(truncatingIfNeeded: after &- before) &+ 2 * slack
    #expect(
      sinceStart <= span, "stamp \(data) outside the host bracket \(before)…\(after) with offset \(relation.offset)")
  }
}
