import Reporting

/// A subcommand's report, printable in every `--format`.
///
/// Each reporter builds its four renderings; this is the one place that picks
/// among them, so a new format is added once.
protocol Report {
  /// The JSON document (`"schema": "cmmio.<subcommand>/1"`).
  var json: JSONValue { get }
  /// The human-readable table, the default.
  var table: String { get }
  var markdown: String { get }
  var csv: String { get }
  /// OpenMetrics text, for the subcommands that have it (check-cap, verify, bench);
  /// the others refuse `--format openmetrics` before any work.
  var openMetrics: String? { get }
}

extension Report {
  var openMetrics: String? { nil }

  /// The report in `format`; JSON ends with a newline like the others.
  func rendered(_ format: OutputFormat) -> String {
    switch format {
    case .json: json.rendered() + "\n"
    case .table: table
    case .markdown: markdown
    case .csv: csv
    case .openmetrics: openMetrics ?? ""
    }
  }
}
