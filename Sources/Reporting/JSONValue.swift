/// A JSON document with ordered keys, written without Foundation (keeps start-up fast
/// and output byte-stable for scripts and tests).
public indirect enum JSONValue: Sendable, Equatable {
  case null
  case bool(Bool)
  case int(Int64)
  case uint(UInt64)
  /// Non-finite values are written as `null`: JSON has no NaN or infinity.
  case double(Double)
  case string(String)
  case array([JSONValue])
  case object([(String, JSONValue)])

  public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
    lhs.rendered(pretty: false) == rhs.rendered(pretty: false)
  }

  /// Convenience for integers of any width.
  public static func integer<T: BinaryInteger>(_ value: T) -> JSONValue {
    if let signed = Int64(exactly: value) { return .int(signed) }
    return .uint(UInt64(value))
  }

  /// `nil` becomes `null`.
  public static func optional(_ value: JSONValue?) -> JSONValue { value ?? .null }

  /// The member named `key` of an object.
  public subscript(key: String) -> JSONValue? {
    guard case .object(let members) = self else { return nil }
    return members.first { $0.0 == key }?.1
  }

  /// The document as text; `pretty` indents by two spaces, one member per line.
  public func rendered(pretty: Bool = true) -> String {
    var out = ""
    write(to: &out, pretty: pretty, indent: 0)
    return out
  }

  private func write(to out: inout String, pretty: Bool, indent: Int) {
    switch self {
    case .null: out += "null"
    case .bool(let value): out += value ? "true" : "false"
    case .int(let value): out += String(value)
    case .uint(let value): out += String(value)
    case .double(let value): out += Self.format(value)
    case .string(let value): Self.quote(value, into: &out)
    case .array(let items):
      writeContainer(items.map { (nil, $0) }, open: "[", close: "]", to: &out, pretty: pretty, indent: indent)
    case .object(let members):
      writeContainer(members.map { ($0.0, $0.1) }, open: "{", close: "}", to: &out, pretty: pretty, indent: indent)
    }
  }

  private func writeContainer(
    _ items: [(String?, JSONValue)], open: String, close: String, to out: inout String, pretty: Bool, indent: Int
  ) {
    out += open
    guard !items.isEmpty else {
      out += close
      return
    }
    let inner = String(repeating: " ", count: (indent + 1) * 2)
    for (i, (key, value)) in items.enumerated() {
      if i > 0 { out += "," }
      if pretty { out += "\n" + inner }
      if let key {
        Self.quote(key, into: &out)
        out += pretty ? ": " : ":"
      }
      value.write(to: &out, pretty: pretty, indent: indent + 1)
    }
    if pretty { out += "\n" + String(repeating: " ", count: indent * 2) }
    out += close
  }

  /// Shortest text that reads back as the same double; integers keep a `.0`-free form.
  public static func format(_ value: Double) -> String {
    guard value.isFinite else { return "null" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return "\(value)"
  }

  private static func quote(_ text: String, into out: inout String) {
    out += "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20:
        let hex = String(scalar.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: out.unicodeScalars.append(scalar)
      }
    }
    out += "\""
  }

  /// Leaves of the document as (dotted path, scalar text) pairs, arrays indexed
  /// (`features.coalesced_mmio.supported`, `host.numa_nodes.0.node`): what a
  /// key-value CSV or markdown rendering of any report shows.
  public func flattened(prefix: String = "") -> [(String, String)] {
    func join(_ key: String) -> String { prefix.isEmpty ? key : prefix + "." + key }
    switch self {
    case .object(let members): return members.flatMap { $0.1.flattened(prefix: join($0.0)) }
    case .array(let items): return items.enumerated().flatMap { $0.element.flattened(prefix: join(String($0.offset))) }
    case .string(let value): return [(prefix, value)]
    default: return [(prefix, rendered(pretty: false))]
    }
  }
}
