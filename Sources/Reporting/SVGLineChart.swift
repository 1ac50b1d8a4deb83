import Platform

/// A line chart as one self-contained SVG document: no external fonts, stylesheets or
/// scripts, white background, so it opens the same in a browser, an image viewer or a
/// converter, and reads without the report it came from (title, labelled axes with
/// units, ticks, a legend).
public struct SVGLineChart: SVGPanel {
  /// How x values are placed along the axis.
  public enum Scale: Sendable, Equatable {
    case linear
    /// Equal distance per doubling; ticks at powers of two. Non-positive x are left out.
    case log2
  }

  /// One measured point; `error` draws a vertical bar of ± that much; `low` and `high`
  /// (the run-to-run spread) are shaded as a band around the line.
  public struct Point: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var error: Double?
    public var low: Double?
    public var high: Double?

    public init(x: Double, y: Double, error: Double? = nil, low: Double? = nil, high: Double? = nil) {
      self.x = x
      self.y = y
      self.error = error
      self.low = low
      self.high = high
    }
  }

  /// One line: a polyline through its points in x order, with a marker at each.
  public struct Series: Sendable, Equatable {
    public var name: String
    public var points: [Point]

    public init(name: String, points: [Point]) {
      self.name = name
      self.points = points
    }
  }

  /// How a reference line is drawn.
  public enum LineStyle: Sendable, Equatable {
    case dashed, dotted, dashDotted

    var dashArray: String {
      switch self {
      case .dashed: return "9 5"
      case .dotted: return "2 4"
      case .dashDotted: return "12 4 2 4"
      }
    }
  }

  /// A horizontal line at a level the series are judged against, labelled with its value;
  /// `low` and `high` (its run-to-run spread) are shaded as a band across the plot.
  public struct Reference: Sendable, Equatable {
    public var name: String
    public var y: Double
    public var style: LineStyle
    /// Draw it in the colour of the series at this index (the level that series is
    /// judged against); nil for grey.
    public var seriesColour: Int?
    public var low: Double?
    public var high: Double?

    public init(
      name: String, y: Double, style: LineStyle = .dashed, seriesColour: Int? = nil, low: Double? = nil,
      high: Double? = nil
    ) {
      self.name = name
      self.y = y
      self.style = style
      self.seriesColour = seriesColour
      self.low = low
      self.high = high
    }
  }

  public var title: String
  /// Smaller lines under the title (where the figures come from).
  public var subtitles: [String]
  public var xLabel: String
  public var yLabel: String
  public var xScale: Scale
  /// The x extent to show; nil fits the series' points.
  public var xDomain: ClosedRange<Double>?
  public var series: [Series]
  public var references: [Reference]
  /// The smallest width; a long legend widens the image rather than squeezing the plot.
  public var width: Int
  public var height: Int

  public init(
    title: String, subtitles: [String] = [], xLabel: String, yLabel: String, xScale: Scale = .linear,
    xDomain: ClosedRange<Double>? = nil, series: [Series], references: [Reference] = [], width: Int = 960,
    height: Int = 600
  ) {
    self.title = title
    self.subtitles = subtitles
    self.xLabel = xLabel
    self.yLabel = yLabel
    self.xScale = xScale
    self.xDomain = xDomain
    self.series = series
    self.references = references
    self.width = width
    self.height = height
  }

  /// Line colours, distinguishable in colour and in grey.
  static let palette = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
  ]
  /// Reference lines of no series: greys.
  static let greys = ["#444444", "#888888"]

  /// The colour and dash pattern of reference `index`.
  func referenceStroke(_ index: Int) -> (colour: String, dash: String) {
    let reference = references[index]
    let colour = reference.seriesColour.map { Self.palette[$0 % Self.palette.count] } ?? Self.greys[index % 2]
    return (colour, reference.style.dashArray)
  }

  /// The document, starting with the XML declaration.
  public func rendered() -> String {
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + element(x: 0, y: 0).text
  }

  /// The chart as one `<svg>` element at (x, y): a document of its own, or a panel of an `SVGFigure`.
  public func element(x: Int, y: Int) -> (text: String, width: Int, height: Int) {
    let layout = Layout(chart: self)
    let width = layout.width
    var svg = SVGWriter()
    svg.open(
      "svg",
      [
        ("xmlns", "http://www.w3.org/2000/svg"), ("version", "1.1"), ("x", "\(x)"), ("y", "\(y)"),
        ("width", "\(width)"), ("height", "\(height)"), ("viewBox", "0 0 \(width) \(height)"), ("role", "img"),
        ("aria-label", title), ("font-family", "DejaVu Sans, Verdana, Arial, sans-serif"),
      ])
    svg.element("title", text: title)
    svg.element("desc", text: description)
    svg.element("rect", [("x", "0"), ("y", "0"), ("width", "\(width)"), ("height", "\(height)"), ("fill", "#ffffff")])
    drawHeading(&svg, width: width)
    drawAxes(&svg, layout)
    drawReferences(&svg, layout)
    drawSeries(&svg, layout)
    drawLegend(&svg, layout)
    svg.close("svg")
    return (svg.text, width, height)
  }

  /// The data in words, for screen readers and for anyone reading the source.
  private var description: String {
    var parts: [String] = []
    for line in series {
      let points = line.points.filter { $0.x.isFinite && $0.y.isFinite }.map {
        "(\(SVGNumber.plain($0.x)), \(SVGNumber.plain($0.y)))"
      }
      parts.append("\(line.name): " + points.joined(separator: " "))
    }
    for reference in references where reference.y.isFinite {
      parts.append("\(reference.name): \(SVGNumber.plain(reference.y))")
    }
    return "\(yLabel) against \(xLabel). " + parts.joined(separator: "; ")
  }

  private func drawHeading(_ svg: inout SVGWriter, width: Int) {
    // A heading longer than the image (a long CPU model or kernel release) is squeezed
    // to fit rather than cut off; about 0.58 em per character (DejaVu Sans) is assumed.
    let room = Double(width - 48)
    func fit(_ text: String, size: Double) -> [(String, String)] {
      guard Double(text.count) * size * 0.58 > room else { return [] }
      return [("textLength", SVGNumber.fixed(room, 0)), ("lengthAdjust", "spacingAndGlyphs")]
    }
    svg.element(
      "text",
      [("x", "24"), ("y", "32"), ("font-size", "19"), ("font-weight", "bold"), ("fill", "#111111")]
        + fit(title, size: 19),
      text: title)
    for (i, line) in subtitles.enumerated() {
      svg.element(
        "text",
        [("x", "24"), ("y", "\(54 + 17 * i)"), ("font-size", "13"), ("fill", "#444444")] + fit(line, size: 13),
        text: line)
    }
  }

  private func drawAxes(_ svg: inout SVGWriter, _ layout: Layout) {
    let plot = layout.plot
    svg.open("g", [("id", "axes"), ("font-size", "12"), ("fill", "#333333")])
    for tick in layout.yTicks {
      let y = SVGNumber.fixed(layout.yPosition(tick), 1)
      svg.element(
        "line",
        [
          ("x1", SVGNumber.fixed(plot.left, 1)), ("x2", SVGNumber.fixed(plot.right, 1)), ("y1", y), ("y2", y),
          ("stroke", "#e3e3e3"), ("stroke-width", "1"),
        ])
      svg.element(
        "text",
        [("x", SVGNumber.fixed(plot.left - 8, 1)), ("y", y), ("dy", "4"), ("text-anchor", "end")],
        text: SVGNumber.tick(tick, step: layout.yStep))
    }
    for tick in layout.xTicks {
      let x = SVGNumber.fixed(layout.xPosition(tick), 1)
      svg.element(
        "line",
        [
          ("x1", x), ("x2", x), ("y1", SVGNumber.fixed(plot.top, 1)), ("y2", SVGNumber.fixed(plot.bottom, 1)),
          ("stroke", "#efefef"), ("stroke-width", "1"),
        ])
      svg.element(
        "line",
        [
          ("x1", x), ("x2", x), ("y1", SVGNumber.fixed(plot.bottom, 1)), ("y2", SVGNumber.fixed(plot.bottom + 5, 1)),
          ("stroke", "#333333"), ("stroke-width", "1"),
        ])
      svg.element(
        "text", [("x", x), ("y", SVGNumber.fixed(plot.bottom + 20, 1)), ("text-anchor", "middle")],
        text: SVGNumber.plain(tick))
    }
    svg.frame(left: plot.left, top: plot.top, right: plot.right, bottom: plot.bottom, label: xLabel)
    let middle = SVGNumber.fixed((plot.top + plot.bottom) / 2, 1)
    svg.element(
      "text",
      [
        ("x", "22"), ("y", middle), ("text-anchor", "middle"), ("font-size", "14"), ("fill", "#111111"),
        ("transform", "rotate(-90 22 \(middle))"),
      ],
      text: yLabel)
    svg.close("g")
  }

  private func drawReferences(_ svg: inout SVGWriter, _ layout: Layout) {
    guard !references.isEmpty else { return }
    let plot = layout.plot
    svg.open("g", [("id", "references"), ("font-size", "11")])
    // Labels sit just above their line; where lines are close, each label is pushed up
    // clear of the one below it rather than printed over it.
    var labelFloor = Double.infinity
    let order = references.indices.filter { references[$0].y.isFinite }.sorted { references[$0].y < references[$1].y }
    for i in order {
      let reference = references[i]
      let (colour, dash) = referenceStroke(i)
      let y = layout.yPosition(reference.y)
      // Levels' spreads in grey, so they are not read as a line's band.
      if let low = reference.low, let high = reference.high, low.isFinite, high.isFinite, high > low {
        let top = layout.yPosition(high)
        svg.element(
          "rect",
          [
            ("x", SVGNumber.fixed(plot.left, 1)), ("y", SVGNumber.fixed(top, 1)),
            ("width", SVGNumber.fixed(plot.right - plot.left, 1)),
            ("height", SVGNumber.fixed(layout.yPosition(low) - top, 1)), ("fill", "#7f7f7f"), ("fill-opacity", "0.13"),
            ("class", "spread"),
          ])
      }
      svg.element(
        "line",
        [
          ("x1", SVGNumber.fixed(plot.left, 1)), ("x2", SVGNumber.fixed(plot.right, 1)),
          ("y1", SVGNumber.fixed(y, 1)), ("y2", SVGNumber.fixed(y, 1)), ("stroke", colour), ("stroke-width", "1.6"),
          ("stroke-dasharray", dash),
        ])
      let labelY = min(y - 5, labelFloor - 13)
      labelFloor = labelY
      svg.element(
        "text",
        [
          ("x", SVGNumber.fixed(plot.right - 4, 1)), ("y", SVGNumber.fixed(labelY, 1)), ("text-anchor", "end"),
          ("fill", colour),
        ],
        text: "\(reference.name): \(SVGNumber.tick(reference.y, step: layout.yStep / 10))")
    }
    svg.close("g")
  }

  private func drawSeries(_ svg: inout SVGWriter, _ layout: Layout) {
    for (i, line) in series.enumerated() {
      let colour = Self.palette[i % Self.palette.count]
      let points = layout.placeable(line.points)
      svg.open("g", [("class", "series"), ("stroke", colour), ("fill", colour)])
      // The spread: a band through each point's high, back through each point's low.
      let spread = points.filter { ($0.low?.isFinite ?? false) && ($0.high?.isFinite ?? false) }
      if spread.count >= 2 {
        let upper = spread.map {
          SVGNumber.fixed(layout.xPosition($0.x), 1) + "," + SVGNumber.fixed(layout.yPosition($0.high ?? $0.y), 1)
        }
        let lower = spread.reversed().map {
          SVGNumber.fixed(layout.xPosition($0.x), 1) + "," + SVGNumber.fixed(layout.yPosition($0.low ?? $0.y), 1)
        }
        svg.element(
          "polygon",
          [
            ("points", (upper + lower).joined(separator: " ")), ("stroke", "none"), ("fill-opacity", "0.15"),
            ("class", "spread"),
          ])
      }
      let coordinates = points.map {
        SVGNumber.fixed(layout.xPosition($0.x), 1) + "," + SVGNumber.fixed(layout.yPosition($0.y), 1)
      }
      svg.element(
        "polyline",
        [
          ("points", coordinates.joined(separator: " ")), ("fill", "none"), ("stroke-width", "2.2"),
          ("stroke-linejoin", "round"),
        ])
      for point in points {
        let x = layout.xPosition(point.x)
        if let error = point.error, error.isFinite, error > 0 {
          let low = SVGNumber.fixed(layout.yPosition(point.y - error), 1)
          let high = SVGNumber.fixed(layout.yPosition(point.y + error), 1)
          let centre = SVGNumber.fixed(x, 1)
          let path =
            "M\(centre) \(low)V\(high)M\(SVGNumber.fixed(x - 3, 1)) \(low)h6M\(SVGNumber.fixed(x - 3, 1)) \(high)h6"
          svg.element("path", [("d", path), ("fill", "none"), ("stroke-width", "1"), ("stroke-opacity", "0.7")])
        }
        svg.element(
          "circle",
          [
            ("cx", SVGNumber.fixed(x, 1)), ("cy", SVGNumber.fixed(layout.yPosition(point.y), 1)), ("r", "3.5"),
            ("stroke", "#ffffff"), ("stroke-width", "1"),
          ])
      }
      svg.close("g")
    }
  }

  private func drawLegend(_ svg: inout SVGWriter, _ layout: Layout) {
    let entries = series.count + references.count
    guard entries > 0 else { return }
    let x = layout.plot.right + 24
    var y = layout.plot.top + 6
    svg.open("g", [("id", "legend"), ("font-size", "12"), ("fill", "#222222")])
    svg.element(
      "text", [("x", SVGNumber.fixed(x, 1)), ("y", SVGNumber.fixed(y, 1)), ("font-weight", "bold")], text: "Legend")
    y += 20
    for (i, line) in series.enumerated() {
      let colour = Self.palette[i % Self.palette.count]
      svg.element(
        "line",
        [
          ("x1", SVGNumber.fixed(x, 1)), ("x2", SVGNumber.fixed(x + 26, 1)), ("y1", SVGNumber.fixed(y - 4, 1)),
          ("y2", SVGNumber.fixed(y - 4, 1)), ("stroke", colour), ("stroke-width", "2.2"),
        ])
      svg.element(
        "circle",
        [("cx", SVGNumber.fixed(x + 13, 1)), ("cy", SVGNumber.fixed(y - 4, 1)), ("r", "3.5"), ("fill", colour)])
      svg.element("text", [("x", SVGNumber.fixed(x + 34, 1)), ("y", SVGNumber.fixed(y, 1))], text: line.name)
      y += 20
    }
    for (i, reference) in references.enumerated() {
      let (colour, dash) = referenceStroke(i)
      svg.element(
        "line",
        [
          ("x1", SVGNumber.fixed(x, 1)), ("x2", SVGNumber.fixed(x + 26, 1)), ("y1", SVGNumber.fixed(y - 4, 1)),
          ("y2", SVGNumber.fixed(y - 4, 1)), ("stroke", colour), ("stroke-width", "1.6"), ("stroke-dasharray", dash),
        ])
      svg.element("text", [("x", SVGNumber.fixed(x + 34, 1)), ("y", SVGNumber.fixed(y, 1))], text: reference.name)
      y += 20
    }
    svg.close("g")
  }
}

