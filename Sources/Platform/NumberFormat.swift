/// How every layer writes a number into text, without Foundation: one place, so
/// messages, listings and reports agree.
public enum NumberFormat {
  /// `0x` and lowercase hex digits, no padding: 0x100000, 0x0.
  @inlinable
  public static func hex<T: BinaryInteger>(_ value: T) -> String { "0x" + String(value, radix: 16) }

  /// Hex digits alone, zero-padded to at least `width`: `digits(0xa, width: 2)` is `0a`.
  public static func digits<T: BinaryInteger>(_ value: T, width: Int, uppercase: Bool = false) -> String {
    let text = String(value, radix: 16, uppercase: uppercase)
    return String(repeating: "0", count: max(0, width - text.count)) + text
  }

  /// `value` with exactly `decimals` digits after the point, thousands grouped with `,`
  /// if asked (12,345.6; -0.3; 7); nil for NaN and the infinities, which each caller
  /// shows its own way.
  public static func fixed(_ value: Double, _ decimals: Int, grouped: Bool = false) -> String? {
    guard value.isFinite else { return nil }
    var scale: Int64 = 1
    for _ in 0..<max(0, decimals) { scale *= 10 }
    let scaled = (abs(value) * Double(scale)).rounded()
    guard scaled < 9e18 else { return "\(value)" }
    let digits = Int64(scaled)
    var whole = String(digits / scale)
    if grouped {
      var out = ""
      for (i, character) in whole.enumerated() {
        if i > 0, (whole.count - i) % 3 == 0 { out += "," }
        out.append(character)
      }
      whole = out
    }
    var out = (value < 0 && digits != 0 ? "-" : "") + whole
    if decimals > 0 {
      let fraction = String(digits % scale)
      out += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }
    return out
  }

  /// A compact decimal for a sentence: at most 3 decimals, no trailing `.0` (2.5, 10, 0.001).
  public static func compact(_ value: Double) -> String {
    guard value.isFinite, abs(value) < 1e15 else { return "\(value)" }
    let scaled = (value * 1000).rounded() / 1000
    if scaled == scaled.rounded() { return String(Int64(scaled)) }
    return "\(scaled)"
  }

  /// The shortest text that reads back as the same double, integers without `.0`;
  /// nil for NaN and the infinities, which JSON cannot hold.
  public static func shortest(_ value: Double) -> String? {
    guard value.isFinite else { return nil }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return "\(value)"
  }
}
