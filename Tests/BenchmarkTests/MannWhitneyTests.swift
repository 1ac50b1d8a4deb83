import Benchmarking
import Testing

@Suite("Mann-Whitney U test and the ratio interval of cmmio compare")
struct MannWhitneyTests {
  @Test("exact null distribution for n1 = n2 = 5: 252 arrangements, the lower tail as tabulated")
  func exactDistribution() {
    let counts = MannWhitney.exactCounts(5, 5)
    #expect(counts.count == 26)
    #expect(counts.reduce(0, +) == 252)  // C(10, 5)
    #expect(Array(counts.prefix(5)) == [1, 1, 2, 3, 5])
    #expect(counts == counts.reversed())
  }

  @Test(
    "two-sided 0.05 critical values of U match the textbook table",
    arguments: [(5, 5, 2), (6, 6, 5), (7, 7, 8), (8, 8, 13), (10, 10, 23), (5, 10, 8), (3, 5, 0)])
  func criticalValues(m: Int, n: Int, expected: Int) {
    #expect(MannWhitney.criticalValue(m, n, alpha: 0.05, exact: true) == expected)
  }

  @Test("no critical value exists for 2 runs against 2: no 95% interval is claimed")
  func tooSmall() {
    #expect(MannWhitney.criticalValue(2, 2, alpha: 0.05, exact: true) == nil)
    #expect(ratioConfidenceInterval(baseline: [1, 2], candidate: [3, 4]) == nil)
  }

  @Test("complete separation of 5 and 5: exact p = 2/252 ≈ 0.00794, either order")
  func completeSeparation() throws {
    let low: [Double] = [1, 2, 3, 4, 5]
    let high: [Double] = [6, 7, 8, 9, 10]
    let test = try #require(MannWhitney(low, high))
    #expect(test.method == .exact)
    #expect(test.u == 0)
    #expect(abs(test.pValue - 2.0 / 252) < 1e-15)
    let reversed = try #require(MannWhitney(high, low))
    #expect(reversed.u == 25)
    #expect(reversed.pValue == test.pValue)
  }

  @Test("an exact p without ties agrees with scipy.stats.mannwhitneyu(method='exact'): U = 5, p = 0.150794")
  func exactInterior() throws {
    let test = try #require(MannWhitney([1.1, 2.3, 3.5, 4.2, 6.0], [2.0, 5.1, 6.5, 7.7, 8.8]))
    #expect(test.method == .exact)
    #expect(test.u == 5)
    #expect(abs(test.pValue - 0.15079365079365079) < 1e-12)
  }

  @Test("ties: normal approximation with tie and continuity corrections, as scipy: U = 13, p = 0.0286714")
  func normalWithTies() throws {
    let test = try #require(MannWhitney([1, 2, 2, 3, 3, 3, 4, 5, 7], [3, 4, 4, 5, 6, 6, 8, 9]))
    #expect(test.method == .normal)
    #expect(test.u == 13)
    // scipy 1.17.1: mannwhitneyu(a, b, method='asymptotic', use_continuity=True).pvalue
    #expect(abs(test.pValue - 0.028671432706729033) < 1e-9)
  }

  @Test("identical samples: p = 1, whatever the method")
  func identical() throws {
    let sample: [Double] = [105_351, 104_900, 106_020, 103_871, 105_500]
    #expect(try #require(MannWhitney(sample, sample)).pValue == 1)
    #expect(try #require(MannWhitney([7, 7, 7], [7, 7, 7])).pValue == 1)
    #expect(MannWhitney([], sample) == nil)
  }

  @Test("the ratio interval: k+1-th smallest and largest pairwise ratio, holding a pure scaling's ratio")
  func ratioInterval() throws {
    let baseline: [Double] = [100, 104, 98, 101, 97]
    let interval = try #require(ratioConfidenceInterval(baseline: baseline, candidate: baseline.map { $0 / 2 }))
    #expect(interval.low < 0.5 && 0.5 < interval.high)
    // k = 2 for 5 and 5: the third smallest and third largest of the 25 ratios y/x.
    var ratios: [Double] = []
    for x in baseline { for y in baseline.map({ $0 / 2 }) { ratios.append(y / x) } }
    ratios.sort()
    #expect(abs(interval.low - ratios[2]) < 1e-12)
    #expect(abs(interval.high - ratios[22]) < 1e-12)
  }
}