/// Where things go: the plot rectangle, the domains and the ticks.
private struct Layout {
  struct Rect {
    var left, top, right, bottom: Double
  }

  /// The image's width: the chart's, or more for a long legend.
  var width: Int
  var plot: Rect
  var scale: SVGLineChart.Scale
  var xMin, xMax: Double
  var yMin, yMax: Double
  var yStep: Double
  var yTicks: [Double]
  var xTicks: [Double]

  init(chart: SVGLineChart) {
    let scale = chart.xScale
    self.scale = scale
    // The legend's width follows its longest name (about 7 px a character at 12 px).
    let names = chart.series.map(\.name) + chart.references.map(\.name)
    let legendWidth = max(120, Double(names.map(\.count).max() ?? 0) * 7 + 60)
    width = max(chart.width, Int((86 + 600 + legendWidth + 16).rounded(.up)))
    let top = 70 + 17 * Double(max(0, chart.subtitles.count - 1))
    plot = Rect(left: 86, top: top, right: Double(width) - legendWidth - 16, bottom: Double(chart.height) - 64)

    var xs = chart.series.flatMap { $0.points.map(\.x) }
    if let domain = chart.xDomain { xs = [domain.lowerBound, domain.upperBound] }
    xs = xs.filter { $0.isFinite && (scale == .linear || $0 > 0) }
    var low = xs.min() ?? 1
    var high = xs.max() ?? (scale == .log2 ? 2 : 1)
    if low == high {
      if scale == .log2 {
        low /= 2
        high *= 2
      } else {
        low -= 1
        high += 1
      }
    }
    xMin = low
    xMax = high

    var ys = chart.series.flatMap {
      $0.points.flatMap { [$0.y + ($0.error ?? 0), $0.y - ($0.error ?? 0), $0.low ?? $0.y, $0.high ?? $0.y] }
    }
    ys += chart.references.flatMap { [$0.y, $0.low ?? $0.y, $0.high ?? $0.y] }
    ys = ys.filter(\.isFinite)
    // Rates start at zero: a cut axis exaggerates differences.
    let bottom = min(0, ys.min() ?? 0)
    var topValue = ys.max() ?? 1
    if topValue <= bottom { topValue = bottom + 1 }
    yStep = SVGNumber.niceStep((topValue - bottom) / 6)
    yMin = (bottom / yStep).rounded(.down) * yStep
    yMax = ((topValue * 1.04) / yStep).rounded(.up) * yStep
    var ticks: [Double] = []
    var tick = yMin
    while tick <= yMax + yStep / 2, ticks.count < 50 {
      ticks.append(tick)
      tick += yStep
    }
    yTicks = ticks
    xTicks = []
    xTicks = makeXTicks()
  }

