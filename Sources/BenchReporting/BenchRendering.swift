import Benchmarking
import KVM
import Reporting

/// The `cmmio bench` report in `format`: JSON (schema `cmmio.bench/1`), CSV (one flat
/// row per result), markdown (results, comparisons, cost model, headline) or the table
/// (the same, aligned for a terminal, ending with the headline and the host).
public func renderBench(_ report: BenchReport, format: OutputFormat) -> String {
  switch format {
  case .json: return benchJSON(report).rendered() + "\n"
  case .csv: return benchCSV(report)
  case .markdown: return benchMarkdown(report)
  case .table: return benchTable(report)
  case .openmetrics: return benchOpenMetrics(report)
  }
}

// MARK: - CSV

/// One row per result, the same columns for every row (RFC 4180). Columns are the JSON
/// keys flattened with `_` (`writes_per_sec_median`, `kvm_run_ns_p99`,
/// `kernel_stats_exits`), then the result's comparison and the run's `interrupted`.
/// Kernel counters are the union over all results; a counter a result lacks is empty,
/// as is any figure that was not measured.
func benchCSV(_ report: BenchReport) -> String {
  var statNames: [String] = []
  for result in report.results {
    for stat in result.kernelStats where !statNames.contains(stat.name) { statNames.append(stat.name) }
  }
  let figures = ["mean", "stddev", "median", "min", "max"]
  var header = [
    "mode", "space", "ring_size", "flush_every", "drain", "vcpus", "vcpu_cpu", "drain_cpu", "numa_node", "writes",
    "runs",
  ]
  header += figures.map { "writes_per_sec_" + $0 } + figures.map { "ns_per_write_" + $0 }
  header += ["userspace_exits_per_write", "exits_per_sec"]
  header += LatencySummary.keys.map { "kvm_run_ns_" + $0 }
  header += statNames.map { "kernel_stats_" + $0 }
  header += ["verification_entries", "verification_lost", "verification_out_of_order", "verification_eventfd_count"]
  header += ["achieved_ring_size", "model_exits_per_write", "exit_check_passed"]
  header += drainDelayCSVHeader
  header += [
    "observed_vcpu_cpus", "observed_drain_cpu", "drainer_cpu_share", "speedup_vs_plain", "ratio_to_floor",
    "interrupted",
  ]

  func number(_ value: Double) -> String { value.isFinite ? JSONValue.format(value) : "" }
  func cell(_ value: JSONValue?) -> String {
    switch value {
    case .none, .null?: return ""
    case .string(let text)?: return text
    case .double(let figure)?: return number(figure)
    case let other?: return other.rendered(pretty: false)
    }
  }
  var rows: [[String]] = []
  for result in report.results {
    let document = resultJSON(result)
    var row = keyMembers(result.key).map { cell($0.1) }
    row += [cell(document["writes"]), cell(document["runs"])]
    for object in ["writes_per_sec", "ns_per_write"] { row += figures.map { cell(document[object]?[$0]) } }
    row += [cell(document["userspace_exits_per_write"]), cell(document["exits_per_sec"])]
    row += LatencySummary.keys.map { cell(document["kvm_run_ns"]?[$0]) }
    row += statNames.map { name in result.kernelStat(name).map(number) ?? "" }
    let verification = result.verification
    row += [verification?.entries, verification?.lost, verification?.outOfOrder, verification?.eventfdCount].map {
      $0.map(String.init) ?? ""
    }
    let check = result.exitCheck
    row += [
      result.effectiveRingSize.map(number) ?? "", check.map { number($0.modelExitsPerWrite) } ?? "",
      check.map { $0.passed ? "true" : "false" } ?? "",
    ]
    row += drainDelayCSVCells(result)
    row.append(result.observedVCPUCPUs.map(String.init).joined(separator: " "))
    row.append(result.observedDrainCPU.map(String.init) ?? "")
    row.append(result.drainerCPUShare.map(number) ?? "")
    let comparison = report.comparisons.first { $0.key == result.key }
    row.append(comparison.map { number($0.speedupVsPlain) } ?? "")
    row.append(comparison?.ratioToFloor.map(number) ?? "")
    row.append(report.interrupted ? "true" : "false")
    rows.append(row)
  }
  return CSV.render(header: header, rows: rows)
}

// MARK: - Table and markdown

