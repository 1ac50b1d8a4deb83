import Exerciser
import Guest
import KVM
import Platform
import Testing

/// Each verdict of `cmmio verify`, fed what a conforming kernel shows (it passes)
/// and then wrong rings and wrong outcomes (it fails). No kernel involved.
@Suite("verify: every check can fail")
struct ConformanceJudgeTests {
  typealias Event = Conformance.Event
  typealias Judge = Conformance.Judge

  // MARK: ring sweep, through a ring page the test writes

  @Test("a mainline kernel's sweep passes ring-fill, unregister-exit and capacity", arguments: IOSpace.allCases)
  func mainlineSweepPasses(space: IOSpace) {
    let sweep = modelSweep(space)
    #expect(sweep.starts.count == 170)
    #expect(sweep.starts.allSatisfy { $0.ring.entries.count == 169 && $0.ring.isFullMinusOne })
    let checks = [Judge.ringFill(sweep), Judge.unregisterExit(sweep), Judge.capacity([sweep])]
    #expect(checks.allSatisfy { $0.passed }, "\(checks)")
    #expect(checks[2].detail.contains("measured 169 entries"))
  }

  @Test("the pre-6.12 has-room check fails ring-fill and capacity, and capacity names the bug")
  func halfRingBugIsNamed() {
    let sweep = modelSweep(.mmio, rule: .pre612)
    // The old check stops at 85 entries while last can run ahead of first without wrapping.
    let short = sweep.starts.filter { $0.ring.entries.count != 169 }
    #expect(short.map(\.startIndex) == Array(0...84))
    #expect(short.allSatisfy { $0.ring.entries.count == 85 })
    let fill = Judge.ringFill(sweep)
    #expect(!fill.passed)
    #expect(fill.detail.contains("85 writes were coalesced before the exit, expected 169"))
    let capacity = Judge.capacity([modelSweep(.mmio), sweep])
    #expect(!capacity.passed)
    #expect(capacity.detail.contains("half-ring bug"))
    #expect(capacity.detail.contains("92f6d4130497"))
    // The unregister step is judged from where the run really exited: it still passes.
    #expect(Judge.unregisterExit(sweep).passed)
  }

  @Test("a ring that stops one entry short fails capacity without blaming the half-ring bug")
  func oneShortIsNotTheHalfRingBug() {
    let sweep = modelSweep(.pio, rule: .oneShort)
    #expect(!Judge.ringFill(sweep).passed)
    let capacity = Judge.capacity([sweep])
    #expect(!capacity.passed)
    #expect(capacity.detail.contains("measured 168"))
    #expect(!capacity.detail.contains("92f6d4130497"))
  }

  /// Ways to spoil one ring entry after the kernel wrote it.
  enum Corruption: String, CaseIterable {
    case data, length, kind, address, order
  }

  @Test("a wrong entry in the ring fails ring-fill", arguments: Corruption.allCases)
  func wrongEntryFails(corruption: Corruption) {
    let page = TestRingPage()
    var sweep = modelSweep(.mmio, page: page)
    let start: UInt32 = 150  // the fill wraps around the end of the ring
    let slot = (start + 30) % page.capacity
    sweep.starts[Int(start)] = modelStart(start, writes: sweep.writes, rule: .mainline, page: page) { page in
      let write = sweep.writes[30]
      switch corruption {
      case .data:
        page.setEntry(slot, address: write.address, length: 4, pio: 0, data: write.data ^ 0x100)
      case .length:
        page.setEntry(slot, address: write.address, length: 2, pio: 0, data: write.data)
      case .kind:
        page.setEntry(slot, address: write.address, length: 4, pio: 1, data: write.data)
      case .address:
        page.setEntry(slot, address: write.address + 4, length: 4, pio: 0, data: write.data)
      case .order:
        let following = sweep.writes[31]
        page.setEntry(slot, address: following.address, length: 4, pio: 0, data: following.data)
        page.setEntry((slot + 1) % page.capacity, address: write.address, length: 4, pio: 0, data: write.data)
      }
    }
    let check = Judge.ringFill(sweep)
    #expect(!check.passed)
    #expect(check.detail.contains("1 of 170 start indexes failed; first at start index 150: entry 30 "), "\(check)")
  }

