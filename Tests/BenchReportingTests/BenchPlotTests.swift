import BenchReporting
import Benchmarking
import Foundation
import Reporting
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// Counts elements and collects text while checking the document parses as XML.
final class SVGInspector: NSObject, XMLParserDelegate {
  var polylinesInSeries = 0
  var seriesGroups = 0
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
    }
    if name == "polyline", groupClasses.last == "series" { polylinesInSeries += 1 }
    text = ""
  }

  func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

  func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
    if name == "g" { groupClasses.removeLast() }
    if name == "text" || name == "title" { texts.append(text) }
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
}
