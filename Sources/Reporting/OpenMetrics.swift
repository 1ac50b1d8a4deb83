import Platform

/// OpenMetrics text (the exposition format Prometheus scrapes), gauges only: a report's
/// figures as metric families, each with `# TYPE`, `# UNIT` where the name ends in a unit,
/// `# HELP`, its samples, and `# EOF` at the end.
///
/// Gauges only, no timestamps: Prometheus' older text parser (node_exporter's textfile
/// collector) reads the same text, taking `# UNIT` and `# EOF` as comments.
public struct MetricFamily: Sendable {
  public struct Sample: Sendable {
    public var labels: [(String, String)]
    public var value: Double

    public init(labels: [(String, String)], value: Double) {
      self.labels = labels
      self.value = value
    }
  }

  /// `[a-zA-Z_:][a-zA-Z0-9_:]*`; ends with `_` + `unit` when there is a unit.
  public var name: String
  public var help: String
  /// The unit the name ends in (`seconds`, `nanoseconds`, `bytes`), or nil.
  public var unit: String?
  public var samples: [Sample]

  public init(name: String, help: String, unit: String? = nil, samples: [Sample] = []) {
    self.name = name
    self.help = help
    self.unit = unit
    self.samples = samples
  }

  /// Adds a sample; a value that is not finite (a figure never measured) is left out,
  /// as JSON writes it null.
  public mutating func add(_ value: Double, _ labels: [(String, String)]) {
    guard value.isFinite else { return }
    samples.append(Sample(labels: labels, value: value))
  }
}

public enum OpenMetrics {
  /// The families as one exposition, ending with `# EOF`. Families without samples are
  /// left out (a family must not be empty where Prometheus' text parser reads it).
  public static func render(_ families: [MetricFamily]) -> String {
    var out = ""
    for family in families where !family.samples.isEmpty {
      out += "# TYPE \(family.name) gauge\n"
      if let unit = family.unit { out += "# UNIT \(family.name) \(unit)\n" }
      out += "# HELP \(family.name) \(escapeHelp(family.help))\n"
      for sample in family.samples {
        out += family.name
        if !sample.labels.isEmpty {
          out += "{" + sample.labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
        }
        out += " " + number(sample.value) + "\n"
      }
    }
    return out + "# EOF\n"
  }

  /// `NumberFormat.shortest`: integers without a point, others in the shortest
  /// round-trip form (`0.00588`, `1e-05`), both valid OpenMetrics numbers; `NaN` and
  /// `+Inf`/`-Inf` as OpenMetrics spells them (`add` leaves them out anyway).
  public static func number(_ value: Double) -> String {
    if let text = NumberFormat.shortest(value) { return text }
    return value.isNaN ? "NaN" : value > 0 ? "+Inf" : "-Inf"
  }

  /// Label values escape `\`, `"` and newline (OpenMetrics §escaping).
  public static func escapeLabel(_ text: String) -> String { escape(text, quote: "\\\"") }

  /// HELP text: `\` and newline escaped, `"` written as `'` (OpenMetrics wants it escaped,
  /// Prometheus' text parser refuses `\"` there, so neither form would suit both).
  static func escapeHelp(_ text: String) -> String { escape(text, quote: "'") }

  /// `\` and newline escaped, `"` written as `quote`.
  private static func escape(_ text: String, quote: String) -> String {
    var out = ""
    for character in text.unicodeScalars {
      switch character {
      case "\\": out += "\\\\"
      case "\"": out += quote
      case "\n": out += "\\n"
      default: out.unicodeScalars.append(character)
      }
    }
    return out
  }

  /// A name part from free text: lower-case letters, digits and `_` (`coalesced-mmio` → `coalesced_mmio`).
  public static func nameFragment(_ text: String) -> String {
    String(
      text.lowercased().unicodeScalars.map { scalar -> Character in
        ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) ? Character(scalar) : "_"
      })
  }
}