  private func makeXTicks() -> [Double] {
    switch scale {
    case .log2:
      var ticks: [Double] = []
      var power = pow(2, log2(xMin).rounded(.up))
      while power <= xMax * (1 + 1e-9), ticks.count < 64 {
        ticks.append(power)
        power *= 2
      }
      // The ends of the data are labelled too (K = 169 is the full ring); a power of two
      // too close to one for both labels to be read gives way to it.
      for end in [xMin, xMax] where !ticks.contains(end) {
        ticks.removeAll { abs(xPosition($0) - xPosition(end)) < 30 }
        ticks.append(end)
      }
      return ticks.sorted()
    case .linear:
      let step = SVGNumber.niceStep((xMax - xMin) / 8)
      var ticks: [Double] = []
      var tick = (xMin / step).rounded(.up) * step
      while tick <= xMax + step * 1e-9, ticks.count < 50 {
        ticks.append(tick)
        tick += step
      }
      return ticks
    }
  }

  func xPosition(_ x: Double) -> Double {
    let fraction: Double
    switch scale {
    case .log2: fraction = (log2(x) - log2(xMin)) / (log2(xMax) - log2(xMin))
    case .linear: fraction = (x - xMin) / (xMax - xMin)
    }
    // A little air at both ends so end markers are not cut by the frame.
    let inset = 12.0
    return plot.left + inset + fraction * (plot.right - plot.left - 2 * inset)
  }

