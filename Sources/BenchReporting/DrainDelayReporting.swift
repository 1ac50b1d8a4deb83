import Benchmarking
import KVM
import Reporting

// How long coalesced writes waited in the ring (`DrainDelay`), in every format of the
// bench report: JSON keys, CSV columns, the table's column and notes, the headline's
// trade-off and the plot's second chart.

// MARK: - JSON

/// How long the writes waited in the ring (ring modes): percentiles in ns with their
/// uncertainty and how they were measured; null where the figure was omitted
/// (`drain_delay_reason` says why) or the mode has no ring.
func drainDelayJSON(_ delay: DrainDelay?) -> JSONValue {
  guard let delay, let figures = delay.figures else { return .null }
  return .object(
    percentileJSON(figures) + [
      ("uncertainty_ns", delay.uncertaintyNs.map { .double($0) } ?? .null),
      ("entries", .integer(delay.entries)),
      ("early_entries", .integer(delay.early)),
      ("tsc_khz", delay.tscKHz.map { .integer($0) } ?? .null),
      ("measured_tsc_khz", delay.measuredKHz.map { .double($0) } ?? .null),
      ("run_tsc_khz", delay.clock.map { .double($0.runKHz) } ?? .null),
      ("rate_error", delay.clock.map { .double($0.rateError) } ?? .null),
      ("tsc_basis", delay.clock.map { .string($0.basis.rawValue) } ?? .null),
      ("stamped_ns_per_write", delay.stampedNsPerWrite.map { .double($0) } ?? .null),
      ("write_interval_ns", delay.writeIntervalNs.map { .double($0) } ?? .null),
      ("method", .string(DrainDelay.method)),
    ])
}

/// The stamped run's writes, checked (count, address, length, kind, rising stamps), whether or
/// not its figures could be given; null where no stamped run was made or `--no-verify`.
func drainDelayVerificationJSON(_ delay: DrainDelay?) -> JSONValue {
  guard let verification = delay?.verification else { return .null }
  return .object([
    ("entries", .integer(verification.entries)), ("lost", .integer(verification.lost)),
    ("out_of_order", .integer(verification.outOfOrder)),
  ])
}

/// Why `drain_delay_ns` is null: the clocks could not be related, the run was not made, or
/// the mode has no ring; null when the figure is there.
func drainDelayReason(_ result: BenchResult) -> JSONValue {
  guard result.key.mode.usesRing else { return .string("\(result.key.mode.rawValue) has no ring") }
  guard let delay = result.drainDelay else { return .string("not measured") }
  if delay.figures != nil { return .null }
  return .string(delay.reason ?? "not measured")
}

// MARK: - CSV

/// The drain delay's CSV columns, after the exit check's.
let drainDelayCSVHeader =
  LatencySummary.keys.map { "drain_delay_ns_" + $0 } + [
    "drain_delay_uncertainty_ns", "drain_delay_reason",
  ]

/// One result's drain delay cells: empty where nothing was measured, the reason where omitted.
func drainDelayCSVCells(_ result: BenchResult) -> [String] {
  let figures = result.drainDelay?.figures
  var cells = figures?.values.map(String.init) ?? Array(repeating: "", count: LatencySummary.keys.count)
  cells.append(
    figures == nil ? "" : result.drainDelay?.uncertaintyNs.map { JSONValue.format($0) } ?? "")
  cells.append(figures == nil && result.key.mode.usesRing ? (drainDelayReason(result).text ?? "") : "")
  return cells
}

// MARK: - Table

/// A duration for people: 850 ns, 8.97 µs, 438 µs, 4.50 ms, 1.20 s.
func durationText(_ ns: Double) -> String {
  guard ns.isFinite else { return Human.missing }
  let (value, unit): (Double, String) =
    ns < 1_000 ? (ns, "ns") : ns < 1_000_000 ? (ns / 1e3, "µs") : ns < 1e9 ? (ns / 1e6, "ms") : (ns / 1e9, "s")
  let decimals = unit == "ns" || value >= 100 ? 0 : value >= 10 ? 1 : 2
  return Human.fixed(value, decimals) + " " + unit
}

/// The table's `delay p50` cell: the median wait, `omitted` (a note says why), or `-` without a ring.
func drainDelayCell(_ result: BenchResult) -> String {
  guard result.key.mode.usesRing else { return "-" }
  guard let figures = result.drainDelay?.figures else { return "omitted" }
  return durationText(Double(figures.p50))
}

