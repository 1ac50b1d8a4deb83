import Guest
import KVM
import Platform

extension Conformance {
  /// The verdicts: pure functions of observations, so a test can hand each one a
  /// wrong ring or a wrong outcome and see it fail. Nothing here touches the kernel.
  public enum Judge {
    /// For every start index: exactly capacity − 1 writes coalesced, the ring
    /// full-minus-one at the exit (`(last + 1) % MAX == first`, `first` where it
    /// was set), every entry's address, length, kind and data right in order, and
    /// the next write exiting with its own data.
    public static func ringFill(_ sweep: RingSweep) -> Check {
      let name = "ring-fill-\(sweep.space)"
      guard !sweep.starts.isEmpty else {
        return Check(name: name, passed: false, detail: "no start index was observed")
      }
      let failures = sweep.starts.compactMap { start in ringFillProblem(start, sweep).map { (start.startIndex, $0) } }
      if let first = failures.first {
        return Check(
          name: name, passed: false,
          detail: "\(failures.count) of \(sweep.starts.count) start indexes failed; first at start index \(first.0): "
            + first.1)
      }
      let usable = sweep.usable
      let writes = sweep.writes.first.map {
        "\($0.length)-byte \($0.space) writes to \(NumberFormat.hex($0.address))"
      }
      return Check(
        name: name, passed: true,
        detail: "all \(sweep.starts.count) start indexes: \(usable) \(writes ?? "writes") coalesced, ring "
          + "full-minus-one at the exit, every entry right in order, write \(usable + 1) exited with its data")
    }

    /// The first thing wrong with one start index, or nil.
    static func ringFillProblem(_ start: RingFillObservation, _ sweep: RingSweep) -> String? {
      let usable = sweep.usable
      guard sweep.writes.count > usable else { return "the guest makes only \(sweep.writes.count) writes" }
      let ring = start.ring
      if ring.capacity != sweep.capacity {
        return "the ring has \(ring.capacity) slots, expected \(sweep.capacity)"
      }
      if ring.first != start.startIndex {
        return "first moved from \(start.startIndex) to \(ring.first) (only userspace writes first)"
      }
      if ring.entries.count != usable {
        return "\(ring.entries.count) writes were coalesced before the exit, expected \(usable)"
      }
      if !ring.isFullMinusOne {
        return "the ring is not full-minus-one at the exit: first = \(ring.first), last = \(ring.last), "
          + "MAX = \(ring.capacity)"
      }
      for (index, entry) in ring.entries.enumerated()
      where Event.coalesced(entry) != Event(sweep.writes[index], .coalesced) {
        return "entry \(index) (slot \((ring.first + UInt32(index)) % ring.capacity)) is \(entry), "
          + "expected \(Event(sweep.writes[index], .coalesced))"
      }
      let next = Event(sweep.writes[usable], .exit)
      if start.exit != next {
        return "write \(usable + 1) should have exited as \(next); saw \(start.exit)"
      }
      return nil
    }

    /// After the ring was drained and the zone unregistered, the very next write
    /// exits with its data (nothing coalesced first), as does every write after it,
    /// and the guest halts. Judged from wherever the fill run exited, so a kernel
    /// that exits early fails `ring-fill` and `capacity`, not this.
    public static func unregisterExit(_ sweep: RingSweep) -> Check {
      let name = "unregister-exit-\(sweep.space)"
      guard !sweep.starts.isEmpty else {
        return Check(name: name, passed: false, detail: "no start index was observed")
      }
      var failures: [(UInt32, String)] = []
      for start in sweep.starts {
        if let problem = unregisterExitProblem(start, sweep) { failures.append((start.startIndex, problem)) }
      }
      guard let first = failures.first else {
        return Check(
          name: name, passed: true,
          detail: "all \(sweep.starts.count) start indexes: unregister returned 0 and the next write "
            + "exited at once with its data, nothing coalesced")
      }
      return Check(
        name: name, passed: false,
        detail: "\(failures.count) of \(sweep.starts.count) start indexes failed; first at start index \(first.0): "
          + first.1)
    }

