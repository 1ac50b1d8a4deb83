extension Summary {
  /// The hyperfine-style summary of the kept runs' figures: mean, sample standard
  /// deviation (n − 1 denominator; 0 for a single sample), median (the mean of the two
  /// middle values for an even count), minimum and maximum; `samples` kept as given, in
  /// run order.
  ///
  /// With no samples (a run interrupted before its first kept run) every figure is NaN,
  /// which JSON writes as `null` and tables as `–`: nothing is measured, so nothing is
  /// claimed.
  public init(samples: [Double]) {
    guard !samples.isEmpty else {
      self.init(mean: .nan, stddev: .nan, median: .nan, min: .nan, max: .nan, samples: [])
      return
    }
    let sorted = samples.sorted()
    let count = Double(sorted.count)
    let mean = sorted.reduce(0, +) / count
    // Two passes: the squared deviations from the mean, not E[x²] − E[x]², which
    // cancels badly for rates around 10⁵ with small spread.
    var squares = 0.0
    for value in sorted {
      let deviation = value - mean
      squares += deviation * deviation
    }
    let stddev = sorted.count > 1 ? (squares / (count - 1)).squareRoot() : 0
    let middle = sorted.count / 2
    let median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    self.init(
      mean: mean, stddev: stddev, median: median, min: sorted[0], max: sorted[sorted.count - 1], samples: samples)
  }
}
