import Benchmarking
import Platform

/// The one progress line `cmmio bench` keeps on stderr while it measures: the case,
/// run i of R, and an estimate of the time left. Only when stderr is a terminal
/// (`isatty(2)`) and `--no-progress` was not given, so scripts and logs never see it.
struct ProgressLine {
  let enabled: Bool

  init(requested: Bool) {
    enabled = requested && isatty(2) == 1
  }

  /// Replaces the line with `progress`.
  func show(_ progress: BenchProgress) {
    guard enabled else { return }
    let phase =
      progress.isWarmup
      ? "warm-up \(progress.run) of \(progress.warmup)"
      : "run \(progress.run - progress.warmup) of \(progress.runs)"
    var line = "[\(progress.caseIndex)/\(progress.caseCount)] \(progress.label): \(phase)"
    if progress.runsDone > 0 {
      // Time per finished run so far, times the runs left (cases differ: a rough estimate).
      let perRun = Double(progress.elapsedNs) / Double(progress.runsDone)
      let left = perRun * Double(progress.runsTotal - progress.runsDone) / 1e9
      line += ", ETA \(Self.duration(left))"
    }
    standardError("\r\u{1B}[K" + line)
  }

  /// Clears the line before the report or an error is printed.
  func clear() {
    guard enabled else { return }
    standardError("\r\u{1B}[K")
  }

  /// `42s`, `3m07s`, `1h02m`.
  static func duration(_ seconds: Double) -> String {
    // An estimate past a million hours (or not a number) says so instead of trapping in Int(_:).
    guard seconds.isFinite, seconds < 3.6e9 else { return "more than 1000000h" }
    let total = Int(max(0, seconds).rounded(.up))
    if total < 60 { return "\(total)s" }
    let twoDigits = { (value: Int) in value < 10 ? "0\(value)" : "\(value)" }
    if total < 3600 { return "\(total / 60)m\(twoDigits(total % 60))s" }
    return "\(total / 3600)h\(twoDigits(total % 3600 / 60))m"
  }
}
