import Benchmarking
import KVM

/// A realistic report without a run: figures shaped like this machine's (kvm_pvm, an
/// emulated guest): plain ≈ 66k writes/s, RAM ≈ 178k, coalesced climbing from ≈ 97k at
/// K = 1 to ≈ 150k at K = 169, following the cost model with a little run-to-run noise,
/// on two vCPU CPUs.
enum Synthetic {
  static let rings: [UInt32] = [1, 2, 4, 8, 16, 32, 64, 128, 169]
  static let writes = 20_000
  /// Run-to-run spread around each figure (five kept runs).
  static let spread = [0.988, 0.996, 1.0, 1.004, 1.011]
  /// Deterministic wobble so the curves are not textbook-smooth.
  static let wobble = [1.0, 0.994, 1.006, 0.997, 1.004, 0.998, 1.003, 0.996, 1.002]

  static var host: Host {
    var host = Host.current()
    host.kernelRelease = "6.18.44-fc-v595"
    host.arch = "x86_64"
    host.backend = "kvm_pvm"
    host.cpuModel = "Intel(R) Xeon(R) Processor @ 2.50GHz"
    host.pageSize = 4096
    return host
  }

  static func result(
    _ mode: BenchMode, ring: UInt32? = nil, cpu: Int, nsPerWrite: Double, exitsPerWrite: Double
  ) -> BenchResult {
    let key = CaseKey(
      mode: mode, space: .mmio, ringSize: ring, flushEvery: 0, drain: .exit, vcpus: 1, vcpuCPU: cpu, drainCPU: nil,
      numaNode: 0)
    let times = spread.map { nsPerWrite * $0 }
    let exits = Double(writes) * exitsPerWrite
    let perRun = exits > 0 ? Double(writes) / exits : Double(writes)
    let run = UInt64(perRun * nsPerWrite)
    return BenchResult(
      key: key, writes: writes, runs: spread.count, writesPerSec: Summary(samples: times.map { 1e9 / $0 }),
      nsPerWrite: Summary(samples: times), userspaceExitsPerWrite: exitsPerWrite,
      exitsPerSec: exitsPerWrite * 1e9 / nsPerWrite,
      kvmRunNs: LatencySummary(p50: run, p90: run * 11 / 10, p99: run * 13 / 10, p999: run * 2, max: run * 3),
      kernelStats: [
        ("exits", Double(mode == .ram ? 3 : writes + 3)), ("mmio_exits", exits), ("io_exits", 0),
        ("insn_emulation", Double(mode == .ram ? 0 : writes)), ("halt_exits", 1),
      ],
      verification: mode == .ram ? nil : Verification(entries: writes * spread.count, lost: 0, outOfOrder: 0),
      observedVCPUCPUs: [cpu], observedDrainCPU: nil)
  }

  /// The report: ram, plain and coalesced at every ring size, on CPUs 0 and 1.
  static func report(interrupted: Bool = false) -> BenchReport {
    var configuration = BenchConfiguration()
    configuration.writes = UInt32(writes)
    configuration.ringSizes = rings
    configuration.vcpuCPUs = CPUList([0, 1])
    var results: [BenchResult] = []
    // Per CPU: (c, p) of the model in ns, plain and ram ns/write.
    let machines: [(cpu: Int, c: Double, p: Double, plain: Double, ram: Double)] = [
      (0, 6_624, 13_995, 15_150, 5_618), (1, 6_710, 14_420, 15_400, 5_650),
    ]
    for machine in machines {
      results.append(result(.ram, cpu: machine.cpu, nsPerWrite: machine.ram, exitsPerWrite: 0))
      results.append(result(.plain, cpu: machine.cpu, nsPerWrite: machine.plain, exitsPerWrite: 1))
      for (ring, wobble) in zip(rings, wobble) {
        let k = Double(ring)
        let cost = (k * machine.c + machine.p) / (k + 1) * wobble
        results.append(result(.coalesced, ring: ring, cpu: machine.cpu, nsPerWrite: cost, exitsPerWrite: 1 / (k + 1)))
      }
    }
    let (comparisons, models) = analyze(results: results)
    return BenchReport(
      host: host, ringCapacity: 169, configuration: configuration, results: results, comparisons: comparisons,
      costModels: models, interrupted: interrupted)
  }
}
