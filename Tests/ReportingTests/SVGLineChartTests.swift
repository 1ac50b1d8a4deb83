import Foundation
import Reporting
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

@Suite("SVG line chart")
struct SVGLineChartTests {
  func wellFormed(_ svg: String) -> Bool {
    XMLParser(data: Data(svg.utf8)).parse()
  }

  func count(_ needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
  }

  @Test("one polyline per series plus the frame; a legend entry per series and reference")
  func structure() {
    let chart = SVGLineChart(
      title: "t", xLabel: "x (units)", yLabel: "y (units)", xScale: .log2,
      series: [
        .init(name: "first", points: [.init(x: 1, y: 10), .init(x: 4, y: 30, error: 2), .init(x: 2, y: 20)]),
        .init(name: "second", points: [.init(x: 1, y: 5)]),
        .init(name: "third", points: []),
      ],
      references: [.init(name: "floor", y: 40)])
    let svg = chart.rendered()
    #expect(wellFormed(svg))
    #expect(count("<polyline", in: svg) == 4)
    #expect(count("class=\"series\"", in: svg) == 3)
    #expect(count("stroke-dasharray", in: svg) == 2)  // the reference line and its legend swatch
    #expect(svg.contains(">first<") && svg.contains(">second<") && svg.contains(">floor<"))
    // Points are drawn in x order whatever order they came in.
    let first = svg.components(separatedBy: "<polyline points=\"")[2].prefix { $0 != "\"" }
    let xs = first.split(separator: " ").compactMap { Double($0.split(separator: ",")[0]) }
    #expect(xs == xs.sorted() && xs.count == 3)
  }

  @Test("text is escaped: markup in names cannot break the document")
  func escaping() {
    let chart = SVGLineChart(
      title: "a <b> & \"c\" 'd'", xLabel: "x", yLabel: "y",
      series: [.init(name: "</text><script>", points: [.init(x: 0, y: 1), .init(x: 1, y: 2)])])
    let svg = chart.rendered()
    #expect(wellFormed(svg))
    #expect(!svg.contains("<script>"))
    #expect(svg.contains("a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;"))
  }

  @Test("log₂ axis: ticks at powers of two and at the data's far end")
  func log2Ticks() {
    let chart = SVGLineChart(
      title: "t", xLabel: "x", yLabel: "y", xScale: .log2,
      series: [.init(name: "s", points: [1, 8, 64, 169].map { .init(x: $0, y: $0) })])
    let svg = chart.rendered()
    for tick in [1, 2, 4, 8, 16, 32, 64, 128, 169] { #expect(svg.contains(">\(tick)</text>"), "no tick \(tick)") }
    #expect(!svg.contains(">256</text>"))
  }

  @Test("degenerate data (nothing, one point, one x, zeros, NaN) renders without NaN or infinity")
  func degenerate() {
    let cases: [[SVGLineChart.Series]] = [
      [],
      [.init(name: "one", points: [.init(x: 8, y: 100)])],
      [.init(name: "same x", points: [.init(x: 8, y: 100), .init(x: 8, y: 200)])],
      [.init(name: "zeros", points: [.init(x: 0, y: 0), .init(x: 0, y: 0)])],
      [.init(name: "not finite", points: [.init(x: .nan, y: 1), .init(x: 2, y: .infinity), .init(x: 4, y: 3)])],
    ]
    for scale in [SVGLineChart.Scale.linear, .log2] {
      for series in cases {
        let svg = SVGLineChart(title: "t", xLabel: "x", yLabel: "y", xScale: scale, series: series).rendered()
        #expect(wellFormed(svg))
        #expect(!svg.lowercased().contains("nan") && !svg.contains("inf"), "\(series.first?.name ?? "empty") \(scale)")
      }
    }
  }

  @Test("the y axis starts at zero and its ticks are round numbers with SI suffixes")
  func yTicks() {
    let chart = SVGLineChart(
      title: "t", xLabel: "x", yLabel: "y",
      series: [.init(name: "s", points: [.init(x: 1, y: 97_000), .init(x: 2, y: 150_000)])],
      references: [.init(name: "r", y: 178_000)])
    let svg = chart.rendered()
    #expect(svg.contains(">0</text>"))
    #expect(svg.contains(">50k</text>") && svg.contains(">150k</text>"))
  }
}
