import Benchmarking
import KVM
import Testing

@Suite("Cost model fit")
struct CostFitTests {
  @Test("exact model data: the fit recovers c and p, R² = 1")
  func recoversExactModel() throws {
    let c = 6_624.0
    let p = 13_995.0
    let rings: [UInt32] = [1, 2, 4, 8, 16, 32, 64, 128, 169]
    let fit = try #require(CostFit(points: rings.map { (Double($0), modelCost(ring: $0, c: c, p: p)) }))
    #expect(abs(fit.coalescedNs - c) < 1e-6)
    #expect(abs(fit.exitNs - p) < 1e-6)
    #expect(abs(fit.rSquared - 1) < 1e-12)
    #expect(fit.points == rings.count)
  }

  @Test("noisy data: R² below 1 but the estimates stay close")
  func noisyData() throws {
    let noise = [40.0, -55, 30, -20, 60, -35, 10, -45]
    let rings: [UInt32] = [1, 3, 7, 15, 31, 63, 127, 169]
    let points = zip(rings, noise).map { (Double($0), modelCost(ring: $0, c: 700, p: 15_000) + $1) }
    let fit = try #require(CostFit(points: points))
    #expect(fit.rSquared < 1)
    #expect(fit.rSquared > 0.99)
    #expect(abs(fit.coalescedNs - 700) < 100)
    #expect(abs(fit.exitNs - 15_000) < 300)
  }

  @Test("one point, the same K repeated, or no finite figure: no fit, no NaN, no crash")
  func degenerate() {
    #expect(CostFit(points: []) == nil)
    #expect(CostFit(points: [(8, 1_000)]) == nil)
    #expect(CostFit(points: [(8, 1_000), (8, 1_100), (8, 900)]) == nil)
    #expect(CostFit(points: [(8, .nan), (16, .nan)]) == nil)
    #expect(CostFit(points: [(8, 1_000), (16, .infinity)]) == nil)
  }

  @Test("flat figures: a horizontal line, R² = 1, c = p")
  func flat() throws {
    let fit = try #require(CostFit(points: [(1, 5_000), (8, 5_000), (64, 5_000)]))
    #expect(fit.rSquared == 1)
    #expect(abs(fit.coalescedNs - 5_000) < 1e-9)
    #expect(abs(fit.exitNs - 5_000) < 1e-9)
    #expect(!fit.rSquared.isNaN)
  }

  @Test("analyze fits one model per configuration, ring size left out, only with two or more ring sizes")
  func modelsPerConfiguration() throws {
    var results: [BenchResult] = []
    for ring: UInt32 in [1, 16, 169] {
      results.append(
        fixture(.coalesced, ring: ring, cpu: 0, writesPerSec: 1e9 / modelCost(ring: ring, c: 800, p: 9_000)))
      results.append(
        fixture(.coalesced, ring: ring, cpu: 1, writesPerSec: 1e9 / modelCost(ring: ring, c: 900, p: 8_000)))
    }
    results.append(fixture(.coalesced, .pio, ring: 4, cpu: 0, writesPerSec: 100_000))
    let models = analyze(results: results).costModels
    try #require(models.count == 2)
    #expect(models.map(\.key.vcpuCPU) == [0, 1])
    #expect(models.allSatisfy { $0.key.ringSize == nil && $0.points == 3 })
    #expect(abs(models[0].coalescedNs - 800) < 1e-6 && abs(models[0].exitNs - 9_000) < 1e-6)
    #expect(abs(models[1].roundTripNs - 7_100) < 1e-6)
  }
}

@Suite("Comparisons against plain and the RAM floor")
struct ComparisonTests {
  @Test("each ring result is compared with the plain result of its own space and CPU")
  func matchesSpaceAndCPU() throws {
    let results = [
      fixture(.plain, .mmio, cpu: 0, writesPerSec: 50_000),
      fixture(.plain, .mmio, cpu: 1, writesPerSec: 60_000),
      fixture(.plain, .pio, cpu: 1, writesPerSec: 80_000),
      fixture(.ram, .mmio, cpu: 1, writesPerSec: 200_000),
      fixture(.coalesced, .mmio, ring: 169, cpu: 1, writesPerSec: 180_000),
      fixture(.coalesced, .pio, ring: 169, cpu: 1, writesPerSec: 160_000),
    ]
    let comparisons = analyze(results: results).comparisons
    try #require(comparisons.count == 2)
    #expect(comparisons[0].key == results[4].key)
    #expect(abs(comparisons[0].speedupVsPlain - 3) < 1e-12)  // 180k / 60k, not / 50k or / 80k
    #expect(abs(comparisons[1].speedupVsPlain - 2) < 1e-12)  // 160k / 80k
    // ns/write ratio to the floor: (1e9/180k)/(1e9/200k) = 200/180.
    #expect(abs((comparisons[0].ratioToFloor ?? 0) - 200.0 / 180) < 1e-12)
    // The RAM floor carries space mmio; the pio result still finds it (a RAM store has no space).
    #expect(abs((comparisons[1].ratioToFloor ?? 0) - 200.0 / 160) < 1e-12)
  }

  @Test("plain's drain and drainer CPU need not match; the doorbell interval and vCPU count must")
  func plainHasNoDrain() throws {
    let results = [
      fixture(.plain, cpu: 0, vcpus: 2, writesPerSec: 10_000),
      fixture(.plain, cpu: 0, flushEvery: 16, writesPerSec: 20_000),
      fixture(.plain, cpu: 0, writesPerSec: 40_000),
      fixture(.coalesced, ring: 8, cpu: 0, drain: .thread, drainCPU: 1, writesPerSec: 120_000),
    ]
    let comparisons = analyze(results: results).comparisons
    try #require(comparisons.count == 1)
    #expect(abs(comparisons[0].speedupVsPlain - 3) < 1e-12)
    #expect(comparisons[0].ratioToFloor == nil)
  }

  @Test("no matching plain, or a plain with no kept run: no comparison rather than a NaN")
  func noBaseline() {
    var empty = fixture(.plain, cpu: 2, writesPerSec: 1)
    empty.writesPerSec = Summary(samples: [])
    empty.nsPerWrite = Summary(samples: [])
    let results = [
      fixture(.plain, cpu: 3, writesPerSec: 50_000), empty,
      fixture(.coalesced, ring: 8, cpu: 2, writesPerSec: 120_000),
    ]
    #expect(analyze(results: results).comparisons.isEmpty)
    #expect(analyze(results: []).comparisons.isEmpty)
  }

  @Test("coalesced-v2 results are compared too; ram and plain are not")
  func whichModes() {
    let results = [
      fixture(.plain, writesPerSec: 50_000), fixture(.ram, writesPerSec: 200_000),
      fixture(.coalescedV2, ring: 8, writesPerSec: 100_000),
    ]
    let comparisons = analyze(results: results).comparisons
    #expect(comparisons.map(\.key.mode) == [.coalescedV2])
  }
}
