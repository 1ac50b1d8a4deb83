/// Several SVG documents one above the other in one document, each kept whole as a nested
/// `<svg>` (its own coordinates, title and description), left-aligned.
public enum SVGStack {
  /// `documents` stacked top to bottom. Each must start (after an optional XML declaration)
  /// with an `<svg` tag carrying numeric `width` and `height`; one that does not is left out.
  public static func vertical(_ documents: [String]) -> String {
    var parts: [(body: Substring, width: Int, height: Int)] = []
    for document in documents {
      guard let start = document.firstRange(of: "<svg") else { continue }
      let body = document[start.lowerBound...]
      guard let tagEnd = body.firstIndex(of: ">") else { continue }
      let tag = body[..<tagEnd]
      guard let width = attribute("width", in: tag), let height = attribute("height", in: tag) else { continue }
      parts.append((body, width, height))
    }
    let width = parts.map(\.width).max() ?? 0
    let height = parts.reduce(0) { $0 + $1.height }
    var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    out += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(width)\" height=\"\(height)\" "
    out += "viewBox=\"0 0 \(width) \(height)\">\n"
    out += "<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"#ffffff\"/>\n"
    var top = 0
    for part in parts {
      // The nested document placed at its offset: `<svg y="top" …`.
      out += "<svg y=\"\(top)\"" + part.body.dropFirst(4)
      if !part.body.hasSuffix("\n") { out += "\n" }
      top += part.height
    }
    out += "</svg>\n"
    return out
  }

  /// The integer value of `name="…"` in a start tag.
  private static func attribute(_ name: String, in tag: Substring) -> Int? {
    guard let range = tag.firstRange(of: " \(name)=\"") else { return nil }
    let value = tag[range.upperBound...].prefix { $0 != "\"" }
    return Int(value)
  }
}