/// The results as a table: one row per result, figures for people.
func resultsTable(_ report: BenchReport) -> TextTable {
  var table = TextTable(
    headers: [
      "mode", "space", "K", "drain", "vCPUs", "CPUs", "writes/s (median ± sd)", "ns/write", "exits/write", "model",
      "speedup", "delay p50", "verified",
    ],
    alignments: [.left, .left, .right, .left, .right, .left, .right, .right, .right, .right, .right, .right, .left])
  for result in report.results {
    let key = result.key
    let comparison = report.comparisons.first { $0.key == key }
    table.append([
      key.mode.rawValue,
      key.space.rawValue,
      ringSizeCell(result),
      key.mode.usesRing ? key.drain.rawValue : "-",
      String(key.vcpus),
      cpuCell(key),
      Human.amount(result.writesPerSec.median) + " ± " + Human.amount(result.writesPerSec.stddev),
      Human.amount(result.nsPerWrite.median),
      Human.significant(result.userspaceExitsPerWrite),
      modelCell(result.exitCheck),
      comparison.map { Human.times($0.speedupVsPlain) } ?? "-",
      drainDelayCell(result),
      key.mode == .ram && result.verification == nil ? "-" : verificationCell(result),
    ])
  }
  return table
}

/// K as measured: the asked size, or the mean achieved marked `*` (see `ringNotes`).
func ringSizeCell(_ result: BenchResult) -> String {
  guard let asked = result.key.ringSize else { return "-" }
  guard let check = result.exitCheck, !check.isExact(ringSize: asked), let achieved = check.achievedRingSize else {
    return String(asked)
  }
  return ExitCheck.sizeText(achieved) + "*"
}

/// What the model gives for exits per write: 1/(K + 1), or a bound ("≤ 0.0118").
func modelCell(_ check: ExitCheck?) -> String {
  guard let check else { return "-" }
  let figure = Human.significant(check.modelExitsPerWrite)
  return check.promise == .exact ? figure : "≤ " + figure
}

/// The lines under the results: each result whose K is a mean, and each failed exit check.
func ringNotes(_ report: BenchReport) -> [String] {
  var notes: [String] = []
  for result in report.results {
    guard let asked = result.key.ringSize, let check = result.exitCheck, !check.isExact(ringSize: asked),
      let achieved = check.achievedRingSize
    else { continue }
    notes.append(
      "* \(result.key.mode.rawValue) \(result.key.space.rawValue) K = \(asked) asked: this kernel's "
        + "\(check.arithmetic?.rawValue ?? "?") has-room arithmetic cannot leave exactly \(asked) free slots from every "
        + "ring position (the half-ring bug in coalesced_mmio_has_room(), fixed by commit \(HasRoomArithmetic.fixCommit)); "
        + "the cursor granted \(check.leastGrant.map(String.init) ?? "?") to \(check.greatestGrant.map(String.init) ?? "?") "
        + "per fill, K = \(ExitCheck.sizeText(achieved)) is the mean achieved, and exits/write are checked against it.")
  }
  for result in report.results {
    if let problem = result.exitCheck?.problem {
      notes.append(
        "! \(configurationLabel(result.key))\(result.key.ringSize.map { " K=\($0)" } ?? ""): exits per write "
          + "did not match the ring model: \(problem).")
    }
  }
  return notes
}

/// Each ring or `ioeventfd` result against its plain baseline and its RAM floor.
func comparisonsTable(_ report: BenchReport) -> TextTable {
  var table = TextTable(
    headers: ["mode", "space", "K", "drain", "CPUs", "writes/s", "plain writes/s", "speedup vs plain", "× RAM floor"],
    alignments: [.left, .left, .right, .left, .left, .right, .right, .right, .right])
  for comparison in report.comparisons {
    let key = comparison.key
    let result = report.results.first { $0.key == key }
    let plain = plainBaseline(for: key, in: report.results)
    table.append([
      key.mode.rawValue,
      key.space.rawValue,
      result.map(ringSizeCell) ?? key.ringSize.map(String.init) ?? "-",
      key.mode.usesRing ? key.drain.rawValue : "-",
      cpuCell(key),
      result.map { Human.amount($0.writesPerSec.median) } ?? Human.missing,
      plain.map { Human.amount($0.writesPerSec.median) } ?? Human.missing,
      Human.times(comparison.speedupVsPlain),
      comparison.ratioToFloor.map(Human.times) ?? "-",
    ])
  }
  return table
}

/// "1", "1, drain 3", or "-" when unpinned.
func cpuCell(_ key: CaseKey) -> String {
  var text = key.vcpuCPU.map(String.init) ?? "-"
  if let drain = key.drainCPU { text += ", drain \(drain)" }
  return text
}

