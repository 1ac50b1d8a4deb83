import Benchmarking
import KVM
import Reporting

/// `--plot FILE.svg`: one figure of panels one above the other (throughput, then the drain
/// delay where ring results measured it), stamped at the bottom with the cmmio build and
/// the time of the run.
public func renderBenchSVG(_ report: BenchReport) -> String {
  var panels: [any SVGPanel] = [throughputChart(report)]
  if let delay = drainDelayChart(report) { panels.append(delay) }
  return SVGFigure(
    title: "cmmio bench on Linux \(report.host.kernelRelease) (\(report.host.backend))", panels: panels,
    layout: .column, stamp: plotStamp(report.provenance)
  ).rendered()
}

/// "measured 2026-11-30T06:40:00Z by cmmio 0.1.0, commit 1a2b3c4d5e6f": where the figure came from.
func plotStamp(_ provenance: Provenance?) -> String? {
  guard let provenance else { return nil }
  var text = "measured \(provenance.timestamp) by cmmio \(provenance.cmmioVersion), "
  text += provenance.gitCommit.map { "commit \($0.prefix(12))" } ?? "commit unknown"
  if provenance.gitDirty == true { text += " with uncommitted changes" }
  return text
}

/// Writes/s against ring size K on a log₂ axis, one line per ring configuration (mode,
/// space, vCPU CPU, and drain, vCPUs or doorbell where they vary), each point the median
/// with the runs' min–max shaded around the line, and the `plain` and `ram` results (and
/// `ioeventfd`'s) drawn as levels with their spread shaded: the line should climb from
/// near plain towards ram. With one ring size or none, a line says nothing: bars instead.
/// The title names the host, so the chart stands on its own.
func throughputChart(_ report: BenchReport) -> any SVGPanel {
  var series: [SVGLineChart.Series] = []
  var seriesKeys: [CaseKey] = []
  for result in report.results where result.key.mode.usesRing {
    guard let ringSize = result.key.ringSize else { continue }
    var key = result.key
    key.ringSize = nil
    let spread = result.runs > 1
    let point = SVGLineChart.Point(
      x: Double(ringSize), y: result.writesPerSec.median, low: spread ? result.writesPerSec.min : nil,
      high: spread ? result.writesPerSec.max : nil)
    if let index = seriesKeys.firstIndex(of: key) {
      series[index].points.append(point)
    } else {
      seriesKeys.append(key)
      series.append(SVGLineChart.Series(name: configurationLabel(key), points: [point]))
    }
  }

  // Each level in the colour of the one line it is judged against (same space, vCPU
  // CPU, vCPUs and doorbell), grey when it serves several lines or none: RAM floor
  // dashed, plain dotted.
  var references: [SVGLineChart.Reference] = []
  for result in report.results where !result.key.mode.usesRing && result.writesPerSec.median.isFinite {
    let key = result.key
    let plain = key.mode == .plain || key.mode == .ioeventfd
    let name = referenceName(key)
    let lines = seriesKeys.indices.filter {
      let line = seriesKeys[$0]
      return line.vcpuCPU == key.vcpuCPU && line.vcpus == key.vcpus && line.flushEvery == key.flushEvery
        && (!plain || line.space == key.space)
    }
    let spread = result.runs > 1
    references.append(
      SVGLineChart.Reference(
        name: name, y: result.writesPerSec.median,
        style: key.mode == .ioeventfd ? .dashDotted : plain ? .dotted : .dashed,
        seriesColour: lines.count == 1 ? lines[0] : nil, low: spread ? result.writesPerSec.min : nil,
        high: spread ? result.writesPerSec.max : nil))
  }

  let host = report.host
  let spaces = Set(report.results.map(\.key.space))
  let spaceText = spaces.count == 1 ? spaceWords(spaces.first ?? .mmio) : "MMIO and port I/O"
  let configuration = report.configuration
  let runs = report.results.map(\.runs).max() ?? configuration.runs
  let ringSizes = Set(report.results.compactMap(\.key.ringSize))
  if ringSizes.count <= 1 {
    return barChart(report, seriesKeys: seriesKeys, ringSize: ringSizes.first, runs: runs, spaceText: spaceText)
  }
  var subtitles = [
    "\(host.cpuModel), \(host.pageSize)-byte pages, coalesced ring capacity \(report.ringCapacity) entries",
    "\(Human.fixed(Double(configuration.writes), 0)) writes per vCPU per run; each point the median of \(runs) runs, "
      + "shaded: the runs' min–max; dashed: the RAM floor, dotted: plain exits"
      + (report.results.contains { $0.key.mode == .ioeventfd } ? ", dash-dotted: ioeventfd" : ""),
  ]
  if report.interrupted { subtitles.append("interrupted: only the runs that completed are shown") }
  let largest = max(2, Double(report.ringCapacity))
  let chart = SVGLineChart(
    title: "cmmio bench: \(spaceText) writes/s against ring size on Linux \(host.kernelRelease) (\(host.backend))",
    subtitles: subtitles,
    xLabel: "ring size K (entries kept free after each drain; log₂ scale)",
    yLabel: "writes per second (median)",
    xScale: .log2,
    xDomain: series.isEmpty ? 1...largest : nil,
    series: series,
    references: references)
  return chart
}

/// One ring size (or none): a bar per result in result order, median writes/s with the
/// runs' min–max across its end; ring configurations in their line colours, levels grey.
func barChart(
  _ report: BenchReport, seriesKeys: [CaseKey], ringSize: UInt32?, runs: Int, spaceText: String
) -> SVGBarChart {
  var bars: [SVGBarChart.Bar] = []
  for result in report.results where result.runs > 0 {
    var line = result.key
    line.ringSize = nil
    let spread = result.runs > 1
    bars.append(
      SVGBarChart.Bar(
        name: result.key.mode.usesRing ? resultLabel(result.key) : referenceName(result.key),
        value: result.writesPerSec.median, low: spread ? result.writesPerSec.min : nil,
        high: spread ? result.writesPerSec.max : nil,
        seriesColour: result.key.mode.usesRing ? seriesKeys.firstIndex(of: line) : nil))
  }
  let host = report.host
  var subtitles = [
    "\(host.cpuModel), \(host.pageSize)-byte pages, coalesced ring capacity \(report.ringCapacity) entries"
      + (ringSize.map { "; one ring size measured, K = \($0)" } ?? "; no ring size measured"),
    "\(Human.fixed(Double(report.configuration.writes), 0)) writes per vCPU per run; each bar the median of "
      + "\(runs) runs, shaded with end caps: the runs' min–max",
  ]
  if report.interrupted { subtitles.append("interrupted: only the runs that completed are shown") }
  return SVGBarChart(
    title: "cmmio bench: \(spaceText) writes/s by mode on Linux \(host.kernelRelease) (\(host.backend))",
    subtitles: subtitles, valueLabel: "writes per second (median)", bars: bars)
}

/// "plain exits (mmio, CPU 1)", "RAM floor (CPU 0)", "ioeventfd (pio, unpinned)".
func referenceName(_ key: CaseKey) -> String {
  let plain = key.mode == .plain || key.mode == .ioeventfd
  var details = plain ? [key.space.rawValue] : []
  details.append(key.vcpuCPU.map { "CPU \($0)" } ?? "unpinned")
  if key.vcpus > 1 { details.append("\(key.vcpus) vCPUs") }
  if key.flushEvery > 0 { details.append("doorbell every \(key.flushEvery)") }
  let what = key.mode == .ioeventfd ? "ioeventfd" : plain ? "plain exits" : "RAM floor"
  return what + " (" + details.joined(separator: ", ") + ")"
}
