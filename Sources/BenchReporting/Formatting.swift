import Platform

/// How numbers read for people (tables, markdown, the headline): the choice of decimals
/// and grouping, written by `NumberFormat`. Scripts read JSON and CSV, which keep every digit.
enum Human {
  /// Shown where a figure is missing or not a number.
  static let missing = "–"

  /// `value` with exactly `decimals` digits after the point and thousands grouped: 12,345.6.
  static func fixed(_ value: Double, _ decimals: Int, grouped: Bool = true) -> String {
    NumberFormat.fixed(value, decimals, grouped: grouped) ?? missing
  }

  /// A rate or a time: whole numbers from 100 up, one decimal below.
  static func amount(_ value: Double) -> String {
    fixed(value, abs(value) >= 100 ? 0 : 1)
  }

  /// A ratio such as a speedup: 8.9×, 1.19× (two decimals below 2, where they matter).
  static func times(_ value: Double) -> String {
    guard value.isFinite else { return missing }
    return fixed(value, abs(value) >= 2 ? 1 : 2, grouped: false) + "×"
  }

  /// Three significant digits: 1.00, 0.500, 0.00588; 0 stays 0.
  static func significant(_ value: Double) -> String {
    guard value.isFinite else { return missing }
    if value == 0 { return "0" }
    var decimals = 2
    var magnitude = abs(value)
    while magnitude < 1, decimals < 9 {
      magnitude *= 10
      decimals += 1
    }
    return fixed(value, decimals, grouped: false)
  }
}