/// "ok" only when every write was accounted for and the exits matched the ring model.
func verificationCell(_ result: BenchResult) -> String {
  var parts: [String] = []
  if let verification = result.verification, !verification.clean {
    if verification.lost != 0 || verification.outOfOrder != 0 {
      parts.append("\(verification.lost) lost, \(verification.outOfOrder) out of order")
    }
    if let problem = verification.eventfdProblem { parts.append(problem) }
  }
  if let check = result.exitCheck, !check.passed { parts.append("FAILED: exits ≠ model") }
  if let stamped = result.drainDelay?.verification, !stamped.clean {
    parts.append("stamped run: \(stamped.lost) lost, \(stamped.outOfOrder) out of order")
  }
  if !parts.isEmpty { return parts.joined(separator: "; ") }
  if result.verification == nil { return result.exitCheck == nil ? "off" : "exits ok, writes unchecked" }
  return "ok"
}

/// One sentence per cost model: what a coalesced write and a round trip cost.
func costSentences(_ report: BenchReport) -> [String] {
  report.costModels.map { model in
    var sentence = "\(configurationLabel(model.key)): a coalesced write costs \(Human.amount(model.coalescedNs)) ns "
    sentence += "in the kernel; a round trip to userspace costs \(Human.amount(model.roundTripNs)) ns on this host "
    sentence += "(R² \(Human.fixed(model.rSquared, 3, grouped: false)), \(model.points) ring sizes"
    sentence += model.rSquared < 0.9 ? "; a poor fit, read with care)." : ")."
    return sentence
  }
}

/// A configuration in words, naming only what differs from the defaults:
/// "coalesced mmio, CPU 1", "coalesced-v2 pio, CPU 2, thread drain on CPU 3, 2 vCPUs".
func configurationLabel(_ key: CaseKey) -> String {
  var parts = ["\(key.mode.rawValue) \(key.space.rawValue)"]
  if let cpu = key.vcpuCPU { parts.append("CPU \(cpu)") }
  if key.mode.usesRing, key.drain != .exit {
    parts.append("\(key.drain.rawValue) drain" + (key.drainCPU.map { " on CPU \($0)" } ?? ""))
  }
  if key.vcpus > 1 { parts.append("\(key.vcpus) vCPUs") }
  if key.flushEvery > 0 { parts.append("doorbell every \(key.flushEvery)") }
  return parts.joined(separator: ", ")
}

/// What the run was, in one line, above the tables.
func runLine(_ report: BenchReport) -> String {
  let configuration = report.configuration
  var text = "cmmio bench: \(Human.fixed(Double(configuration.writes), 0)) writes per vCPU × "
  text += "\(configuration.runs) runs (\(configuration.warmup) warm-up), "
  text += "modes \(configuration.modes.map(\.rawValue).joined(separator: ",")), \(configuration.space.rawValue), "
  text += ringWords(report)
  if configuration.flushEvery > 0 { text += ", doorbell every \(configuration.flushEvery) writes" }
  return text
}

/// "ring 169 usable of 170 slots, 6.12+ has-room arithmetic", or the same naming the pre-6.12 bug.
func ringWords(_ report: BenchReport) -> String {
  guard let ring = report.ring else { return "ring capacity \(report.ringCapacity)" }
  var text = "ring \(ring.usable) usable of \(ring.slots) slots, "
  switch ring.arithmetic {
  case .fixed?: text += "6.12+ has-room arithmetic"
  case .pre612?:
    text +=
      "pre-6.12 has-room arithmetic (\(ring.fromZero.map(String.init) ?? "?") entries from an empty ring at index 0: "
      + "the half-ring bug, fixed by commit \(HasRoomArithmetic.fixCommit))"
  case nil: text += "has-room arithmetic unknown (fills \(ring.range))"
  }
  return text
}

