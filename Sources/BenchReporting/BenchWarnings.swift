import Benchmarking
import KVM
import Reporting

/// The KVM backends that emulate every guest instruction, so that a RAM store is no
/// hardware floor there.
let emulatingBackends: Set<String> = ["kvm_pvm"]

/// A warning in one sentence, naming the result, the figure, the rule and what it means.
func warningSentence(_ warning: BenchWarning, in report: BenchReport) -> String {
  let subject = warning.key.map { resultLabel($0) + ": " } ?? ""
  switch warning.kind {
  case .loadedHost:
    let cpus = report.host.cpusOnline.cpus.count
    return "the host was loaded at start: its 1-minute load average was \(Human.fixed(warning.value, 2)) on \(cpus) "
      + "online CPU\(cpus == 1 ? "" : "s") (limit \(Human.fixed(warning.limit, 2)), "
      + "\(Human.fixed(BenchWarning.Rules.loadPerCPU, 1)) per CPU); other work competed for the CPUs, so the "
      + "figures may be low and noisy."
  case .fewRuns:
    let runs = Int(warning.value)
    let what =
      warning.key == nil
      ? "each result kept only \(runs) run\(runs == 1 ? "" : "s")"
      : "only \(runs) run\(runs == 1 ? " was" : "s were") kept (the run was interrupted)"
    return subject + what + ", fewer than \(Int(warning.limit)): its spread cannot be judged and outliers cannot "
      + "be found; use --runs 5 or more."
  case .highVariation:
    return subject + "writes/s varied by \(percent(warning.value)) of their mean from run to run (coefficient of "
      + "variation; limit \(percent(warning.limit))): a difference smaller than that is noise."
  case .outliers:
    let runs = warning.runs
    let result = warning.key.flatMap { key in report.results.first { $0.key == key } }
    let values = runs.compactMap { run in result.map { Human.amount($0.writesPerSec.samples[run - 1]) } }
    let named =
      runs.count == 1
      ? "run \(runs[0])"
      : "runs " + runs.dropLast().map(String.init).joined(separator: ", ") + " and \(runs[runs.count - 1])"
    var sentence = subject + "\(named) of \(result?.runs ?? 0) lay outside Tukey's fences (Q1 − 1.5·IQR, "
    sentence += "Q3 + 1.5·IQR) of writes/s"
    if let result, !values.isEmpty {
      sentence += " (\(values.joined(separator: ", ")) against a median of \(Human.amount(result.writesPerSec.median)))"
    }
    return sentence + ": something else ran, or the run was disturbed; the median resists it, the mean and sd do not."
  case .belowRAMFloor:
    let result = warning.key.flatMap { key in report.results.first { $0.key == key } }
    let floor = warning.key.flatMap { ramFloor(for: $0, in: report.results) }
    var sentence = subject + "a write took \(Human.times(warning.value)) the RAM floor's time"
    if let result, let floor {
      sentence += " (\(Human.amount(result.nsPerWrite.median)) vs \(Human.amount(floor.nsPerWrite.median)) ns)"
    }
    sentence += ", which real hardware does not allow: each such write leaves the guest for KVM, while a RAM store "
    sentence += "runs natively."
    if emulatingBackends.contains(report.host.backend) {
      sentence += " On \(report.host.backend), which emulates every guest instruction, the RAM store is emulated "
      sentence += "too, so the floor is no floor: the ratio compares two emulation paths (and this run's noise), "
      sentence += "not a device write with memory."
    } else {
      sentence += " Suspect the measurement (noise, a disturbed RAM run) before believing it."
    }
    return sentence
  case .contendedDrainer:
    let cpu = warning.key.flatMap { key in report.results.first { $0.key == key } }?.observedDrainCPU
    return subject + "the drainer thread ran for only \(percent(warning.value)) of a run's wall time (its CPU "
      + "time; limit \(percent(warning.limit))): for the rest other tasks had "
      + (cpu.map { "CPU \($0)" } ?? "its CPU") + ", the hypervisor took it (steal), or the drainer was blocked, "
      + "and writes waited in the ring meanwhile; this result's throughput and drain delay are those of a drainer "
      + "that did not have its CPU to itself."
  }
}

/// "coalesced mmio, CPU 0, K=169": the configuration and the ring size.
func resultLabel(_ key: CaseKey) -> String {
  configurationLabel(key) + (key.ringSize.map { ", K=\($0)" } ?? "")
}

/// 0.124 → "12.4%".
func percent(_ fraction: Double) -> String {
  Human.fixed(fraction * 100, 1, grouped: false) + "%"
}

/// The `warnings` array of the bench JSON: each with its `kind`, the result's
/// configuration (null for the whole run), the figure, the limit, and the sentence.
func warningsJSON(_ report: BenchReport) -> JSONValue {
  .array(
    benchWarnings(report).map { warning in
      var members: [(String, JSONValue)] = [
        ("kind", .string(warning.kind.rawValue)),
        ("configuration", warning.key.map { .object(keyMembers($0)) } ?? .null),
        ("value", .double(warning.value)),
        ("limit", .double(warning.limit)),
      ]
      if warning.kind == .outliers { members.append(("runs", .array(warning.runs.map { .integer($0) }))) }
      members.append(("message", .string(warningSentence(warning, in: report))))
      return .object(members)
    })
}

/// What the headline must own up to about the results it names: short phrases, or none.
func headlineDoubts(_ report: BenchReport, keys: [CaseKey]) -> [String] {
  var doubts: [String] = []
  for warning in benchWarnings(report) {
    let phrase: String
    switch warning.kind {
    case .loadedHost: phrase = "the host was loaded at start"
    case .fewRuns: phrase = "fewer than \(BenchWarning.Rules.minimumRuns) runs"
    case .highVariation: phrase = "run-to-run variation above \(percent(BenchWarning.Rules.maximumCV))"
    case .outliers: phrase = "outlier runs"
    case .belowRAMFloor: continue  // said in the sentence itself
    case .contendedDrainer: phrase = "a drainer sharing its CPU"
    }
    if let key = warning.key, !keys.contains(key) { continue }
    if !doubts.contains(phrase) { doubts.append(phrase) }
  }
  return doubts
}
