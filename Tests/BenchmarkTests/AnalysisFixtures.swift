import Benchmarking
import KVM

/// A result with only the figures analysis reads; the rest zero.
func fixture(
  _ mode: BenchMode, _ space: IOSpace = .mmio, ring: UInt32? = nil, cpu: Int? = 1, drain: DrainStrategy = .exit,
  drainCPU: Int? = nil, vcpus: Int = 1, flushEvery: UInt32 = 0, writesPerSec: Double
) -> BenchResult {
  let key = CaseKey(
    mode: mode, space: space, ringSize: ring, flushEvery: flushEvery, drain: drain, vcpus: vcpus, vcpuCPU: cpu,
    drainCPU: drainCPU, numaNode: 0)
  let ns = 1e9 / writesPerSec
  return BenchResult(
    key: key, writes: 1000, runs: 3, writesPerSec: Summary(samples: [writesPerSec]), nsPerWrite: Summary(samples: [ns]),
    userspaceExitsPerWrite: 0, exitsPerSec: 0, kvmRunNs: LatencySummary(p50: 0, p90: 0, p99: 0, p999: 0, max: 0),
    kernelStats: [], verification: nil, observedVCPUCPUs: [], observedDrainCPU: nil)
}

/// ns/write of the model at ring size K: (K·c + p)/(K + 1).
func modelCost(ring: UInt32, c: Double, p: Double) -> Double {
  (Double(ring) * c + p) / (Double(ring) + 1)
}
