import Guest
import KVM

extension Conformance {
  /// Every check, in report order, for the spaces asked for: gather, then judge.
  /// A check whose observation could not be made (an ioctl failed, a feature is
  /// missing) fails with that as its detail; the others still run.
  public static func verify(_ device: KVMDevice, spaces: [IOSpace]) -> [Check] {
    verifyUntilInterrupted(device, spaces: spaces).checks
  }

  /// `verify`, stopping before the next observation once SIGINT or SIGTERM arrived
  /// (`Interruption`): the checks judged so far, and the signal if it stopped.
  public static func verifyUntilInterrupted(_ device: KVMDevice, spaces: [IOSpace]) -> (
    checks: [Check], interrupted: Interrupted?
  ) {
    var checks: [Check] = []
    do {
      var sweeps: [RingSweep] = []
      for space in spaces {
        try stopIfInterrupted()
        do {
          let sweep = try Gather.ringSweep(device, space: space)
          sweeps.append(sweep)
          checks.append(Judge.ringFill(sweep))
          checks.append(Judge.unregisterExit(sweep))
        } catch let interrupted as Interrupted {
          throw interrupted
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
          checks.append(try judged(plan.name) { try Judge.probes(plan, Gather.probes(device, plan)) })
        }
      }
      for space in spaces {
        for relation in RangeRelation.allCases {
          checks.append(
            try judged("unregister-\(relation.rawValue)-\(space)") {
              try Judge.unregister(Gather.unregister(device, space: space, relation: relation))
            })
        }
      }
      for space in spaces {
        let plan = overlapPlan(space)
        checks.append(try judged(plan.name) { try Judge.probes(plan, Gather.probes(device, plan)) })
      }
      checks.append(try judged("pio-flag-einval") { try Judge.pioFlag(Gather.pioFlags(device)) })
      return (checks, nil)
    } catch {
      return (checks, error as? Interrupted)
    }
  }

  static func stopIfInterrupted() throws {
    if let signal = Interruption.signal { throw Interrupted(signal: signal) }
  }

  /// Gathers and judges one check; an interruption stops the suite instead of failing the check.
  static func judged(_ name: String, _ body: () throws -> Check) throws -> Check {
    try stopIfInterrupted()
    do { return try body() } catch let interrupted as Interrupted { throw interrupted } catch {
      return unobserved(name, error)
    }
  }

  static func unobserved(_ name: String, _ error: any Error) -> Check {
    Check(name: name, passed: false, detail: "could not be observed: \(error)")
  }
}