  func yPosition(_ y: Double) -> Double {
    plot.bottom - (y - yMin) / (yMax - yMin) * (plot.bottom - plot.top)
  }

  /// Points that can be drawn on this scale, in x order.
  func placeable(_ points: [SVGLineChart.Point]) -> [SVGLineChart.Point] {
    points.filter { $0.x.isFinite && $0.y.isFinite && (scale == .linear || $0.x > 0) }.sorted { $0.x < $1.x }
  }
}

/// Builds the document text with escaping done once, in one place.
struct SVGWriter {
  var text = ""
  var depth = 0

  mutating func open(_ name: String, _ attributes: [(String, String)] = []) {
    text += indent + "<" + name + Self.attributes(attributes) + ">\n"
    depth += 1
  }

  mutating func close(_ name: String) {
    depth -= 1
    text += indent + "</" + name + ">\n"
  }

  mutating func element(_ name: String, _ attributes: [(String, String)] = [], text content: String? = nil) {
    text += indent + "<" + name + Self.attributes(attributes)
    if let content {
      text += ">" + Self.escape(content) + "</" + name + ">\n"
    } else {
      text += "/>\n"
    }
  }

  private var indent: String { String(repeating: "  ", count: depth) }

  private static func attributes(_ pairs: [(String, String)]) -> String {
    pairs.map { " \($0.0)=\"\(escape($0.1))\"" }.joined()
  }

