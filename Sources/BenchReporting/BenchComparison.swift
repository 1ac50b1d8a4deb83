import Benchmarking
import KVM
import Reporting

/// Why two reports cannot be compared: the wrong kind of file is a usage error (exit
/// 64), a file that cannot be read a failure (exit 1); `message` is the one sentence.
public struct ComparisonInputError: Error, Sendable, CustomStringConvertible {
  public var isUsage: Bool
  public var message: String

  public init(isUsage: Bool, _ message: String) {
    self.isUsage = isUsage
    self.message = message
  }

  public var description: String { message }
}

/// `cmmio compare`: two `cmmio.bench/1` reports, their results matched by configuration
/// and each pair's writes/s tested for a difference (benchstat's approach).
///
/// Per pair: both medians and run counts, the change of the median in %, a two-sided
/// Mann–Whitney U p-value (`MannWhitney`) and a distribution-free 95% interval of the
/// ratio candidate/baseline (`ratioConfidenceInterval`). A change is significant when
/// p < `alpha`. Results present on one side only are kept as `unmatched`.
public struct BenchComparison: Sendable {
  /// The configuration keys a result is matched on, as written in the bench JSON.
  public static let matchKeys = [
    "mode", "space", "ring_size", "drain", "vcpus", "vcpu_cpu", "drain_cpu", "flush_every",
  ]
  public static let schema = "cmmio.compare/1"
  public static let alpha = 0.05

  public struct Side: Sendable {
    public var path: String
    public var kernelRelease: String?
    /// The report's own `provenance` object, as it was saved; nil in a report without one.
    public var provenance: JSONValue?

    /// " (kernel 6.12.1; 2026-11-30T06:40:00Z, commit 1a2b3c4d5e6f)": what the table says of a side.
    var note: String {
      var parts = kernelRelease.map { ["kernel \($0)"] } ?? []
      if let timestamp = provenance?["timestamp"]?.text {
        parts.append(timestamp + (provenance?["git_commit"]?.text.map { ", commit \($0.prefix(12))" } ?? ""))
      }
      return parts.isEmpty ? "" : " (" + parts.joined(separator: "; ") + ")"
    }
  }

  /// One result of a report: its configuration and its kept runs' writes/s.
  public struct Entry: Sendable {
    public var configuration: [(String, JSONValue)]
    public var samples: [Double]

    var identity: String { JSONValue.object(configuration).rendered(pretty: false) }
  }

  public struct Row: Sendable {
    public var configuration: [(String, JSONValue)]
    public var baseline: [Double]
    public var candidate: [Double]
    public var baselineMedian: Double
    public var candidateMedian: Double
    /// (candidate median / baseline median − 1) · 100.
    public var deltaPct: Double
    public var ratioInterval: (low: Double, high: Double)?
    public var test: MannWhitney?

    public var significant: Bool { (test?.pValue ?? 1) < BenchComparison.alpha }
  }

  public var baseline: Side
  public var candidate: Side
  public var rows: [Row]
  /// (side, entry) in file order, baseline's first.
  public var unmatched: [(side: String, entry: Entry)]
  /// How this comparison was made (its own command line, build and time).
  public var provenance: Provenance?

  /// Matches `baselineDocument`'s results with `candidateDocument`'s; a configuration
  /// present several times in both is paired in order of appearance.
  public init(
    baseline baselineDocument: JSONValue, path baselinePath: String, candidate candidateDocument: JSONValue,
    path candidatePath: String
  ) throws(ComparisonInputError) {
    let baselineSchema = baselineDocument["schema"]?.text
    let candidateSchema = candidateDocument["schema"]?.text
    if let baselineSchema, let candidateSchema, baselineSchema != candidateSchema {
      throw ComparisonInputError(
        isUsage: true,
        "\(baselinePath) is a \(baselineSchema) report and \(candidatePath) a \(candidateSchema) report; "
          + "compare reads two cmmio.bench/1 reports")
    }
    let baselineEntries = try Self.entries(baselineDocument, path: baselinePath)
    let candidateEntries = try Self.entries(candidateDocument, path: candidatePath)
    baseline = Side(
      path: baselinePath, kernelRelease: baselineDocument["host"]?["kernel_release"]?.text,
      provenance: baselineDocument["provenance"])
    candidate = Side(
      path: candidatePath, kernelRelease: candidateDocument["host"]?["kernel_release"]?.text,
      provenance: candidateDocument["provenance"])
    var remaining = candidateEntries
    var rows: [Row] = []
    var unmatched: [(side: String, entry: Entry)] = []
    for entry in baselineEntries {
      guard let index = remaining.firstIndex(where: { $0.identity == entry.identity }) else {
        unmatched.append(("baseline", entry))
        continue
      }
      rows.append(Self.row(entry, remaining.remove(at: index)))
    }
    unmatched += remaining.map { ("candidate", $0) }
    self.rows = rows
    self.unmatched = unmatched
  }

