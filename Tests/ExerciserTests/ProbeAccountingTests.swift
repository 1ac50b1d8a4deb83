import Exerciser
import Guest
import KVM
import Testing

/// Probe planning, the v2 merge and the write accounting, without a kernel.
@Suite("probe planning and accounting")
struct ProbeAccountingTests {
  let written = [
    ExpectedWrite(space: .mmio, address: 0x10_0000, length: 1, data: 1),
    ExpectedWrite(space: .mmio, address: 0x10_0FFF, length: 1, data: 2),
    ExpectedWrite(space: .pio, address: 0x80, length: 1, data: 3),
  ]

  func observed(_ write: ExpectedWrite, _ delivery: Delivery) -> ObservedWrite {
    ObservedWrite(
      space: write.space, address: write.address, length: write.length, data: write.data, delivery: delivery)
  }

  @Test("default probes: first, last and just-past byte of each zone, repeats once")
  func defaults() {
    let zones = [
      CoalescedZone(address: 0x10_0000, size: 0x1000), CoalescedZone(address: 0x10_1000, size: 1),
      CoalescedZone(address: 0x80, size: 8, space: .pio),
    ]
    let (probes, skipped) = ProbePlan.defaults(for: zones, width: 1)
    #expect(
      probes == [
        Probe(address: 0x10_0000), Probe(address: 0x10_0FFF), Probe(address: 0x10_1000), Probe(address: 0x10_1001),
        Probe(address: 0x80, space: .pio), Probe(address: 0x87, space: .pio), Probe(address: 0x88, space: .pio),
      ])
    #expect(skipped.isEmpty)
  }

  @Test("unreachable default probes are skipped with a reason, never written")
  func unreachable() {
    let zones = [
      CoalescedZone(address: 0xFFFF_FFFF, size: 1),  // past byte at 4 GiB
      CoalescedZone(address: 0xFFFF, size: 1, space: .pio),  // past port 0x10000
      CoalescedZone(address: 0xFFFF_FFFF_FFFF_FFF0, size: 0xF),  // the top of the 64-bit space
      CoalescedZone(address: 0x100, size: 0x10),  // guest RAM
    ]
    let (probes, skipped) = ProbePlan.defaults(for: zones, width: 1)
    #expect(probes == [Probe(address: 0xFFFF_FFFF), Probe(address: 0xFFFF, space: .pio)])
    #expect(skipped.count == 1 + 1 + 3 + 3)
    #expect(skipped.allSatisfy { !$0.reason.isEmpty })
    #expect(ProbePlan.unreachability(of: Probe(address: UInt64.max), width: 8) != nil)
    #expect(ProbePlan.unreachability(of: Probe(address: 0xFFFF_FFF8), width: 8) == nil)
  }

  @Test("explicit probes: unreachable ones or bad widths are refused with a sentence")
  func explicitProblems() {
    #expect(ZoneSession.problem(with: [Probe(address: 0x10_0000)], width: 1) == nil)
    #expect(ZoneSession.problem(with: [Probe(address: 0x8000)], width: 1)?.contains("guest RAM") == true)
    #expect(ZoneSession.problem(with: [Probe(address: 0x1_0000_0000)], width: 1) != nil)
    #expect(ZoneSession.problem(with: [Probe(address: 0x80, space: .pio)], width: 8) != nil)
    #expect(ZoneSession.problem(with: [Probe(address: 0x10_0000)], width: 3) != nil)
  }

  @Test("probe data: distinct over 255 consecutive probes, every byte of a wide write different from byte 0")
  func data() {
    let ones = (0..<255).map { ProbePlan.data(forProbe: $0, width: 1) }
    #expect(Set(ones).count == 255)
    #expect(!ones.contains(0))
    for index in [0, 7, 254] {
      let value = ProbePlan.data(forProbe: index, width: 8)
      let bytes = (0..<8).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
      #expect(bytes.dropFirst().allSatisfy { $0 != bytes[0] })
    }
  }

  @Test("WriteAccounting passes the right observations and names each wrong field")
  func accountingFails() {
    let right = written.map { observed($0, .coalesced) }
    #expect(WriteAccounting(expected: written, observed: right).clean)
    var wrongs: [[ObservedWrite]] = []
    for mutate in [
      { (w: inout ObservedWrite) in w.address += 1 }, { $0.length = 4 }, { $0.space = .mmio }, { $0.data = 0x99 },
    ] {
      var list = right
      mutate(&list[2])
      wrongs.append(list)
    }
    wrongs.append(Array(right.prefix(2)))  // one missing
    wrongs.append(right + [right[0]])  // one extra
    wrongs.append([right[1], right[0], right[2]])  // out of order
    for list in wrongs {
      #expect(!WriteAccounting(expected: written, observed: list).clean, "\(list)")
    }
  }

  @Test("merge keeps each source's order and finds each write in whichever ring holds it")
  func mergeRings() {
    let direct = [observed(written[1], .exit)]
    let rings = [[], [observed(written[0], .coalesced), observed(written[2], .coalesced)]]
    let (merged, buffers) = ProbeRun.merge(expected: written, direct: direct, rings: rings)
    #expect(merged.map(\.address) == written.map(\.address))
    #expect(buffers == [1, nil, 1])
    #expect(WriteAccounting(expected: written, observed: merged).clean)
  }

  @Test("merge does not hide a problem: out-of-order ring entries, a missing write, an extra one")
  func mergeProblems() {
    let outOfOrder = [[observed(written[2], .coalesced), observed(written[0], .coalesced)]]
    let first = ProbeRun.merge(expected: written, direct: [observed(written[1], .exit)], rings: outOfOrder)
    #expect(!WriteAccounting(expected: written, observed: first.observed).clean)
    let missing = ProbeRun.merge(expected: written, direct: [observed(written[0], .exit)], rings: [[]])
    #expect(!WriteAccounting(expected: written, observed: missing.observed).clean)
    let extra = ProbeRun.merge(
      expected: written, direct: written.map { observed($0, .exit) }, rings: [[observed(written[0], .coalesced)]])
    #expect(extra.observed.count == 4)
    #expect(!WriteAccounting(expected: written, observed: extra.observed).clean)
  }

  @Test("zone verdicts: a write inside that exited means gone; a coalesced one only this zone holds means there")
  func verdicts() {
    let zones = [CoalescedZone(address: 0x10_0000, size: 0x1000), CoalescedZone(address: 0x10_0000, size: 0x10)]
    func result(_ address: UInt64, _ outcome: Delivery?) -> ProbeResult {
      ProbeResult(
        probe: Probe(address: address), write: ExpectedWrite(space: .mmio, address: address, length: 1, data: 1),
        outcome: outcome)
    }
    let both = ZoneSession.verdicts(
      zones: zones, registered: [true, true], probes: [result(0x10_0000, .coalesced), result(0x10_0FFF, .coalesced)])
    #expect(both.map(\.present) == [true, nil])
    let gone = ZoneSession.verdicts(
      zones: zones, registered: [true, true], probes: [result(0x10_0000, .exit), result(0x10_0FFF, .coalesced)])
    #expect(gone.map(\.present) == [false, false])
    let unaccounted = ZoneSession.verdicts(zones: zones, registered: [true, true], probes: [result(0x10_0000, nil)])
    #expect(unaccounted.map(\.present) == [nil, nil])
  }
}
