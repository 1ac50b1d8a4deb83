import Platform

/// The two-sided Mann–Whitney U test (Wilcoxon rank-sum) of two independent samples,
/// and the distribution-free confidence interval of a shift that goes with it.
///
/// `u` is the statistic of the first sample: the number of pairs (x, y) with x > y, ties
/// counting ½. With no ties and at most `exactLimit` values in all, the p-value comes from
/// the exact null distribution of U (every arrangement of the ranks equally likely);
/// otherwise from the normal approximation with the tie correction of the variance and a
/// continuity correction of ½ (as scipy.stats.mannwhitneyu does by default).
public struct MannWhitney: Sendable, Equatable {
  public enum Method: String, Sendable {
    case exact
    case normal = "normal-approximation"
  }

  /// Largest combined sample size for the exact distribution; its counts stay exact in a
  /// Double (C(50, 25) ≈ 1.3·10¹⁴ < 2⁵³).
  public static let exactLimit = 50

  public var u: Double
  public var pValue: Double
  public var method: Method

  /// Nil when either sample is empty: there is nothing to test.
  public init?(_ first: [Double], _ second: [Double]) {
    let m = first.count
    let n = second.count
    guard m > 0, n > 0 else { return nil }
    let pooled = (first.map { ($0, 0) } + second.map { ($0, 1) }).sorted { $0.0 < $1.0 }
    // Mid-ranks for ties, and Σ(t³ − t) over the tie groups for the variance.
    var rankSum = 0.0
    var tieTerm = 0.0
    var start = 0
    while start < pooled.count {
      var end = start
      while end + 1 < pooled.count, pooled[end + 1].0 == pooled[start].0 { end += 1 }
      let rank = Double(start + end + 2) / 2
      for index in start...end where pooled[index].1 == 0 { rankSum += rank }
      let t = Double(end - start + 1)
      tieTerm += t * t * t - t
      start = end + 1
    }
    let u = rankSum - Double(m * (m + 1)) / 2
    self.u = u
    let product = Double(m * n)
    if tieTerm == 0, m + n <= Self.exactLimit {
      let counts = Self.exactCounts(m, n)
      let total = counts.reduce(0, +)
      let k = Int(u.rounded())
      let lower = counts[0...k].reduce(0, +) / total
      let upper = counts[k...].reduce(0, +) / total
      pValue = min(1, 2 * min(lower, upper))
      method = .exact
    } else {
      let size = Double(m + n)
      let variance = product / 12 * ((size + 1) - tieTerm / (size * (size - 1)))
      let deviation = max(abs(u - product / 2) - 0.5, 0)
      pValue = variance > 0 ? min(1, erfc(deviation / variance.squareRoot() / 2.0.squareRoot())) : 1
      method = .normal
    }
  }

  /// The number of rank arrangements giving each U = 0…m·n for samples of m and n
  /// without ties: f(m, n, u) = f(m − 1, n, u − n) + f(m, n − 1, u).
  public static func exactCounts(_ m: Int, _ n: Int) -> [Double] {
    // The largest of the m + n values is either from the first sample (above all n of
    // the second: U grows by n) or from the second. f(i, 0) = f(0, j) = [1].
    var table = [[[Double]]](repeating: [[Double]](repeating: [1], count: n + 1), count: m + 1)
    if m > 0, n > 0 {
      for i in 1...m {
        for j in 1...n {
          var row = [Double](repeating: 0, count: i * j + 1)
          for (u, count) in table[i - 1][j].enumerated() { row[u + j] += count }
          for (u, count) in table[i][j - 1].enumerated() { row[u] += count }
          table[i][j] = row
        }
      }
    }
    return table[m][n]
  }

  /// The largest k with P(U ≤ k) ≤ α/2 under the null for samples of m and n (exact
  /// without ties for small samples, else the normal approximation); nil when no
  /// interval at level 1 − α exists, as with 2 runs against 2.
  public static func criticalValue(_ m: Int, _ n: Int, alpha: Double, exact: Bool) -> Int? {
    if exact, m + n <= exactLimit {
      let counts = exactCounts(m, n)
      let total = counts.reduce(0, +)
      var cumulative = 0.0
      var k: Int? = nil
      for (u, count) in counts.enumerated() {
        cumulative += count
        if cumulative / total <= alpha / 2 { k = u } else { break }
      }
      return k
    }
    let product = Double(m * n)
    let sigma = (product * Double(m + n + 1) / 12).squareRoot()
    let k = Int((product / 2 - 1.959963984540054 * sigma).rounded(.down))
    return k >= 0 ? k : nil
  }
}

/// A 95% confidence interval of the ratio candidate / baseline, distribution-free: the
/// Hodges–Lehmann interval of the shift between log-samples (Bauer 1972), made of the
/// (k+1)-th smallest and (k+1)-th largest of the m·n pairwise differences log y − log x,
/// k the Mann–Whitney critical value; exponentiated, a shift in logs is a ratio.
/// Nil when the samples are too small for any such interval (or hold a value ≤ 0).
public func ratioConfidenceInterval(baseline: [Double], candidate: [Double], alpha: Double = 0.05) -> (
  low: Double, high: Double
)? {
  guard !baseline.isEmpty, !candidate.isEmpty, (baseline + candidate).allSatisfy({ $0 > 0 && $0.isFinite }) else {
    return nil
  }
  let hasTies = Set(baseline + candidate).count < baseline.count + candidate.count
  guard
    let k = MannWhitney.criticalValue(baseline.count, candidate.count, alpha: alpha, exact: !hasTies)
  else { return nil }
  var differences: [Double] = []
  differences.reserveCapacity(baseline.count * candidate.count)
  for x in baseline {
    for y in candidate { differences.append(log(y) - log(x)) }
  }
  differences.sort()
  guard k < differences.count - k else { return nil }
  return (exp(differences[k]), exp(differences[differences.count - 1 - k]))
}