  static func row(_ base: Entry, _ other: Entry) -> Row {
    let baselineMedian = Summary(samples: base.samples).median
    let candidateMedian = Summary(samples: other.samples).median
    return Row(
      configuration: base.configuration, baseline: base.samples, candidate: other.samples,
      baselineMedian: baselineMedian, candidateMedian: candidateMedian,
      deltaPct: (candidateMedian / baselineMedian - 1) * 100,
      ratioInterval: ratioConfidenceInterval(baseline: base.samples, candidate: other.samples),
      test: MannWhitney(base.samples, other.samples))
  }

  /// The results of one report, refused (usage error) unless it is a `cmmio.bench/1`
  /// report whose every result carries its writes/s samples.
  static func entries(_ document: JSONValue, path: String) throws(ComparisonInputError) -> [Entry] {
    guard case .object = document, let schema = document["schema"]?.text else {
      throw ComparisonInputError(isUsage: true, "\(path) is not a cmmio report (no \"schema\" key)")
    }
    guard schema == "cmmio.bench/1" else {
      throw ComparisonInputError(isUsage: true, "\(path) is a \(schema) report; compare reads cmmio.bench/1 reports")
    }
    guard let results = document["results"]?.items else {
      throw ComparisonInputError(isUsage: true, "\(path) has no \"results\" array")
    }
    var entries: [Entry] = []
    for (index, result) in results.enumerated() {
      guard let samples = result["writes_per_sec"]?["samples"]?.items else {
        throw ComparisonInputError(
          isUsage: true,
          "\(path) has no per-run samples (results[\(index)].writes_per_sec.samples); "
            + "run cmmio bench again with this version to save them")
      }
      let values = samples.compactMap(\.number)
      guard values.count == samples.count, values.allSatisfy({ $0.isFinite && $0 > 0 }) else {
        throw ComparisonInputError(
          isUsage: true, "\(path): results[\(index)].writes_per_sec.samples holds something other than positive numbers"
        )
      }
      var configuration: [(String, JSONValue)] = []
      for key in matchKeys {
        guard let value = result[key] else {
          throw ComparisonInputError(isUsage: true, "\(path): results[\(index)] has no \"\(key)\" key")
        }
        configuration.append((key, value))
      }
      entries.append(Entry(configuration: configuration, samples: values))
    }
    return entries
  }

  /// The significant changes of writes/s worse than −`percent`%.
  public func regressions(worseThan percent: Double) -> [Row] {
    rows.filter { $0.significant && $0.deltaPct < -percent }
  }

  /// The sentence for `--fail-on-regression`, nil when no change is that bad.
  public func regressionSentence(worseThan percent: Double) -> String? {
    let worse = regressions(worseThan: percent)
    guard let worst = worse.min(by: { $0.deltaPct < $1.deltaPct }) else { return nil }
    return "writes/s fell significantly by more than \(JSONValue.format(percent))% in \(worse.count) of "
      + "\(rows.count) matched results (worst: \(Self.label(worst.configuration)), "
      + "\(Human.fixed(worst.deltaPct, 1))%, p = \(Human.significant(worst.test?.pValue ?? .nan)))"
  }
}

// MARK: - Rendering

extension BenchComparison {
  static let method =
    "p: two-sided Mann-Whitney U test, exact distribution without ties and at most "
    + "\(MannWhitney.exactLimit) runs in all, else normal approximation with tie and continuity corrections; "
    + "CI: distribution-free 95% interval of candidate/baseline (Hodges-Lehmann, from the pairwise ratios); "
    + "~: not significant at p < 0.05"

  /// A short name of a configuration: `coalesced mmio K=8 drain=exit cpu=0`.
  public static func label(_ configuration: [(String, JSONValue)]) -> String {
    let value = JSONValue.object(configuration)
    var parts = [value["mode"]?.text ?? "?", value["space"]?.text ?? "?"]
    if let ring = value["ring_size"]?.number { parts.append("K=" + JSONValue.format(ring)) }
    if let drain = value["drain"]?.text { parts.append("drain=" + drain) }
    if let vcpus = value["vcpus"]?.number, vcpus != 1 { parts.append("vcpus=" + JSONValue.format(vcpus)) }
    if let cpu = value["vcpu_cpu"]?.number { parts.append("cpu=" + JSONValue.format(cpu)) }
    if let cpu = value["drain_cpu"]?.number { parts.append("drain_cpu=" + JSONValue.format(cpu)) }
    if let flush = value["flush_every"]?.number, flush != 0 { parts.append("flush=" + JSONValue.format(flush)) }
    return parts.joined(separator: " ")
  }

