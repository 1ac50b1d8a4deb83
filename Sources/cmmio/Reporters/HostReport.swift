import BenchReporting
import KVM
import Reporting

extension Host {
  /// The `host` object every report carries; the shape lives in BenchReporting so
  /// check-cap and bench print it identically.
  var json: JSONValue { reportJSON }

  /// One line naming the machine, for the foot of tables.
  var summary: String { reportSummary }
}

/// Renders a key-value report in the non-JSON formats: CSV and markdown list every
/// leaf of the JSON document by its dotted path, so nothing is lost in either.
func renderKeyValues(_ document: JSONValue, as format: OutputFormat) -> String {
  var table = TextTable(headers: ["key", "value"])
  for (key, value) in document.flattened() { table.append([key, value]) }
  switch format {
  case .csv: return table.csv()
  case .markdown: return table.markdown()
  default: return table.rendered()
  }
}