  @Test("first moved by someone other than userspace fails ring-fill")
  func movedFirstFails() {
    let page = TestRingPage()
    var sweep = modelSweep(.pio, page: page)
    sweep.starts[7] = modelStart(7, writes: sweep.writes, rule: .mainline, page: page) { $0.first = 8 }
    let check = Judge.ringFill(sweep)
    #expect(!check.passed)
    #expect(check.detail.contains("first moved from 7 to 8"))
  }

  @Test("a ring that does not read full-minus-one at the exit fails ring-fill")
  func notFullMinusOneFails() {
    var sweep = modelSweep(.mmio)
    // 169 entries listed, but last says otherwise: the snapshot does not add up.
    sweep.starts[3].ring.last = (sweep.starts[3].ring.last + 5) % 170
    let check = Judge.ringFill(sweep)
    #expect(!check.passed)
    #expect(check.detail.contains("not full-minus-one"))
  }

  @Test("the write after a full ring exiting with the wrong data, or not exiting, fails ring-fill")
  func wrongExitFails() {
    var sweep = modelSweep(.mmio)
    let usable = sweep.usable
    sweep.starts[0].exit = Event(sweep.writes[usable - 1], .exit)
    #expect(!Judge.ringFill(sweep).passed)
    sweep = modelSweep(.mmio)
    sweep.starts[1].exit = .halt
    let check = Judge.ringFill(sweep)
    #expect(!check.passed)
    #expect(check.detail.contains("write 170 should have exited"))
    sweep = modelSweep(.pio)
    sweep.starts[2].exit = .readExit(.pio, address: 0x80, length: 4)
    #expect(!Judge.ringFill(sweep).passed)
  }

  @Test("unregister that leaves the zone, coalesces first, or fails, fails unregister-exit")
  func unregisterExitFails() {
    let base = modelSweep(.mmio)
    let usable = base.usable
    let last = base.writes[usable + 1]
    let spoiled: [[Event]] = [
      [Event(last, .coalesced), .halt],
      [.coalesced(RingEntry(address: last.address, length: 4, space: .mmio, data: 9)), Event(last, .exit), .halt],
      [Event(last, .exit)],
      [Event(last, .exit), .halt, .halt],
    ]
    for after in spoiled {
      var sweep = base
      sweep.starts[42].afterUnregister = after
      let check = Judge.unregisterExit(sweep)
      #expect(!check.passed, "\(after)")
      #expect(check.detail.contains("start index 42"))
    }
    var sweep = base
    sweep.starts[0].unregister = .failed(errno: EINVAL)
    #expect(!Judge.unregisterExit(sweep).passed)
    #expect(Judge.unregisterExit(base).passed)
  }

  @Test("no observations at all fail, never pass")
  func emptySweepFails() {
    let empty = Conformance.RingSweep(space: .mmio, capacity: 170, writes: [], starts: [])
    #expect(!Judge.ringFill(empty).passed)
    #expect(!Judge.unregisterExit(empty).passed)
    #expect(!Judge.capacity([empty]).passed)
    #expect(!Judge.capacity([]).passed)
  }

  // MARK: probes