/// The lines under the table: what the delay column is, with its uncertainty, and why any was omitted.
func drainDelayNotes(_ report: BenchReport) -> [String] {
  let ring = report.results.filter { $0.key.mode.usesRing }
  guard !ring.isEmpty else { return [] }
  var notes: [String] = []
  let measured = ring.compactMap { $0.drainDelay?.figures == nil ? nil : $0.drainDelay }
  if !measured.isEmpty {
    let worst = measured.compactMap(\.uncertaintyNs).max() ?? .nan
    notes.append(
      "delay p50: the median time a ring entry waited from the guest's write to userspace's read, from a separate "
        + "stamped run per result (its loop writes the guest TSC, an rdtsc more per write); ± \(durationText(worst)) "
        + "at most (the guest-host TSC relation); writes that exit are not timed.")
    let rates = measured.compactMap { $0.clock?.basis == .measured ? $0.clock?.rateError : nil }
    if let worst = rates.max() {
      notes.append(
        "delay p50: the host CPU reports no constant_tsc and nonstop_tsc, so a steady TSC rests only on its rate, "
          + "measured over each stamped run against CLOCK_MONOTONIC: within \(Human.fixed(worst * 100, 2))% of "
          + "KVM_GET_TSC_KHZ (a stop shorter than 1% of a run would go unseen).")
    }
  }
  for result in ring where result.drainDelay?.figures == nil {
    notes.append(
      "† \(configurationLabel(result.key))\(result.key.ringSize.map { " K=\($0)" } ?? ""): drain delay omitted: "
        + "\(drainDelayReason(result).text ?? "not measured").")
  }
  return notes
}

// MARK: - Headline

/// The trade-off in words, at the largest ring size with a measured delay: how long a write
/// waited with the first drain measured there, and, where several drains were measured at
/// that size, what each other drain did to the wait and to the throughput. Empty without a
/// ring result that tried to measure it; the reason where every figure was omitted.
func drainDelaySentences(_ report: BenchReport) -> [String] {
  let ring = report.results.filter { $0.key.mode.usesRing && $0.drainDelay != nil }
  guard !ring.isEmpty else { return [] }
  let measured = ring.filter { $0.drainDelay?.figures != nil }
  guard let size = measured.compactMap(\.key.ringSize).max() else {
    let reason = ring.lazy.compactMap { $0.drainDelay?.reason }.first ?? "not measured"
    return ["The drain delay was not measured: \(reason)."]
  }
  var byDrain: [BenchResult] = []
  for result in measured where result.key.ringSize == size {
    if !byDrain.contains(where: { $0.key.drain == result.key.drain }) { byDrain.append(result) }
  }
  byDrain.sort { drainOrder($0.key.drain) < drainOrder($1.key.drain) }
  guard let first = byDrain.first, let firstFigures = first.drainDelay?.figures else { return [] }
  let key = first.key
  var sentence = "At K=\(first.effectiveRingSize.map(ExitCheck.sizeText) ?? String(size)) a coalesced"
  sentence += key.mode == .coalescedV2 ? " (v2 buffer) " : " "
  sentence += "\(spaceWords(key.space)) write waited a median of \(durationText(Double(firstFigures.p50))) in the ring "
  sentence += "(p99 \(durationText(Double(firstFigures.p99)))) with \(key.drain.rawValue) drains"
  for other in byDrain.dropFirst() {
    guard let figures = other.drainDelay?.figures else { continue }
    let share = other.writesPerSec.median / first.writesPerSec.median * 100
    sentence += "; a \(other.key.drain.rawValue) drain "
    sentence += figures.p50 <= firstFigures.p50 ? "cut that to " : "raised that to "
    sentence += "\(durationText(Double(figures.p50))) at \(Human.fixed(share, 0))% of the throughput"
  }
  let uncertainty = byDrain.compactMap { $0.drainDelay?.uncertaintyNs }.max() ?? .nan
  sentence += " (± \(durationText(uncertainty)), from a stamped run)."
  return [sentence]
}

private func drainOrder(_ drain: DrainStrategy) -> Int {
  switch drain {
  case .exit: return 0
  case .thread: return 1
  case .poll: return 2
  }
}

// MARK: - Plot

/// The plot's second chart: the median drain delay against ring size K, one line per ring
/// configuration; nil when no delay was measured.
func drainDelayChart(_ report: BenchReport) -> SVGLineChart? {
  var series: [SVGLineChart.Series] = []
  var keys: [CaseKey] = []
  for result in report.results where result.key.mode.usesRing {
    guard let size = result.key.ringSize, let figures = result.drainDelay?.figures else { continue }
    var key = result.key
    key.ringSize = nil
    let point = SVGLineChart.Point(x: Double(size), y: Double(figures.p50) / 1e3)
    if let index = keys.firstIndex(of: key) {
      series[index].points.append(point)
    } else {
      keys.append(key)
      series.append(SVGLineChart.Series(name: configurationLabel(key), points: [point]))
    }
  }
  guard !series.isEmpty else { return nil }
  let uncertainty =
    report.results.compactMap { $0.drainDelay?.figures == nil ? nil : $0.drainDelay?.uncertaintyNs }
    .max() ?? .nan
  let host = report.host
  return SVGLineChart(
    title: "cmmio bench: drain delay against ring size on Linux \(host.kernelRelease) (\(host.backend))",
    subtitles: [
      "median wait of a coalesced write from the guest's write (its TSC stamp) to userspace's read of its entry",
      "one stamped run per point (an rdtsc more per write); ± \(durationText(uncertainty)) at most (guest-host TSC relation)",
    ],
    xLabel: "ring size K (entries kept free after each drain; log₂ scale)",
    yLabel: "drain delay, median (µs)",
    xScale: .log2,
    xDomain: nil,
    series: series)
}
