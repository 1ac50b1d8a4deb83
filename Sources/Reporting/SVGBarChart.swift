/// A horizontal bar chart: one bar per measured configuration, from zero, with its
/// run-to-run spread (low to high) drawn across the bar's end and its value written beside
/// it. For a single setting, where a line through one point would say nothing.
public struct SVGBarChart: SVGPanel {
  public struct Bar: Sendable, Equatable {
    public var name: String
    public var value: Double
    public var low: Double?
    public var high: Double?
    /// The colour of the line chart's series at this index; nil for grey (levels such as
    /// the RAM floor or plain exits).
    public var seriesColour: Int?

    public init(name: String, value: Double, low: Double? = nil, high: Double? = nil, seriesColour: Int? = nil) {
      self.name = name
      self.value = value
      self.low = low
      self.high = high
      self.seriesColour = seriesColour
    }
  }

  public var title: String
  public var subtitles: [String]
  /// What the bars measure, with units, under the value axis.
  public var valueLabel: String
  public var bars: [Bar]
  /// The smallest width; long names widen the image rather than squeeze the bars.
  public var width: Int

  public init(title: String, subtitles: [String] = [], valueLabel: String, bars: [Bar], width: Int = 960) {
    self.title = title
    self.subtitles = subtitles
    self.valueLabel = valueLabel
    self.bars = bars
    self.width = width
  }

  static let barHeight = 26.0
  static let barGap = 16.0

  /// The document, starting with the XML declaration.
  public func rendered() -> String {
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + element(x: 0, y: 0).text
  }