    static func unregisterExitProblem(_ start: RingFillObservation, _ sweep: RingSweep) -> String? {
      if start.unregister != .ok { return "KVM_UNREGISTER_COALESCED_MMIO \(start.unregister)" }
      let exited = start.ring.entries.count
      guard exited + 1 < sweep.writes.count, start.exit == Event(sweep.writes[exited], .exit) else {
        return "the fill run did not stop on a write exit to unregister after (it showed \(start.exit))"
      }
      let expected = sweep.writes[(exited + 1)...].map { Event($0, .exit) } + [.halt]
      return firstMismatch(expected: expected, observed: start.afterUnregister).map { "after unregister, \($0)" }
    }

    /// The measured capacity: entries the kernel took before a write exited, at
    /// every start index of every space swept, read as a `RingFill` (the same reading
    /// `cmmio bench`'s capacity probe makes of its own start indexes). A kernel whose
    /// fills follow the pre-6.12 has-room arithmetic (85 from start indexes 0…84, 169 from
    /// 85…169 with 4 KiB pages) has the half-ring bug, which is named.
    public static func capacity(_ sweeps: [RingSweep]) -> Check {
      let name = "capacity"
      guard let capacity = sweeps.first?.capacity, sweeps.allSatisfy({ !$0.starts.isEmpty }) else {
        return Check(name: name, passed: false, detail: "no ring sweep was observed")
      }
      let usable = Int(capacity) - 1
      // (space, start index, entries coalesced before the first exit)
      let measured = sweeps.flatMap { sweep in
        sweep.starts.map { (sweep.space, $0.startIndex, $0.ring.entries.count) }
      }
      let fills = sweeps.map(measuredFill)
      let spaces = sweeps.map(\.space.rawValue).joined(separator: " and ")
      let short = measured.filter { $0.2 != usable }
      guard let firstShort = short.first else {
        return Check(
          name: name, passed: true,
          detail: "measured \(usable) entries coalesced before the exit at every start index (\(spaces)): "
            + "the full usable capacity of \(capacity) slots (KVM_COALESCED_MMIO_MAX), the 6.12+ has-room arithmetic")
      }
      let counts = measured.map(\.2)
      let low = counts.min() ?? 0
      let high = counts.max() ?? 0
      var detail =
        "measured \(low == high ? "\(low)" : "\(low) to \(high)") entries where \(usable) are usable "
        + "(\(capacity) slots); \(short.count) of \(measured.count) start indexes differ, first \(firstShort.0) "
        + "start index \(firstShort.1) with \(firstShort.2)"
      if fills.allSatisfy({ $0.arithmetic == .pre612 }) {
        detail +=
          "; every fill is exactly what the pre-6.12 has-room arithmetic predicts: the half-ring bug in "
          + "coalesced_mmio_has_room() (fixed by commit \(HasRoomArithmetic.fixCommit))"
      } else if short.contains(where: { isAboutHalf($0.2, of: Int(capacity)) }) {
        detail +=
          "; about half the ring: like the pre-6.12 half-ring bug in coalesced_mmio_has_room() "
          + "(fixed by commit \(HasRoomArithmetic.fixCommit)), though not every fill matches its arithmetic"
      }
      return Check(name: name, passed: false, detail: detail)
    }

    /// One space's sweep as the fills `RingCapacityProbe` also measures.
    public static func measuredFill(_ sweep: RingSweep) -> RingFill {
      RingFill(
        slots: sweep.capacity, starts: sweep.starts.map(\.startIndex), counts: sweep.starts.map(\.ring.entries.count))
    }

    /// Within a few entries of half the ring, where the old has-room check stopped.
    static func isAboutHalf(_ count: Int, of capacity: Int) -> Bool {
      abs(2 * count - capacity) <= 6
    }

