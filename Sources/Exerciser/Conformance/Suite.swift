import Guest
import KVM

extension Conformance {
  /// Every check, in report order, for the spaces asked for: gather, then judge.
  /// A check whose observation could not be made (an ioctl failed, a feature is
  /// missing) fails with that as its detail; the others still run.
  public static func verify(_ device: KVMDevice, spaces: [IOSpace]) -> [Check] {
    var checks: [Check] = []
    var sweeps: [RingSweep] = []
    for space in spaces {
      do {
        let sweep = try Gather.ringSweep(device, space: space)
        sweeps.append(sweep)
        checks.append(Judge.ringFill(sweep))
        checks.append(Judge.unregisterExit(sweep))
      } catch {
        checks.append(unobserved("ring-fill-\(space)", error))
        checks.append(unobserved("unregister-exit-\(space)", error))
      }
    }
    // Judged on the sweeps that could be made; a space that could not is already a failed ring-fill line.
    checks.insert(
      sweeps.isEmpty
        ? Check(name: "capacity", passed: false, detail: "no ring sweep could be made") : Judge.capacity(sweeps),
      at: 0)
    for space in spaces {
      for plan in [readsPlan(space), straddlePlan(space)] {
        checks.append(judged(plan.name) { try Judge.probes(plan, Gather.probes(device, plan)) })
      }
    }
    for space in spaces {
      for relation in RangeRelation.allCases {
        checks.append(
          judged("unregister-\(relation.rawValue)-\(space)") {
            try Judge.unregister(Gather.unregister(device, space: space, relation: relation))
          })
      }
    }
    for space in spaces {
      let plan = overlapPlan(space)
      checks.append(judged(plan.name) { try Judge.probes(plan, Gather.probes(device, plan)) })
    }
    checks.append(judged("pio-flag-einval") { try Judge.pioFlag(Gather.pioFlags(device)) })
    return checks
  }

  static func judged(_ name: String, _ body: () throws -> Check) -> Check {
    do { return try body() } catch { return unobserved(name, error) }
  }

  static func unobserved(_ name: String, _ error: any Error) -> Check {
    Check(name: name, passed: false, detail: "could not be observed: \(error)")
  }
}