  /// XML's five predefined entities; control characters other than tab and newline are
  /// not allowed in XML 1.0 at all, so they are dropped.
  static func escape(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&apos;"
      case "\t", "\n": out.unicodeScalars.append(scalar)
      case _ where scalar.value < 0x20: continue
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out
  }
}

/// Number text for the chart, without Foundation.
enum SVGNumber {
  /// `value` with exactly `decimals` digits after the point ("12.5", "-0.3", "7"); 0 where
  /// it is not a number, so a coordinate stays valid SVG.
  static func fixed(_ value: Double, _ decimals: Int) -> String {
    NumberFormat.fixed(value, decimals) ?? "0"
  }

  /// The shortest plain form: integers without a point, others to 3 significant decimals.
  static func plain(_ value: Double) -> String {
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    var text = fixed(value, 3)
    while text.hasSuffix("0") { text.removeLast() }
    if text.hasSuffix(".") { text.removeLast() }
    return text
  }

  /// 1, 2, 2.5 or 5 times a power of ten, at least `raw`.
  static func niceStep(_ raw: Double) -> Double {
    guard raw.isFinite, raw > 0 else { return 1 }
    let magnitude = pow(10, log10(raw).rounded(.down))
    for factor in [1.0, 2, 2.5, 5, 10] where factor * magnitude >= raw * (1 - 1e-9) {
      return factor * magnitude
    }
    return 10 * magnitude
  }