func benchTable(_ report: BenchReport) -> String {
  var out = runLine(report) + "\n\n"
  out += resultsTable(report).rendered()
  for note in ringNotes(report) + drainDelayNotes(report) { out += note + "\n" }
  let warnings = benchWarnings(report)
  if !warnings.isEmpty { out += "\n" }
  for warning in warnings { out += "warning: " + warningSentence(warning, in: report) + "\n" }
  if !report.comparisons.isEmpty {
    out += "\ncomparisons (median writes/s against plain exits; median ns/write against the RAM floor):\n"
    out += comparisonsTable(report).rendered()
  }
  let sentences = costSentences(report)
  if !sentences.isEmpty {
    out += "\ncost model, ns/write = c + (p − c)/(K + 1) fitted over ring sizes K:\n"
    for sentence in sentences { out += "  " + sentence + "\n" }
  }
  if report.interrupted { out += "\ninterrupted: the figures cover only the runs that completed.\n" }
  out += "\n" + benchHeadline(report) + "\n"
  out += "\nhost: \(report.host.reportSummary); coalesced \(ringWords(report))\n"
  if let provenance = report.provenance {
    out += "run: \(provenance.reportSummary(cpus: report.host.cpusOnline.cpus.count))\n"
  }
  return out
}

func benchMarkdown(_ report: BenchReport) -> String {
  var out = "# cmmio bench\n\n"
  out += runLine(report) + ".\n\n"
  out += "Host: \(report.host.reportSummary); coalesced \(ringWords(report)).\n\n"
  if let provenance = report.provenance {
    out += "Run: \(provenance.reportSummary(cpus: report.host.cpusOnline.cpus.count)).\n\n"
  }
  if report.interrupted { out += "**Interrupted**: the figures cover only the runs that completed.\n\n" }
  out += "## Results\n\n" + resultsTable(report).markdown()
  let notes = ringNotes(report) + drainDelayNotes(report)
  if !notes.isEmpty {
    out += "\n" + notes.map { "- " + ($0.hasPrefix("* ") ? "\\*" + $0.dropFirst() : $0) + "\n" }.joined()
  }
  let warnings = benchWarnings(report)
  if !warnings.isEmpty {
    out += "\n## Warnings\n\n" + warnings.map { "- " + warningSentence($0, in: report) + "\n" }.joined()
  }
  if !report.comparisons.isEmpty {
    out += "\n## Comparisons\n\n" + comparisonsTable(report).markdown()
  }
  let sentences = costSentences(report)
  if !sentences.isEmpty {
    out += "\n## Cost model\n\nns/write = c + (p − c)/(K + 1), least squares over ring sizes K.\n\n"
    for sentence in sentences { out += "- " + sentence + "\n" }
  }
  out += "\n## Headline\n\n" + benchHeadline(report) + "\n"
  return out
}

// MARK: - Headline

/// The one plain sentence a reader should take away.
///
/// It names the comparison at the largest ring size measured (the full ring, by
/// default), the fastest there if several configurations share it: "Coalescing at a
/// 169-entry ring made MMIO writes 8.9× faster than plain exits (590,000 vs 66,000
/// writes/s on CPU 1), within 1.1× of the RAM floor." Without a comparison it says what
/// there is.
public func benchHeadline(_ report: BenchReport) -> String {
  var sentence = headlineFigures(report)
  let doubts = headlineDoubts(report, keys: headlineKeys(report))
  if !doubts.isEmpty { sentence += " Read with care: " + doubts.joined(separator: ", ") + " (see the warnings)." }
  let failed = report.results.filter { !($0.exitCheck?.passed ?? true) }.count
  if failed > 0 {
    sentence +=
      " Exits per write did not match the ring model for \(failed) result(s): those figures are not at the ring size shown."
  }
  if report.ring?.arithmetic == .pre612 {
    sentence +=
      " This kernel has the pre-6.12 half-ring bug in coalesced_mmio_has_room() (fixed by commit "
      + "\(HasRoomArithmetic.fixCommit)): ring sizes up to \(RingGrantTable.shared(.pre612, slots: report.ring?.slots ?? 170).largestExactEverywhere) "
      + "were modelled exactly, larger ones at the mean size achieved (marked *)."
  }
  return sentence
}

func headlineFigures(_ report: BenchReport) -> String {
  let ioeventfd = ioeventfdSentences(report)
  // Without a ring comparison the ring headline only says there is nothing to compare.
  guard ioeventfd.isEmpty || report.comparisons.contains(where: { $0.key.mode.usesRing }) else {
    return ioeventfd.joined(separator: " ")
  }
  return ([ringHeadline(report)] + drainDelaySentences(report) + ioeventfd).joined(separator: " ")
}

