/// A plain-text table with aligned columns, for terminals and logs.
public struct TextTable: Sendable {
  public enum Alignment: Sendable { case left, right }

  public var headers: [String]
  public var alignments: [Alignment]
  public var rows: [[String]] = []

  public init(headers: [String], alignments: [Alignment]? = nil) {
    self.headers = headers
    self.alignments = alignments ?? headers.map { _ in .left }
  }

  public mutating func append(_ row: [String]) { rows.append(row) }

  /// The table, a header line, a rule, then one line per row; no trailing spaces.
  public func rendered() -> String {
    var widths = headers.map(\.count)
    for row in rows {
      for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
    }
    func line(_ cells: [String]) -> String {
      var parts: [String] = []
      for (i, width) in widths.enumerated() {
        let cell = i < cells.count ? cells[i] : ""
        let pad = String(repeating: " ", count: width - cell.count)
        parts.append(alignments[i] == .right ? pad + cell : cell + pad)
      }
      var text = parts.joined(separator: "  ")
      while text.last == " " { text.removeLast() }
      return text
    }
    var out = line(headers) + "\n"
    out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
    for row in rows { out += line(row) + "\n" }
    return out
  }

  /// The same table as GitHub-flavoured markdown.
  public func markdown() -> String {
    func escape(_ cell: String) -> String { cell.replacingAll("|", with: "\\|") }
    var out = "| " + headers.map(escape).joined(separator: " | ") + " |\n"
    out += "|" + alignments.map { $0 == .right ? " ---: |" : " --- |" }.joined() + "\n"
    for row in rows { out += "| " + row.map(escape).joined(separator: " | ") + " |\n" }
    return out
  }

  /// The same table as RFC 4180 CSV.
  public func csv() -> String {
    CSV.render(header: headers, rows: rows)
  }
}

/// RFC 4180 CSV: fields with commas, quotes or newlines are quoted, quotes doubled.
public enum CSV {
  public static func field(_ text: String) -> String {
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
    return "\"" + text.replacingAll("\"", with: "\"\"") + "\""
  }

  public static func render(header: [String], rows: [[String]]) -> String {
    var out = header.map(field).joined(separator: ",") + "\n"
    for row in rows { out += row.map(field).joined(separator: ",") + "\n" }
    return out
  }
}

extension String {
  /// Every occurrence of `target` replaced (no Foundation needed).
  public func replacingAll(_ target: Character, with replacement: String) -> String {
    var out = ""
    for character in self { if character == target { out += replacement } else { out.append(character) } }
    return out
  }
}