  @Test(
    "reads that do not exit, or a control write that is not coalesced, fail read-exits", arguments: IOSpace.allCases)
  func readsFail(space: IOSpace) {
    let plan = Conformance.readsPlan(space)
    #expect(Judge.probes(plan, conformingObservation(plan)).passed)
    var missingRead = conformingObservation(plan)
    missingRead.events.remove(at: 1)
    #expect(!Judge.probes(plan, missingRead).passed)
    var writeExited = conformingObservation(plan)
    let control = plan.program.writes[0]
    writeExited.events[writeExited.events.count - 2] = Event(control, .exit)
    #expect(!Judge.probes(plan, writeExited).passed)
    var readAsWrite = conformingObservation(plan)
    readAsWrite.events[0] = .writeExit(space, address: Conformance.deviceAddress(space), length: 1, data: 0)
    #expect(!Judge.probes(plan, readAsWrite).passed)
    var rejected = conformingObservation(plan)
    rejected.registrations[0].outcome = .failed(errno: EINVAL)
    let check = Judge.probes(plan, rejected)
    #expect(!check.passed)
    #expect(check.detail.contains("EINVAL"))
  }

  @Test("a write straddling the end of a zone that is coalesced fails straddle-exits", arguments: IOSpace.allCases)
  func straddleFails(space: IOSpace) {
    let plan = Conformance.straddlePlan(space)
    #expect(Judge.probes(plan, conformingObservation(plan)).passed)
    var coalesced = conformingObservation(plan)
    let straddling = plan.program.writes[1]
    coalesced.events = [
      Event(plan.program.writes[0], .coalesced), Event(straddling, .coalesced), .halt,
    ]
    let check = Judge.probes(plan, coalesced)
    #expect(!check.passed)
    #expect(check.detail.contains("event 2"))
  }

  @Test("an overlapping zone rejected or ignored fails overlap-accepted", arguments: IOSpace.allCases)
  func overlapFails(space: IOSpace) {
    let plan = Conformance.overlapPlan(space)
    #expect(Judge.probes(plan, conformingObservation(plan)).passed)
    var rejected = conformingObservation(plan)
    rejected.registrations[1].outcome = .failed(errno: EEXIST)
    #expect(!Judge.probes(plan, rejected).passed)
    // Accepted but without effect: the write only the second zone holds exits.
    var ignored = conformingObservation(plan)
    ignored.events[2] = Event(plan.program.writes[2], .exit)
    #expect(!Judge.probes(plan, ignored).passed)
    var extra = conformingObservation(plan)
    extra.events[3] = Event(plan.program.writes[3], .coalesced)
    #expect(!Judge.probes(plan, extra).passed)
  }

  @Test("a different zone registered than planned fails")
  func wrongZonesFail() {
    let plan = Conformance.readsPlan(.mmio)
    var observed = conformingObservation(plan)
    observed.registrations = [(CoalescedZone(address: 0x20_0000, size: 8), .ok)]
    #expect(!Judge.probes(plan, observed).passed)
  }

  // MARK: unregister semantics

  /// What mainline shows for `relation`: probes coalesced, unregister 0, then the
  /// probes exit only if the zone contained the range.
  func mainlineUnregister(_ relation: Conformance.RangeRelation, _ space: IOSpace) -> Conformance.UnregisterObservation
  {
    let zone = Conformance.unregisterZone(space)
    let probes = Conformance.unregisterProbes(zone)
    return Conformance.UnregisterObservation(
      relation: relation, zone: zone, range: relation.range(for: zone), probes: probes, register: .ok,
      before: probes.map { Event($0, .coalesced) } + [.halt], unregister: .ok,
      after: probes.map { Event($0, relation.removesZone ? .exit : .coalesced) } + [.halt])
  }

  @Test("mainline's unregister semantics pass", arguments: Conformance.RangeRelation.allCases, IOSpace.allCases)
  func unregisterPasses(relation: Conformance.RangeRelation, space: IOSpace) {
    let check = Judge.unregister(mainlineUnregister(relation, space))
    #expect(check.passed, "\(check)")
    #expect(check.name == "unregister-\(relation.rawValue)-\(space)")
  }

