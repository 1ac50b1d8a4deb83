/// What puts a report's figures in doubt, in the spirit of hyperfine's warnings: each
/// rule is a pure function of the report, so JSON, table and headline agree.
public struct BenchWarning: Sendable, Equatable {
  public enum Kind: String, Sendable, CaseIterable {
    /// The writes/s samples' coefficient of variation (sample sd ÷ mean) is above `Rules.maximumCV`.
    case highVariation = "high_cv"
    /// Runs outside Tukey's fences, [Q1 − 1.5·IQR, Q3 + 1.5·IQR], of the writes/s samples.
    case outliers
    /// Fewer than `Rules.minimumRuns` kept runs: spread and outliers cannot be judged.
    case fewRuns = "few_runs"
    /// The 1-minute load average at start was above `Rules.loadPerCPU` per online CPU.
    case loadedHost = "loaded_host"
    /// A write that leaves the guest took less time than a store to guest RAM.
    case belowRAMFloor = "below_ram_floor"
    /// The thread drain had its CPU for less than `Rules.leastDrainerCPUShare` of a run.
    case contendedDrainer = "contended_drainer"
  }

  /// The thresholds, stated in every message that uses one.
  public enum Rules {
    public static let maximumCV = 0.10
    public static let iqrFactor = 1.5
    /// Quartiles need at least this many samples to say anything about outliers.
    public static let outlierMinimumRuns = 4
    public static let minimumRuns = 3
    public static let loadPerCPU = 0.5
    /// A spinning drainer alone on its CPU measures about 0.98 to 1 of the run's wall time.
    public static let leastDrainerCPUShare = 0.9
  }

  public var kind: Kind
  /// The result it concerns; nil for the whole run (the host's load, the run count).
  public var key: CaseKey?
  /// The figure that broke the rule: the CV, the outlier count, the runs, the load, the ratio.
  public var value: Double
  /// The rule's threshold for that figure (the CV limit, the fences' factor, the
  /// least runs, the load limit for this host's CPUs, 1 for the floor).
  public var limit: Double
  /// Outliers only: which kept runs (1-based, in run order) lie outside the fences.
  public var runs: [Int]

  public init(kind: Kind, key: CaseKey?, value: Double, limit: Double, runs: [Int] = []) {
    self.kind = kind
    self.key = key
    self.value = value
    self.limit = limit
    self.runs = runs
  }
}

/// Every warning for `report`, the whole run's first, then each result's in result order.
/// The load rule needs the provenance's load average at start (none without it).
public func benchWarnings(_ report: BenchReport) -> [BenchWarning] {
  var warnings: [BenchWarning] = []
  let cpus = report.host.cpusOnline.cpus.count
  if let load = report.provenance?.loadAverage?.first, cpus > 0 {
    let limit = BenchWarning.Rules.loadPerCPU * Double(cpus)
    if load > limit { warnings.append(BenchWarning(kind: .loadedHost, key: nil, value: load, limit: limit)) }
  }
  let least = Double(BenchWarning.Rules.minimumRuns)
  let fewForAll = report.configuration.runs < BenchWarning.Rules.minimumRuns
  if fewForAll {
    warnings.append(BenchWarning(kind: .fewRuns, key: nil, value: Double(report.configuration.runs), limit: least))
  }
  for result in report.results where result.runs > 0 {
    let samples = result.writesPerSec.samples
    if !fewForAll, result.runs < BenchWarning.Rules.minimumRuns {
      // An interrupted run kept fewer runs for this result than were asked for.
      warnings.append(BenchWarning(kind: .fewRuns, key: result.key, value: Double(result.runs), limit: least))
    }
    if let cv = coefficientOfVariation(samples), cv > BenchWarning.Rules.maximumCV {
      warnings.append(
        BenchWarning(kind: .highVariation, key: result.key, value: cv, limit: BenchWarning.Rules.maximumCV))
    }
    let outliers = tukeyOutliers(samples)
    if !outliers.isEmpty {
      warnings.append(
        BenchWarning(
          kind: .outliers, key: result.key, value: Double(outliers.count), limit: BenchWarning.Rules.iqrFactor,
          runs: outliers.map { $0 + 1 }))
    }
    if result.key.mode != .ram, let floor = ramFloor(for: result.key, in: report.results),
      floor.nsPerWrite.median > 0, result.nsPerWrite.median.isFinite
    {
      let ratio = result.nsPerWrite.median / floor.nsPerWrite.median
      if ratio < 1 { warnings.append(BenchWarning(kind: .belowRAMFloor, key: result.key, value: ratio, limit: 1)) }
    }
    if let share = result.drainerCPUShare, share < BenchWarning.Rules.leastDrainerCPUShare {
      warnings.append(
        BenchWarning(
          kind: .contendedDrainer, key: result.key, value: share, limit: BenchWarning.Rules.leastDrainerCPUShare))
    }
  }
  return warnings
}

/// Sample standard deviation ÷ mean; nil for fewer than two samples or a mean of 0.
public func coefficientOfVariation(_ samples: [Double]) -> Double? {
  let values = samples.filter(\.isFinite)
  guard values.count >= 2 else { return nil }
  let mean = values.reduce(0, +) / Double(values.count)
  guard mean != 0 else { return nil }
  let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
  return variance.squareRoot() / abs(mean)
}

/// The `p`-quantile of sorted values by linear interpolation between order statistics
/// (Hyndman & Fan type 7, the default of R and numpy).
public func quantile(sorted values: [Double], _ p: Double) -> Double {
  guard !values.isEmpty else { return .nan }
  let position = p * Double(values.count - 1)
  let below = Int(position.rounded(.down))
  let above = min(below + 1, values.count - 1)
  return values[below] + (position - Double(below)) * (values[above] - values[below])
}

/// Indexes of the samples outside Tukey's fences [Q1 − 1.5·IQR, Q3 + 1.5·IQR]; none for
/// fewer than `Rules.outlierMinimumRuns` samples.
public func tukeyOutliers(_ samples: [Double]) -> [Int] {
  guard samples.count >= BenchWarning.Rules.outlierMinimumRuns, samples.allSatisfy(\.isFinite) else { return [] }
  let sorted = samples.sorted()
  let q1 = quantile(sorted: sorted, 0.25)
  let q3 = quantile(sorted: sorted, 0.75)
  let reach = BenchWarning.Rules.iqrFactor * (q3 - q1)
  return samples.indices.filter { samples[$0] < q1 - reach || samples[$0] > q3 + reach }
}