    /// Every zone registered (0) and the guest's events exactly as planned.
    public static func probes(_ plan: ProbePlan, _ observed: ProbeObservation) -> Check {
      for (zone, outcome) in observed.registrations where outcome != .ok {
        return Check(name: plan.name, passed: false, detail: "registering \(zone) \(outcome)")
      }
      if observed.registrations.map(\.zone) != plan.zones {
        return Check(
          name: plan.name, passed: false,
          detail: "the zones registered were \(observed.registrations.map(\.zone)), planned \(plan.zones)")
      }
      if let mismatch = firstMismatch(expected: plan.expected, observed: observed.events) {
        return Check(name: plan.name, passed: false, detail: mismatch)
      }
      return Check(name: plan.name, passed: true, detail: plan.summary)
    }

    /// Unregister removes a zone exactly when the range lies inside it, and
    /// returns 0 either way; what went away is seen from probe writes, not from the return.
    public static func unregister(_ observed: UnregisterObservation) -> Check {
      let name = "unregister-\(observed.relation.rawValue)-\(observed.zone.space)"
      func fail(_ detail: String) -> Check { Check(name: name, passed: false, detail: detail) }
      if observed.register != .ok { return fail("registering \(observed.zone) \(observed.register)") }
      let live = observed.probes.map { Event($0, .coalesced) } + [.halt]
      if let mismatch = firstMismatch(expected: live, observed: observed.before) {
        return fail("before unregister: \(mismatch)")
      }
      if observed.unregister != .ok {
        return fail("unregistering \(observed.range) \(observed.unregister), expected it to return 0")
      }
      let removed = observed.relation.removesZone
      let after = observed.probes.map { Event($0, removed ? .exit : .coalesced) } + [.halt]
      if let mismatch = firstMismatch(expected: after, observed: observed.after) {
        let verdict = removed ? "should have removed the zone" : "should have removed nothing"
        return fail("unregistering \(observed.range) from zone \(observed.zone) \(verdict): \(mismatch)")
      }
      let effect =
        removed
        ? "removed the whole zone (its first and last byte then exited)" : "removed nothing (both ends still coalesced)"
      return Check(
        name: name, passed: true,
        detail: "zone \(observed.zone), \(observed.relation.rawValue) \(observed.range): returned 0 and \(effect)")
    }

    /// `pio` 0 and 1 accepted, anything else `EINVAL`.
    public static func pioFlag(_ observed: PIOFlagObservation) -> Check {
      let name = "pio-flag-einval"
      guard observed.attempts.contains(where: { $0.flag > 1 }) else {
        return Check(name: name, passed: false, detail: "no pio value other than 0 or 1 was tried")
      }
      for (flag, outcome) in observed.attempts {
        let expected: Outcome = flag <= 1 ? .ok : .failed(errno: EINVAL)
        if outcome != expected {
          return Check(
            name: name, passed: false,
            detail: "KVM_REGISTER_COALESCED_MMIO with pio = \(flag) \(outcome), expected it to "
              + (flag <= 1 ? "return 0" : "fail with EINVAL"))
        }
      }
      let rejected = observed.attempts.filter { $0.flag > 1 }.map { NumberFormat.hex($0.flag) }
      return Check(
        name: name, passed: true,
        detail: "pio = 0 and 1 accepted; pio = \(rejected.joined(separator: ", ")) each failed with EINVAL")
    }

    /// The first place `observed` departs from `expected`, as a sentence; nil when equal.
    public static func firstMismatch(expected: [Event], observed: [Event]) -> String? {
      for (index, want) in expected.enumerated() {
        guard index < observed.count else {
          return "event \(index + 1): expected \(want), saw nothing more"
        }
        if observed[index] != want {
          return "event \(index + 1): expected \(want), saw \(observed[index])"
        }
      }
      if observed.count > expected.count {
        return "\(observed.count - expected.count) unexpected event(s), first \(observed[expected.count])"
      }
      return nil
    }
  }
}