  /// A tick label with an SI suffix (k, M, G) and as many decimals as the step needs.
  static func tick(_ value: Double, step: Double) -> String {
    let units: [(Double, String)] = [(1e9, "G"), (1e6, "M"), (1e3, "k")]
    let (unit, suffix) = units.first { abs(value) >= $0.0 && step >= $0.0 / 1000 } ?? (1, "")
    var decimals = 0
    let scaledStep = step / unit
    while decimals < 3 {
      let shifted = scaledStep * pow(10, Double(decimals))
      if abs(shifted - shifted.rounded()) < 1e-6 { break }
      decimals += 1
    }
    return fixed(value / unit, decimals) + suffix
  }
}

extension SVGWriter {
  /// A plot area's frame (its left and bottom axes) and the label centred under the bottom one.
  mutating func frame(left: Double, top: Double, right: Double, bottom: Double, label: String) {
    let corners = [(left, top), (left, bottom), (right, bottom)]
    element(
      "polyline",
      [
        ("points", corners.map { SVGNumber.fixed($0.0, 1) + "," + SVGNumber.fixed($0.1, 1) }.joined(separator: " ")),
        ("fill", "none"), ("stroke", "#333333"), ("stroke-width", "1.2"), ("class", "frame"),
      ])
    element(
      "text",
      [
        ("x", SVGNumber.fixed((left + right) / 2, 1)), ("y", SVGNumber.fixed(bottom + 44, 1)),
        ("text-anchor", "middle"), ("font-size", "14"), ("fill", "#111111"),
      ],
      text: label)
  }
}
