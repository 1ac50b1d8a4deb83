import BenchReporting
import Benchmarking
import Foundation
import KVM
import Reporting
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// Counts elements and collects text while checking the document parses as XML.
final class SVGInspector: NSObject, XMLParserDelegate {
  var polylinesInSeries = 0
  var seriesGroups = 0
  /// `<g class="bar">`: one per bar of a bar chart.
  var bars = 0
  /// Elements of class `spread`: shaded run-to-run spreads (bands, level bands, bar spans).
  var spreads: [String] = []
  /// The stamp's text, if there is one.
  var stamp: String?
  private var inStamp = false
  var texts: [String] = []
  private var groupClasses: [String?] = []
  private var text = ""

  func parser(
    _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
    attributes: [String: String] = [:]
  ) {
    if name == "g" {
      groupClasses.append(attributes["class"])
      if attributes["class"] == "series" { seriesGroups += 1 }
      if attributes["class"] == "bar" { bars += 1 }
    }
    if attributes["class"] == "spread" { spreads.append(name) }
    inStamp = attributes["class"] == "stamp"
    if name == "polyline", groupClasses.last == "series" { polylinesInSeries += 1 }
    text = ""
  }

  func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

  func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
    if name == "g" { groupClasses.removeLast() }
    if name == "text" || name == "title" { texts.append(text) }
    if inStamp { stamp = text }
    inStamp = false
    text = ""
  }
}

@Suite("cmmio bench --plot")
struct BenchPlotTests {
  func inspect(_ svg: String) throws -> SVGInspector {
    let parser = XMLParser(data: Data(svg.utf8))
    let inspector = SVGInspector()
    parser.delegate = inspector
    #expect(parser.parse(), "not well-formed XML: \(String(describing: parser.parserError))")
    return inspector
  }

  @Test("well-formed, self-contained, one polyline per ring configuration, host and axes named")
  func synthetic() throws {
    let svg = renderBenchSVG(Synthetic.report())
    // Where CMMIO_PLOT_OUT names a file, leave the plot there to be looked at.
    // CMMIO_REPORT_OUT, if set, gets the other formats beside it (FILE.table, FILE.json, …).
    if let path = ProcessInfo.processInfo.environment["CMMIO_PLOT_OUT"] {
      try svg.write(toFile: path, atomically: true, encoding: .utf8)
    }
    if let path = ProcessInfo.processInfo.environment["CMMIO_REPORT_OUT"] {
      for format in OutputFormat.allCases {
        try renderBench(Synthetic.report(), format: format).write(
          toFile: path + "." + format.rawValue, atomically: true, encoding: .utf8)
      }
    }
    let inspector = try inspect(svg)
    #expect(inspector.seriesGroups == 2)
    #expect(inspector.polylinesInSeries == 2)
    #expect(!svg.contains("href") && !svg.contains("<script") && !svg.contains("@import"))
    let texts = inspector.texts
    #expect(texts.contains { $0.contains("6.18.44-fc-v595") && $0.contains("kvm_pvm") })
    #expect(texts.contains { $0.contains("Intel(R) Xeon(R) Processor") })
    #expect(texts.contains { $0.hasPrefix("ring size K") })
    #expect(texts.contains { $0.hasPrefix("writes per second") })
    #expect(texts.contains("coalesced mmio, CPU 0"))
    #expect(texts.contains("plain exits (mmio, CPU 1)"))
    #expect(texts.contains("RAM floor (CPU 0)"))
    for tick in ["1", "2", "4", "128", "169", "150k"] { #expect(texts.contains(tick), "no tick \(tick)") }
    #expect(!svg.contains("nan") && !svg.contains("inf"))
  }

  @Test("no ring results: the reference levels alone, still well-formed")
  func referencesOnly() throws {
    var report = Synthetic.report()
    report.results = report.results.filter { !$0.key.mode.usesRing }
    let svg = renderBenchSVG(report)
    let inspector = try inspect(svg)
    #expect(inspector.polylinesInSeries == 0)
    #expect(!svg.contains("nan") && !svg.contains("inf"))
    report.results = []
    _ = try inspect(renderBenchSVG(report))
  }

  @Test("one ring size: a bar per result, its min-max shaded, no line through one point")
  func oneRingSize() throws {
    var report = Synthetic.report()
    report.results = report.results.filter { $0.key.ringSize == nil || $0.key.ringSize == 169 }
    let inspector = try inspect(renderBenchSVG(report))
    #expect(inspector.polylinesInSeries == 0)
    #expect(inspector.bars == report.results.count)
    #expect(inspector.spreads.filter { $0 == "rect" }.count == report.results.count)
    #expect(inspector.texts.contains("coalesced mmio, CPU 1, K=169"))
    #expect(inspector.texts.contains("RAM floor (CPU 0)"))
    #expect(inspector.texts.contains { $0.contains("one ring size measured, K = 169") })
    // One run: nothing to shade.
    report.results = report.results.map { result in
      var result = result
      result.runs = 1
      result.writesPerSec = Summary(samples: [result.writesPerSec.median])
      return result
    }
    #expect(try inspect(renderBenchSVG(report)).spreads.isEmpty)
  }

  @Test("several ring sizes: each line's min-max band, each level's band, the bands cover the runs")
  func spreadBands() throws {
    let report = Synthetic.report()
    let svg = renderBenchSVG(report)
    let inspector = try inspect(svg)
    #expect(inspector.spreads.filter { $0 == "polygon" }.count == 2, "one band per line")
    #expect(inspector.spreads.filter { $0 == "rect" }.count == 4, "one band per RAM and plain level")
    #expect(inspector.bars == 0)
    #expect(svg.contains("shaded: the runs' min–max") || svg.contains("shaded: the runs&apos; min–max"))
  }

  @Test("stamped with the run's time, version and commit when the report has provenance; not otherwise")
  func stamp() throws {
    var report = Synthetic.report()
    #expect(try inspect(renderBenchSVG(report)).stamp == nil)
    report.provenance = Provenance(
      timestamp: "2026-11-30T06:40:00Z", unixTime: 1_795_941_600, cmmioVersion: "0.1.0",
      gitCommit: "0123456789abcdef0123456789abcdef01234567", gitDirty: false, commandLine: [], kernelCmdline: nil,
      cpufreqGovernor: nil, boost: nil, smt: nil, loadAverage: nil, kvmParameters: [])
    #expect(
      try inspect(renderBenchSVG(report)).stamp
        == "measured 2026-11-30T06:40:00Z by cmmio 0.1.0, commit 0123456789ab")
    report.provenance?.gitCommit = nil
    report.provenance?.gitDirty = nil
    #expect(try inspect(renderBenchSVG(report)).stamp?.hasSuffix("commit unknown") == true)
  }
}
