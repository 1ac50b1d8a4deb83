/// How a report is printed (`--format`).
public enum OutputFormat: String, Sendable, CaseIterable {
  case table, json, csv, markdown
  /// OpenMetrics text for Prometheus (check-cap, verify and bench only).
  case openmetrics
}