/// Per `ioeventfd` result with a plain baseline: its speed against plain exits, and what it costs.
func ioeventfdSentences(_ report: BenchReport) -> [String] {
  report.comparisons.filter { $0.key.mode == .ioeventfd }.compactMap { comparison in
    guard let result = report.results.first(where: { $0.key == comparison.key }),
      let plain = plainBaseline(for: comparison.key, in: report.results)
    else { return nil }
    let faster = comparison.speedupVsPlain >= 1
    let factor = Human.times(faster ? comparison.speedupVsPlain : 1 / comparison.speedupVsPlain)
    return "KVM_IOEVENTFD made \(spaceWords(comparison.key.space)) writes \(factor) \(faster ? "faster" : "slower") "
      + "than plain exits (\(Human.amount(result.writesPerSec.median)) vs \(Human.amount(plain.writesPerSec.median)) "
      + "writes/s), but no written value reaches userspace."
  }
}

/// The comparison the ring headline names: at the largest ring size, the fastest there.
func headlineComparison(_ report: BenchReport) -> Comparison? {
  report.comparisons.filter { $0.key.mode.usesRing }.max { a, b in
    (a.key.ringSize ?? 0, a.speedupVsPlain) < (b.key.ringSize ?? 0, b.speedupVsPlain)
  }
}

/// The results whose figures the headline quotes: its comparisons, their plain baselines
/// and RAM floors (or, without a comparison, the plain and RAM results it names).
func headlineKeys(_ report: BenchReport) -> [CaseKey] {
  let named = [headlineComparison(report)].compactMap { $0 } + report.comparisons.filter { $0.key.mode == .ioeventfd }
  if named.isEmpty {
    return report.results.filter { $0.key.mode == .plain || $0.key.mode == .ram }.map(\.key)
  }
  var keys: [CaseKey] = []
  for comparison in named {
    keys.append(comparison.key)
    if let plain = plainBaseline(for: comparison.key, in: report.results) { keys.append(plain.key) }
    if let floor = ramFloor(for: comparison.key, in: report.results) { keys.append(floor.key) }
  }
  return keys
}

private func ringHeadline(_ report: BenchReport) -> String {
  let best = headlineComparison(report)
  if let best, let result = report.results.first(where: { $0.key == best.key }),
    let plain = plainBaseline(for: best.key, in: report.results)
  {
    let key = best.key
    var sentence = "Coalescing" + (key.mode == .coalescedV2 ? " into a v2 buffer" : "")
    let size = result.effectiveRingSize.map(ExitCheck.sizeText) ?? "?"
    sentence += " at a \(size)-entry ring made \(spaceWords(key.space)) writes "
    if best.speedupVsPlain >= 1 {
      sentence += "\(Human.times(best.speedupVsPlain)) faster than plain exits"
    } else {
      sentence += "\(Human.times(1 / best.speedupVsPlain)) slower than plain exits"
    }
    sentence += " (\(Human.amount(result.writesPerSec.median)) vs \(Human.amount(plain.writesPerSec.median)) writes/s"
    var context: [String] = []
    if let cpu = key.vcpuCPU { context.append("CPU \(cpu)") }
    if key.vcpus > 1 { context.append("\(key.vcpus) vCPUs") }
    if key.drain != .exit { context.append("\(key.drain.rawValue) drain") }
    if !context.isEmpty { sentence += " on " + context.joined(separator: ", ") }
    sentence += ")"
    if let floor = best.ratioToFloor {
      // Below the floor is flagged as impossible on hardware (`BenchWarning.Kind.belowRAMFloor`):
      // the figure is given, never "as fast as the RAM floor".
      sentence +=
        floor >= 1
        ? ", within \(Human.times(floor)) of the RAM floor."
        : ", and its time per write measured \(Human.times(floor)) the RAM floor's, which no hardware allows "
          + "(see the warnings)."
    } else {
      sentence += "."
    }
    return sentence
  }
  for plain in report.results where plain.key.mode == .plain {
    if let floor = ramFloor(for: plain.key, in: report.results), plain.writesPerSec.median > 0 {
      let slower = floor.writesPerSec.median / plain.writesPerSec.median
      return "Plain \(spaceWords(plain.key.space)) exits ran at \(Human.amount(plain.writesPerSec.median)) writes/s, "
        + "\(Human.times(slower)) slower than the RAM floor (\(Human.amount(floor.writesPerSec.median)) writes/s); "
        + "no coalesced result to compare."
    }
  }
  if let first = report.results.first(where: { $0.runs > 0 }) {
    return "\(configurationLabel(first.key)) ran at \(Human.amount(first.writesPerSec.median)) writes/s "
      + "(median of \(first.runs) runs); nothing to compare it with."
  }
  return "No run completed, so there is nothing to conclude."
}

func spaceWords(_ space: IOSpace) -> String {
  space == .mmio ? "MMIO" : "port I/O"
}