  public func element(x: Int, y: Int) -> (text: String, width: Int, height: Int) {
    let drawn = bars.filter { $0.value.isFinite }
    // Names sit left of the bars (about 7 px a character at 12 px); values right of them.
    let nameWidth = max(100, Double(drawn.map(\.name.count).max() ?? 0) * 7 + 16)
    let width = max(self.width, Int((nameWidth + 24 + 520 + 110).rounded(.up)))
    let top = 70 + 17 * Double(max(0, subtitles.count - 1))
    let rows = Double(max(1, drawn.count))
    let plot = (
      left: 24 + nameWidth, right: Double(width) - 110, top: top,
      bottom: top + rows * (Self.barHeight + Self.barGap) + 8
    )
    let height = Int((plot.bottom + 64).rounded(.up))

    let values = drawn.flatMap { [$0.value, $0.low ?? $0.value, $0.high ?? $0.value] }.filter(\.isFinite)
    let highest = max(values.max() ?? 1, 0) > 0 ? (values.max() ?? 1) : 1
    let step = SVGNumber.niceStep(highest / 6)
    let end = ((highest * 1.04) / step).rounded(.up) * step
    func xPosition(_ value: Double) -> Double { plot.left + max(0, value) / end * (plot.right - plot.left) }

    var svg = SVGWriter()
    svg.open(
      "svg",
      [
        ("xmlns", "http://www.w3.org/2000/svg"), ("version", "1.1"), ("x", "\(x)"), ("y", "\(y)"),
        ("width", "\(width)"), ("height", "\(height)"), ("viewBox", "0 0 \(width) \(height)"), ("role", "img"),
        ("aria-label", title), ("font-family", "DejaVu Sans, Verdana, Arial, sans-serif"),
      ])
    svg.element("title", text: title)
    svg.element(
      "desc",
      text: "\(valueLabel): "
        + drawn.map { "\($0.name) \(SVGNumber.plain($0.value))" }.joined(separator: "; "))
    svg.element("rect", [("x", "0"), ("y", "0"), ("width", "\(width)"), ("height", "\(height)"), ("fill", "#ffffff")])
    svg.element(
      "text", [("x", "24"), ("y", "32"), ("font-size", "19"), ("font-weight", "bold"), ("fill", "#111111")],
      text: title)
    for (i, line) in subtitles.enumerated() {
      svg.element("text", [("x", "24"), ("y", "\(54 + 17 * i)"), ("font-size", "13"), ("fill", "#444444")], text: line)
    }

    // The value axis: ticks from zero (rates start at zero: a cut axis exaggerates).
    svg.open("g", [("id", "axes"), ("font-size", "12"), ("fill", "#333333")])
    var tick = 0.0
    var count = 0
    while tick <= end + step / 2, count < 50 {
      let position = SVGNumber.fixed(xPosition(tick), 1)
      svg.element(
        "line",
        [
          ("x1", position), ("x2", position), ("y1", SVGNumber.fixed(plot.top, 1)),
          ("y2", SVGNumber.fixed(plot.bottom, 1)), ("stroke", "#e3e3e3"), ("stroke-width", "1"),
        ])
      svg.element(
        "text", [("x", position), ("y", SVGNumber.fixed(plot.bottom + 18, 1)), ("text-anchor", "middle")],
        text: SVGNumber.tick(tick, step: step))
      tick += step
      count += 1
    }
    svg.frame(left: plot.left, top: plot.top, right: plot.right, bottom: plot.bottom, label: valueLabel)
    svg.close("g")

    if drawn.isEmpty {
      svg.element(
        "text",
        [
          ("x", SVGNumber.fixed((plot.left + plot.right) / 2, 1)), ("y", SVGNumber.fixed(plot.top + 24, 1)),
          ("text-anchor", "middle"), ("font-size", "14"), ("fill", "#666666"),
        ],
        text: "nothing was measured")
    }
    for (i, bar) in drawn.enumerated() {
      let colour = bar.seriesColour.map { SVGLineChart.palette[$0 % SVGLineChart.palette.count] } ?? "#9a9a9a"
      let top = plot.top + 8 + Double(i) * (Self.barHeight + Self.barGap)
      let middle = top + Self.barHeight / 2
      svg.open("g", [("class", "bar")])
      svg.element(
        "text",
        [
          ("x", SVGNumber.fixed(plot.left - 8, 1)), ("y", SVGNumber.fixed(middle + 4, 1)), ("text-anchor", "end"),
          ("font-size", "12"), ("fill", "#222222"),
        ],
        text: bar.name)
      svg.element(
        "rect",
        [
          ("x", SVGNumber.fixed(plot.left, 1)), ("y", SVGNumber.fixed(top, 1)),
          ("width", SVGNumber.fixed(xPosition(bar.value) - plot.left, 1)),
          ("height", SVGNumber.fixed(Self.barHeight, 1)), ("fill", colour), ("fill-opacity", "0.85"),
        ])
      var labelEnd = xPosition(bar.value)
      if let low = bar.low, let high = bar.high, low.isFinite, high.isFinite, high > low {
        // The spread: a shaded span from low to high with end caps, across the bar's end.
        let from = xPosition(low)
        let to = xPosition(high)
        svg.element(
          "rect",
          [
            ("x", SVGNumber.fixed(from, 1)), ("y", SVGNumber.fixed(top - 3, 1)),
            ("width", SVGNumber.fixed(to - from, 1)), ("height", SVGNumber.fixed(Self.barHeight + 6, 1)),
            ("fill", "#000000"), ("fill-opacity", "0.18"), ("class", "spread"),
          ])
        let path =
          "M\(SVGNumber.fixed(from, 1)) \(SVGNumber.fixed(middle, 1))H\(SVGNumber.fixed(to, 1))"
          + "M\(SVGNumber.fixed(from, 1)) \(SVGNumber.fixed(top - 3, 1))v\(SVGNumber.fixed(Self.barHeight + 6, 1))"
          + "M\(SVGNumber.fixed(to, 1)) \(SVGNumber.fixed(top - 3, 1))v\(SVGNumber.fixed(Self.barHeight + 6, 1))"
        svg.element("path", [("d", path), ("fill", "none"), ("stroke", "#222222"), ("stroke-width", "1.2")])
        labelEnd = max(labelEnd, to)
      }
      svg.element(
        "text",
        [
          ("x", SVGNumber.fixed(labelEnd + 6, 1)), ("y", SVGNumber.fixed(middle + 4, 1)), ("font-size", "12"),
          ("fill", "#222222"),
        ],
        text: SVGNumber.tick(bar.value, step: SVGNumber.niceStep(highest / 1000)))
      svg.close("g")
    }
    svg.close("svg")
    return (svg.text, width, height)
  }
}
