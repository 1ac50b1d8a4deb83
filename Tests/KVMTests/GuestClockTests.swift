import CMMIOTestSupport
import Guest
import Testing

@testable import KVM

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

  /// Readings 1,000 host cycles apart, each ioctl taking 100; `guest(index, host TSC mid-ioctl)` is the MSR.
  private func readings(_ count: Int, guest: (Int, UInt64) -> UInt64) -> [TSCReading] {
    (0..<count).map { index in
      let before = 1_000_000 + UInt64(index) * 1_000
      return TSCReading(guest: guest(index, before + 50), before: before, after: before + 100)
    }
  }

  @Test("readings bound the offset; a guest TSC that does not advance, or an offset that jumps, is refused")
  func offsetBounds() throws {
    let steady = GuestClock.offsetBounds(
      readings(32) { _, host in host + 5_000 }, vcpu: 0, khz: 1_000_000, measuredKHz: 1e6)
    let bounds = try steady.get()
    #expect(bounds.low == 4_950 && bounds.high == 5_050)
    // KVM's answer where the vCPU's L1 TSC scaling ratio is 0: the offset alone, every time.
    guard
      case .failure(let stuck) = GuestClock.offsetBounds(
        readings(32) { _, _ in 77 }, vcpu: 0, khz: 2_442_648, measuredKHz: 2_445_405)
    else {
      Issue.record("a TSC that never advanced was related")
      return
    }
    #expect(stuck.reason.hasPrefix("vCPU 0's TSC, read through KVM_GET_MSRS, advanced 0 cycles while the host's"))
    #expect(stuck.reason.contains("KVM_GET_TSC_KHZ says 2442648 kHz, the host TSC ticked at 2445405 kHz"))
    guard
      case .failure(let jumped) = GuestClock.offsetBounds(
        readings(32) { index, host in host + (index < 16 ? 5_000 : 9_000) }, vcpu: 1, khz: 1_000_000,
        measuredKHz: 1e6)
    else {
      Issue.record("an offset that jumped was related")
      return
    }
    #expect(jumped.reason.hasPrefix("vCPU 1's TSC readings (KVM_GET_MSRS) do not agree on one offset"))
  }

  /// Relations as `relate` makes them, 1 GHz, anchored `seconds` apart on both clocks.
  private func relations(
    offsets: (Int64, Int64), tscSeconds: Double, clockSeconds: Double, measured: (Double, Double) = (1e6, 1e6)
  ) -> (TSCRelation, TSCRelation) {
    let start = ClockPair(tsc: 5e9, ns: 7e9)
    let end = ClockPair(tsc: start.tsc + tscSeconds * 1e9, ns: start.ns + clockSeconds * 1e9)
    return (
      TSCRelation(
        low: offsets.0 - 10, high: offsets.0 + 10, khz: 1_000_000, measuredKHz: measured.0, readings: 32,
        basis: .measured, anchor: start),
      TSCRelation(
        low: offsets.1 - 10, high: offsets.1 + 10, khz: 1_000_000, measuredKHz: measured.1, readings: 32,
        basis: .measured, anchor: end)
    )
  }

  @Test("a span holds when the offset stayed and the TSC kept its rate; its error is the run's, not the 10 ms windows'")
  func spanHolds() throws {
    let (before, after) = relations(
      offsets: (100, 105), tscSeconds: 2.004, clockSeconds: 2, measured: (1.03e6, 0.99e6))
    let span = try GuestClock.span(before: before, after: after).get()
    #expect(abs(span.runKHz - 1.002e6) < 1)
    #expect(abs(span.rateError - 0.002) < 1e-9)
    #expect(span.relation == before)
    // Half the bounds ((20 + 1) / 2 = 10 whole cycles at 1 GHz) plus 0.2% of a 1 ms wait.
    #expect(abs(span.uncertaintyNs(longestNs: 1e6) - (10 + 2_000)) < 1e-6)
  }

  @Test("a span is refused when the offset moved, or the TSC stopped or changed rate over the run")
  func spanRefused() {
    let (before, moved) = relations(offsets: (100, 200), tscSeconds: 1, clockSeconds: 1)
    guard case .failure(let refusal) = GuestClock.span(before: before, after: moved) else {
      Issue.record("a moved offset was accepted")
      return
    }
    #expect(refusal.reason.contains("moved during the run"))
    // A TSC stopped for 5% of a 2 s run: 1.9 s of ticks over 2 s, though 10 ms at each end read right.
    let (start, stopped) = relations(offsets: (100, 100), tscSeconds: 1.9, clockSeconds: 2)
    guard case .failure(let slow) = GuestClock.span(before: start, after: stopped) else {
      Issue.record("a TSC that stopped for 5% of the run was accepted")
      return
    }
    #expect(slow.reason.contains("950000 kHz") && slow.reason.contains("stopped or changed rate"))
  }
}

@Suite(
  "The guest's TSC against the host's, on the real /dev/kvm",
  .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct GuestClockKernelTests {
  @Test("without constant_tsc or nonstop_tsc the relation is still made, resting on the measured rate")
  func measuredWithoutFlags() throws {
    let machine = try GuestMachine(device: try KVMDevice())
    let vcpu = try machine.addVCPU()
    for flags in [(false, true), (true, false)] {
      let relation = try GuestClock.relate([vcpu], flags: flags).get()
      #expect(relation.basis == .measured)
    }
    #expect(try GuestClock.relate([vcpu], flags: nil).get().basis == .measured)
    #expect(try GuestClock.relate([vcpu], flags: (true, true)).get().basis == .cpuFlags)
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
    #expect(abs(relation.measuredKHz / Double(relation.khz) - 1) <= GuestClock.scalingTolerance)
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
