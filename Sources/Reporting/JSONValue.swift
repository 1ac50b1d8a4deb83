import Platform

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
    var out: [UInt8] = []
    out.reserveCapacity(1024)
    write(to: &out, pretty: pretty, indent: 0)
    return String(decoding: out, as: UTF8.self)
  }

  // Written into bytes, not a String: appending scalar by scalar to a String cost
  // more than the ioctls of a whole `check-cap` run.
  private func write(to out: inout [UInt8], pretty: Bool, indent: Int) {
    switch self {
    case .null: out.append(contentsOf: "null".utf8)
    case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
    case .int(let value): out.append(contentsOf: String(value).utf8)
    case .uint(let value): out.append(contentsOf: String(value).utf8)
    case .double(let value): out.append(contentsOf: Self.format(value).utf8)
    case .string(let value): Self.quote(value, into: &out)
    case .array(let items):
      out.append(UInt8(ascii: "["))
      for (i, item) in items.enumerated() {
        Self.separate(i, into: &out, pretty: pretty, indent: indent + 1)
        item.write(to: &out, pretty: pretty, indent: indent + 1)
      }
      Self.close(UInt8(ascii: "]"), empty: items.isEmpty, into: &out, pretty: pretty, indent: indent)
    case .object(let members):
      out.append(UInt8(ascii: "{"))
      for (i, (key, value)) in members.enumerated() {
        Self.separate(i, into: &out, pretty: pretty, indent: indent + 1)
        Self.quote(key, into: &out)
        out.append(UInt8(ascii: ":"))
        if pretty { out.append(UInt8(ascii: " ")) }
        value.write(to: &out, pretty: pretty, indent: indent + 1)
      }
      Self.close(UInt8(ascii: "}"), empty: members.isEmpty, into: &out, pretty: pretty, indent: indent)
    }
  }

  private static func separate(_ index: Int, into out: inout [UInt8], pretty: Bool, indent: Int) {
    if index > 0 { out.append(UInt8(ascii: ",")) }
    newline(into: &out, pretty: pretty, indent: indent)
  }

  private static func close(_ bracket: UInt8, empty: Bool, into out: inout [UInt8], pretty: Bool, indent: Int) {
    if !empty { newline(into: &out, pretty: pretty, indent: indent) }
    out.append(bracket)
  }

  private static func newline(into out: inout [UInt8], pretty: Bool, indent: Int) {
    guard pretty else { return }
    out.append(UInt8(ascii: "\n"))
    out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * 2))
  }

  /// Shortest text that reads back as the same double; integers keep a `.0`-free form.
  public static func format(_ value: Double) -> String {
    NumberFormat.shortest(value) ?? "null"
  }

  private static func quote(_ text: String, into out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
      case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
      case UInt8(ascii: "\n"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
      case UInt8(ascii: "\r"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
      case UInt8(ascii: "\t"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
      case 0..<0x20:
        let digits = Array("0123456789abcdef".utf8)
        out.append(contentsOf: Array("\\u00".utf8))
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0xF)])
      default: out.append(byte)
      }
    }
    out.append(UInt8(ascii: "\""))
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
