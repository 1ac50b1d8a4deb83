import ArgumentParser
import BenchReporting
import KVM
import Platform
import Reporting

/// `cmmio compare`: an A/B test of two saved bench reports. It reads files only and
/// never opens the KVM device, so it has no `--device`.
struct CompareCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "compare",
    abstract: "Compare two saved bench JSON reports: medians, change, 95% CI of the ratio, Mann-Whitney p.",
    discussion: """
      Matches the results of BASELINE and CANDIDATE (two `cmmio bench --format json` \
      reports) by mode, space, ring size, drain, vCPUs, CPUs and flush interval, and tests \
      each pair's per-run writes/s with a two-sided Mann-Whitney U test (exact without ties \
      for small samples, else the normal approximation). `~` marks a change not significant \
      at p < 0.05. Results in one report only are listed. Exit 1 with \
      --fail-on-regression PCT when a significant change is worse than -PCT%; 64 when a \
      file is not a cmmio.bench/1 report with samples; 1 when a file cannot be read.

      EXAMPLES:
        cmmio compare before.json after.json
        cmmio compare before.json after.json --fail-on-regression 5
        cmmio compare before.json after.json --format json --output delta.json
      """
  )

  @Argument(help: ArgumentHelp("The reference report (cmmio bench --format json).", valueName: "BASELINE"))
  var baseline: String

  @Argument(help: ArgumentHelp("The report compared with it.", valueName: "CANDIDATE"))
  var candidate: String

  @OptionGroup var report: ReportOptions

  @Option(
    name: .customLong("fail-on-regression"),
    help: ArgumentHelp(
      "Exit 1 when a significant change of writes/s is worse than -PCT% (a kernel CI's gate) (default: never).",
      valueName: "PCT"))
  var failOnRegression: Double?

  func validate() throws {
    try report.refuseMetrics("compare")
    if let failOnRegression, !(failOnRegression.isFinite && failOnRegression >= 0) {
      throw ValidationError("--fail-on-regression needs a percentage of 0 or more, got \(failOnRegression)")
    }
  }

  /// Largest report read; a bench report of the full matrix is well under 1 MiB.
  static let sizeLimit = 64 << 20

  /// The file as one JSON document: cannot read it → 1; not JSON → 64.
  static func document(_ path: String) throws(CLIFailure) -> JSONValue {
    guard let text = TextFile.read(path, limit: sizeLimit) else {
      let reason = String(cString: strerror(errno))
      throw CLIFailure(.failure, "Cannot read \(path): \(reason)")
    }
    guard text.utf8.count < sizeLimit else {
      throw CLIFailure(.usage, "\(path) is larger than \(sizeLimit >> 20) MiB; it is not a cmmio bench report")
    }
    do { return try JSONValue.parse(text) } catch {
      throw CLIFailure(.usage, "\(path) is not JSON (\(error)); compare reads cmmio bench --format json reports")
    }
  }

  func run() throws {
    let outputs = try report.outputs()
    let first = try Self.document(baseline)
    let second = try Self.document(candidate)
    var comparison: BenchComparison
    do {
      comparison = try BenchComparison(baseline: first, path: baseline, candidate: second, path: candidate)
      comparison.provenance = Provenance.now()
    } catch {
      throw CLIFailure(error.isUsage ? .usage : .failure, error.message)
    }
    try outputs.emit(comparison.rendered(report.format))
    if let limit = failOnRegression, let sentence = comparison.regressionSentence(worseThan: limit) {
      throw CLIFailure(.failure, sentence)
    }
  }
}

extension BenchComparison: Report {}
