import Guest
import KVM

/// Matches the writes a guest program made against what userspace observed, one
/// for one and in order, so nothing goes uncounted: each expected write is found
/// (address, length, kind and data checked) and its delivery recorded, or the
/// mismatch is reported.
public struct WriteAccounting: Sendable, Equatable {
  /// How each expected write arrived, in program order.
  public var deliveries: [Delivery]
  /// Problems, one sentence each; empty when every write was accounted for.
  public var problems: [String]

  public var clean: Bool { problems.isEmpty }

  public init(expected: [ExpectedWrite], observed: [ObservedWrite]) {
    deliveries = []
    problems = []
    for (index, want) in expected.enumerated() {
      guard index < observed.count else {
        problems.append("write \(index + 1) (\(want)) was never observed")
        continue
      }
      let got = observed[index]
      if got.matches(want) {
        deliveries.append(got.delivery)
      } else {
        problems.append("write \(index + 1): expected \(want), observed \(got)")
      }
    }
    if observed.count > expected.count {
      problems.append("\(observed.count - expected.count) write(s) observed that the guest was not expected to make")
    }
  }
}