  public var json: JSONValue {
    func side(_ side: Side) -> JSONValue {
      .object([
        ("path", .string(side.path)), ("kernel_release", side.kernelRelease.map { .string($0) } ?? .null),
        ("provenance", side.provenance ?? .null),
      ])
    }
    return .object([
      ("schema", .string(Self.schema)),
      ("provenance", provenance?.reportJSON ?? .null),
      ("metric", .string("writes_per_sec")),
      ("alpha", .double(Self.alpha)),
      ("method", .string(Self.method)),
      ("baseline", side(baseline)),
      ("candidate", side(candidate)),
      (
        "rows",
        .array(
          rows.map { row in
            .object(
              row.configuration + [
                ("baseline_median", .double(row.baselineMedian)),
                ("baseline_n", .integer(row.baseline.count)),
                ("candidate_median", .double(row.candidateMedian)),
                ("candidate_n", .integer(row.candidate.count)),
                ("delta_pct", .double(row.deltaPct)),
                ("ratio_ci_low", row.ratioInterval.map { .double($0.low) } ?? .null),
                ("ratio_ci_high", row.ratioInterval.map { .double($0.high) } ?? .null),
                ("u", row.test.map { .double($0.u) } ?? .null),
                ("p_value", row.test.map { .double($0.pValue) } ?? .null),
                ("test", row.test.map { .string($0.method.rawValue) } ?? .null),
                ("significant", .bool(row.significant)),
              ])
          })
      ),
      (
        "unmatched",
        .array(
          unmatched.map { item in
            .object(
              [("side", .string(item.side))] + item.entry.configuration + [
                ("median", .double(Summary(samples: item.entry.samples).median)),
                ("n", .integer(item.entry.samples.count)),
              ])
          })
      ),
    ])
  }

  func cells(_ row: Row) -> [String] {
    let interval =
      row.ratioInterval.map { "[" + Human.fixed($0.low, 3) + ", " + Human.fixed($0.high, 3) + "]" } ?? Human.missing
    let p = row.test.map { Human.significant($0.pValue) + ($0.method == .exact ? " exact" : " normal") }
    return [
      Self.label(row.configuration), Human.amount(row.baselineMedian), String(row.baseline.count),
      Human.amount(row.candidateMedian), String(row.candidate.count),
      row.significant ? (row.deltaPct > 0 ? "+" : "") + Human.fixed(row.deltaPct, 1) + "%" : "~",
      interval, p ?? Human.missing,
    ]
  }

  var textTable: TextTable {
    var table = TextTable(
      headers: [
        "configuration", "baseline writes/s", "n", "candidate writes/s", "n", "delta", "95% CI of ratio", "p",
      ], alignments: [.left, .right, .right, .right, .right, .right, .left, .left])
    for row in rows { table.append(cells(row)) }
    return table
  }

  var unmatchedLines: [String] {
    unmatched.map {
      "only in \($0.side) (\($0.side == "baseline" ? baseline.path : candidate.path)): "
        + Self.label($0.entry.configuration)
    }
  }

  public var table: String {
    var out = "baseline:  \(baseline.path)" + baseline.note + "\n"
    out += "candidate: \(candidate.path)" + candidate.note + "\n\n"
    out += rows.isEmpty ? "No result of one report matches a result of the other.\n" : textTable.rendered()
    for line in unmatchedLines { out += line + "\n" }
    out += "\n" + Self.method + ".\n"
    return out
  }

  public var markdown: String {
    var out = "Baseline `\(baseline.path)`, candidate `\(candidate.path)`.\n\n"
    if !rows.isEmpty { out += textTable.markdown() + "\n" }
    for line in unmatchedLines { out += "- " + line + "\n" }
    if !unmatched.isEmpty { out += "\n" }
    out += Self.method + ".\n"
    return out
  }

  /// One line per matched pair and per unmatched result (`match` says which), the
  /// configuration keys, then every figure with all its digits; empty where none.
  public var csv: String {
    func number(_ value: Double?) -> String { value.map { $0.isFinite ? JSONValue.format($0) : "" } ?? "" }
    func key(_ value: JSONValue) -> String {
      if case .null = value { return "" }
      return value.text ?? value.rendered(pretty: false)
    }
    let header =
      ["match"] + Self.matchKeys + [
        "baseline_median", "baseline_n", "candidate_median", "candidate_n", "delta_pct", "ratio_ci_low",
        "ratio_ci_high", "u", "p_value", "test", "significant",
      ]
    var lines: [[String]] = rows.map { row in
      ["both"] + row.configuration.map { key($0.1) } + [
        number(row.baselineMedian), String(row.baseline.count), number(row.candidateMedian),
        String(row.candidate.count), number(row.deltaPct), number(row.ratioInterval?.low),
        number(row.ratioInterval?.high), number(row.test?.u), number(row.test?.pValue),
        row.test?.method.rawValue ?? "", row.significant ? "true" : "false",
      ]
    }
    for item in unmatched {
      let median = number(Summary(samples: item.entry.samples).median)
      let count = String(item.entry.samples.count)
      let figures = item.side == "baseline" ? [median, count, "", ""] : ["", "", median, count]
      lines.append(
        ["\(item.side) only"] + item.entry.configuration.map { key($0.1) } + figures
          + ["", "", "", "", "", "", "false"])
    }
    return CSV.render(header: header, rows: lines)
  }
}
