import Benchmarking
import KVM
import Reporting

/// `--plot FILE.svg`: writes/s against ring size K on a log₂ axis, one line per ring
/// configuration (mode, space, vCPU CPU, and drain, vCPUs or doorbell where they vary),
/// each point the median with a ± 1 standard deviation bar, and the `plain` and `ram`
/// results (and `ioeventfd`'s) drawn as levels: the line should climb from near plain towards ram.
/// The title names the host, so the file stands on its own.
public func renderBenchSVG(_ report: BenchReport) -> String {
  var series: [SVGLineChart.Series] = []
  var seriesKeys: [CaseKey] = []
  for result in report.results where result.key.mode.usesRing {
    guard let ringSize = result.key.ringSize else { continue }
    var key = result.key
    key.ringSize = nil
    let point = SVGLineChart.Point(
      x: Double(ringSize), y: result.writesPerSec.median, error: result.runs > 1 ? result.writesPerSec.stddev : nil)
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
    var details = plain ? [key.space.rawValue] : []
    details.append(key.vcpuCPU.map { "CPU \($0)" } ?? "unpinned")
    if key.vcpus > 1 { details.append("\(key.vcpus) vCPUs") }
    if key.flushEvery > 0 { details.append("doorbell every \(key.flushEvery)") }
    let what = key.mode == .ioeventfd ? "ioeventfd" : plain ? "plain exits" : "RAM floor"
    let name = what + " (" + details.joined(separator: ", ") + ")"
    let lines = seriesKeys.indices.filter {
      let line = seriesKeys[$0]
      return line.vcpuCPU == key.vcpuCPU && line.vcpus == key.vcpus && line.flushEvery == key.flushEvery
        && (!plain || line.space == key.space)
    }
    references.append(
      SVGLineChart.Reference(
        name: name, y: result.writesPerSec.median,
        style: key.mode == .ioeventfd ? .dashDotted : plain ? .dotted : .dashed,
        seriesColour: lines.count == 1 ? lines[0] : nil))
  }

  let host = report.host
  let spaces = Set(report.results.map(\.key.space))
  let spaceText = spaces.count == 1 ? spaceWords(spaces.first ?? .mmio) : "MMIO and port I/O"
  let configuration = report.configuration
  let runs = report.results.map(\.runs).max() ?? configuration.runs
  var subtitles = [
    "\(host.cpuModel), \(host.pageSize)-byte pages, coalesced ring capacity \(report.ringCapacity) entries",
    "\(Human.fixed(Double(configuration.writes), 0)) writes per vCPU per run; each point the median of \(runs) runs, "
      + "bars ± 1 standard deviation; dashed: the RAM floor, dotted: plain exits"
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
  // The drain delay against ring size, stacked below as a chart of its own.
  guard let delay = drainDelayChart(report) else { return chart.rendered() }
  return SVGStack.vertical([chart.rendered(), delay.rendered()])
}