  @Test("the 2008 commit message's semantics (zones inside the bounds removed) fail", arguments: IOSpace.allCases)
  func documentedSemanticsFail(space: IOSpace) {
    // As the message reads: a superset removes the zone, a sub-range removes nothing.
    var superset = mainlineUnregister(.superset, space)
    superset.after = superset.probes.map { Event($0, .exit) } + [.halt]
    let check = Judge.unregister(superset)
    #expect(!check.passed)
    #expect(check.detail.contains("should have removed nothing"))
    var subrange = mainlineUnregister(.subrange, space)
    subrange.after = subrange.probes.map { Event($0, .coalesced) } + [.halt]
    #expect(!Judge.unregister(subrange).passed)
    var partial = mainlineUnregister(.partial, space)
    partial.after = partial.probes.map { Event($0, .exit) } + [.halt]
    #expect(!Judge.unregister(partial).passed)
  }

  @Test(
    "unregister answering an error, or a zone that never took effect, fails",
    arguments: Conformance.RangeRelation.allCases)
  func unregisterOutcomesFail(relation: Conformance.RangeRelation) {
    var nonzero = mainlineUnregister(relation, .mmio)
    nonzero.unregister = .failed(errno: ENOENT)
    let check = Judge.unregister(nonzero)
    #expect(!check.passed)
    #expect(check.detail.contains("ENOENT"))
    var dead = mainlineUnregister(relation, .pio)
    dead.before = dead.probes.map { Event($0, .exit) } + [.halt]
    #expect(!Judge.unregister(dead).passed)
    var unregistered = mainlineUnregister(relation, .mmio)
    unregistered.register = .failed(errno: ENOMEM)
    #expect(!Judge.unregister(unregistered).passed)
  }

  // MARK: pio flag

  @Test("pio 0 and 1 accepted and every other value EINVAL passes; anything else fails")
  func pioFlag() {
    let flags = Conformance.pioFlags
    let right = Conformance.PIOFlagObservation(
      attempts: flags.map { ($0, $0 <= 1 ? Conformance.Outcome.ok : .failed(errno: EINVAL)) })
    #expect(Judge.pioFlag(right).passed)
    for (index, flag) in flags.enumerated() {
      for wrong in [Conformance.Outcome.ok, .failed(errno: EINVAL), .failed(errno: EFAULT)]
      where wrong != right.attempts[index].outcome {
        var observed = right
        observed.attempts[index].outcome = wrong
        let check = Judge.pioFlag(observed)
        #expect(!check.passed, "pio \(flag) \(wrong)")
        #expect(check.detail.contains("pio = \(flag)"))
      }
    }
    #expect(!Judge.pioFlag(Conformance.PIOFlagObservation(attempts: [])).passed)
  }

  // MARK: helpers

  @Test("firstMismatch reports missing and extra events")
  func mismatches() {
    let write = ExpectedWrite(space: .mmio, address: 0x10_0000, length: 1, data: 1)
    #expect(
      Judge.firstMismatch(expected: [Event(write, .exit), .halt], observed: [Event(write, .exit), .halt]) == nil)
    #expect(Judge.firstMismatch(expected: [.halt], observed: [])?.contains("saw nothing more") == true)
    #expect(Judge.firstMismatch(expected: [.halt], observed: [.halt, .halt])?.contains("unexpected") == true)
  }

  @Test("a ring snapshot reads entries from first to last across the wrap, masking stale bytes")
  func snapshotReadsThePage() throws {
    let page = TestRingPage()
    page.first = 168
    page.last = 168
    let writes = (1...4).map { ExpectedWrite(space: .pio, address: 0x80, length: 2, data: UInt64($0) * 0x1111) }
    for write in writes { page.append(write) }
    let snapshot = try Conformance.RingSnapshot(page.ring)
    #expect(snapshot.first == 168 && snapshot.last == 2 && snapshot.pending == 4)
    #expect(snapshot.entries.map { Event.coalesced($0) } == writes.map { Event($0, .coalesced) })
    page.last = 170
    #expect(throws: RingCorruption.self) { try Conformance.RingSnapshot(page.ring) }
  }
}
