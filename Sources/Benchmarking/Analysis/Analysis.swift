/// What `cmmio bench` concludes from its results: each ring or `ioeventfd` result against its plain
/// baseline and its RAM floor, and the cost model fitted across ring sizes.
///
/// Comparisons use medians (robust to one slow run); a result whose figure is not a
/// finite positive number (no kept run) is never a baseline and gets no comparison.
public func analyze(results: [BenchResult]) -> (comparisons: [Comparison], costModels: [CostModel]) {
  var comparisons: [Comparison] = []
  for result in results where result.key.mode.usesRing || result.key.mode == .ioeventfd {
    guard let plain = plainBaseline(for: result.key, in: results),
      let speedup = ratio(result.writesPerSec.median, plain.writesPerSec.median)
    else { continue }
    let floor = ramFloor(for: result.key, in: results)
    let toFloor = floor.flatMap { ratio(result.nsPerWrite.median, $0.nsPerWrite.median) }
    comparisons.append(Comparison(key: result.key, speedupVsPlain: speedup, ratioToFloor: toFloor))
  }

  // One model per configuration with the ring size left out, in order of first appearance.
  // The ring size each result was measured at: K, or the mean achieved on a pre-6.12 kernel.
  var groups: [CaseKey: [(ringSize: Double, nsPerWrite: Double)]] = [:]
  var order: [CaseKey] = []
  for result in results where result.key.mode.usesRing {
    guard let ringSize = result.effectiveRingSize else { continue }
    var key = result.key
    key.ringSize = nil
    if groups[key] == nil { order.append(key) }
    groups[key, default: []].append((ringSize, result.nsPerWrite.median))
  }
  var models: [CostModel] = []
  for key in order {
    guard let points = groups[key], let fit = CostFit(points: points) else { continue }
    models.append(
      CostModel(
        key: key, coalescedNs: fit.coalescedNs, exitNs: fit.exitNs, rSquared: fit.rSquared, points: fit.points))
  }
  return (comparisons, models)
}

/// The `plain` result a ring result is compared with: same space, vCPU count, vCPU CPU
/// and doorbell interval (plain has no ring size and no drain). Among several, the one
/// that also shares the drainer's CPU, then the NUMA node, then the drain strategy.
public func plainBaseline(for key: CaseKey, in results: [BenchResult]) -> BenchResult? {
  bestMatch(in: results) { candidate in
    guard candidate.mode == .plain, candidate.space == key.space, candidate.vcpus == key.vcpus,
      candidate.vcpuCPU == key.vcpuCPU, candidate.flushEvery == key.flushEvery
    else { return nil }
    return score(
      [candidate.drainCPU == key.drainCPU, candidate.numaNode == key.numaNode, candidate.drain == key.drain])
  }
}

/// The `ram` result (the floor: the same loop, no exit) for a configuration: same vCPU
/// count and vCPU CPU; preferring the same doorbell interval, then space, then drainer
/// CPU, then NUMA node (a RAM store has no space of its own, so an engine may label it
/// either way).
public func ramFloor(for key: CaseKey, in results: [BenchResult]) -> BenchResult? {
  bestMatch(in: results) { candidate in
    guard candidate.mode == .ram, candidate.vcpus == key.vcpus, candidate.vcpuCPU == key.vcpuCPU else { return nil }
    return score([
      candidate.flushEvery == key.flushEvery, candidate.space == key.space, candidate.drainCPU == key.drainCPU,
      candidate.numaNode == key.numaNode,
    ])
  }
}

/// The result with a usable median and the highest score (the first among equals).
private func bestMatch(in results: [BenchResult], scoring: (CaseKey) -> Int?) -> BenchResult? {
  var best: (result: BenchResult, score: Int)?
  for result in results {
    guard usable(result.writesPerSec.median), usable(result.nsPerWrite.median),
      let score = scoring(result.key)
    else { continue }
    if let current = best, current.score >= score { continue }
    best = (result, score)
  }
  return best?.result
}

/// Preferences in decreasing weight, as one number: the first outweighs all after it.
private func score(_ preferences: [Bool]) -> Int {
  preferences.reduce(0) { $0 * 2 + ($1 ? 1 : 0) }
}

private func usable(_ value: Double) -> Bool { value.isFinite && value > 0 }

private func ratio(_ numerator: Double, _ denominator: Double) -> Double? {
  guard usable(numerator), usable(denominator) else { return nil }
  return numerator / denominator
}
