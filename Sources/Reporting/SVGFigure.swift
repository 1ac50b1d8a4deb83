/// A chart that can stand alone or sit in an `SVGFigure` beside others.
public protocol SVGPanel: Sendable {
  /// The chart as one `<svg>` element placed at (x, y), and its size.
  func element(x: Int, y: Int) -> (text: String, width: Int, height: Int)
}

/// Several charts side by side or one above the other in one self-contained SVG document,
/// with a stamp under them (what made the figure and when), so a saved image says where it
/// came from.
public struct SVGFigure: Sendable {
  /// How the panels are placed: left to right, or top to bottom (left-aligned).
  public enum Layout: Sendable {
    case row
    case column
  }

  /// For screen readers and the document's `<title>`.
  public var title: String
  public var panels: [any SVGPanel]
  public var layout: Layout
  /// One line at the bottom right, such as "cmmio 0.1.0, commit 1a2b3c4d5e6f, 2026-11-30T06:40:00Z".
  public var stamp: String?

  public init(title: String, panels: [any SVGPanel], layout: Layout = .row, stamp: String? = nil) {
    self.title = title
    self.panels = panels
    self.layout = layout
    self.stamp = stamp
  }

  /// The document, starting with the XML declaration: the panels in their layout, then the stamp.
  public func rendered() -> String {
    var elements: [String] = []
    var width = 0
    var height = 0
    for panel in panels {
      switch layout {
      case .row:
        let (text, panelWidth, panelHeight) = panel.element(x: width, y: 0)
        elements.append(text)
        width += panelWidth
        height = max(height, panelHeight)
      case .column:
        let (text, panelWidth, panelHeight) = panel.element(x: 0, y: height)
        elements.append(text)
        width = max(width, panelWidth)
        height += panelHeight
      }
    }
    width = max(width, 480)
    height = max(height, 120)
    let stampHeight = stamp == nil ? 0 : 24
    let total = height + stampHeight
    var svg = SVGWriter()
    svg.open(
      "svg",
      [
        ("xmlns", "http://www.w3.org/2000/svg"), ("version", "1.1"), ("width", "\(width)"), ("height", "\(total)"),
        ("viewBox", "0 0 \(width) \(total)"), ("role", "img"), ("aria-label", title),
        ("font-family", "DejaVu Sans, Verdana, Arial, sans-serif"),
      ])
    svg.element("title", text: title)
    svg.element("rect", [("x", "0"), ("y", "0"), ("width", "\(width)"), ("height", "\(total)"), ("fill", "#ffffff")])
    for element in elements { svg.raw(element) }
    if let stamp {
      svg.element(
        "text",
        [
          ("x", "\(width - 16)"), ("y", "\(total - 8)"), ("text-anchor", "end"), ("font-size", "11"),
          ("fill", "#666666"), ("class", "stamp"),
        ],
        text: stamp)
    }
    svg.close("svg")
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svg.text
  }
}

extension SVGWriter {
  /// An element written elsewhere (a panel), inserted as it is.
  mutating func raw(_ text: String) {
    self.text += text
  }
}
