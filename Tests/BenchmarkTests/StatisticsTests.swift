import Benchmarking
import Testing

@Suite("Summary of kept runs")
struct StatisticsTests {
  @Test("known samples: mean, sample stddev (n − 1), median, min, max")
  func knownSamples() {
    // Σ = 40, mean 5; squared deviations 9+1+1+1+0+0+4+16 = 32, /7 → stddev √(32/7).
    let summary = Summary(samples: [2, 4, 4, 4, 5, 5, 7, 9].reversed())
    #expect(summary.mean == 5)
    #expect(abs(summary.stddev - (32.0 / 7).squareRoot()) < 1e-12)
    #expect(summary.median == 4.5)
    #expect(summary.min == 2)
    #expect(summary.max == 9)
  }

  @Test("odd count: the median is the middle value, not the mean")
  func oddMedian() {
    let summary = Summary(samples: [100, 1, 3])
    #expect(summary.median == 3)
    #expect(abs(summary.mean - 104.0 / 3) < 1e-12)
  }

  @Test("one sample: stddev 0, every other figure that sample")
  func oneSample() {
    let summary = Summary(samples: [66_000])
    #expect(summary == Summary(mean: 66_000, stddev: 0, median: 66_000, min: 66_000, max: 66_000, samples: [66_000]))
  }

  @Test("large values with a small spread keep their stddev (no E[x²] − E[x]² cancellation)")
  func stableVariance() {
    let summary = Summary(samples: [1e9 + 1, 1e9 + 2, 1e9 + 3])
    #expect(abs(summary.stddev - 1) < 1e-6)
  }

  @Test("no samples: every figure NaN, nothing invented")
  func noSamples() {
    let summary = Summary(samples: [])
    #expect(summary.mean.isNaN && summary.stddev.isNaN && summary.median.isNaN)
    #expect(summary.min.isNaN && summary.max.isNaN)
    #expect(summary.samples.isEmpty)
  }

  @Test("the samples are kept as given, in run order, not sorted")
  func samplesInRunOrder() {
    let runs: [Double] = [300, 100, 200, 100, 500]
    let summary = Summary(samples: runs)
    #expect(summary.samples == runs)
    #expect(summary.median == 200)
  }
}
