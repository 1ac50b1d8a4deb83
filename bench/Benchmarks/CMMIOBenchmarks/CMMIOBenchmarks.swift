import BenchReporting
import Benchmark
import Benchmarking
import KVM
import Parsing
import Reporting

/// A ring page the benchmark owns and fills as the kernel would: `entries` filled
/// from index 0, `last` published. Draining it measures `RingCursor.drain`, the
/// loop every exit of a coalesced benchmark runs.
final class FakeRing: @unchecked Sendable {
  let page: UnsafeMutableRawPointer
  let ring: CoalescedRing

  init(pageSize: Int = 4096) {
    page = UnsafeMutableRawPointer.allocate(byteCount: pageSize, alignment: pageSize)
    page.initializeMemory(as: UInt8.self, repeating: 0, count: pageSize)
    ring = CoalescedRing(page: page, pageSize: pageSize)
    for index in 0..<Int(ring.capacity) {
      let entry = page.advanced(by: 8 + index * 24)
      entry.storeBytes(of: 0x10_0000 + UInt64(index) * 4, as: UInt64.self)
      entry.storeBytes(of: 4, toByteOffset: 8, as: UInt32.self)
      entry.storeBytes(of: 0, toByteOffset: 12, as: UInt32.self)
      entry.storeBytes(of: UInt64(index), toByteOffset: 16, as: UInt64.self)
    }
  }

  /// Makes `count` entries pending from index 0, as the kernel publishes them.
  func fill(_ count: UInt32) {
    ring.reset(to: 0)
    page.advanced(by: 4).storeBytes(of: count, as: UInt32.self)
  }

  deinit { page.deallocate() }
}

let benchmarks: @Sendable () -> Void = {
  let fake = FakeRing()
  let full = fake.ring.usableEntries

  Benchmark(
    "Ring drain of 169 entries",
    configuration: .init(metrics: [.wallClock, .mallocCountTotal], scalingFactor: .one)
  ) { benchmark in
    for _ in benchmark.scaledIterations {
      fake.fill(0)
      guard var cursor = try? RingCursor(ring: fake.ring) else { fatalError("ring corrupt") }
      fake.fill(full)
      var sum: UInt64 = 0
      benchmark.startMeasurement()
      _ = try? cursor.drain { sum &+= $0.data }
      benchmark.stopMeasurement()
      blackHole(sum)
    }
  }

  Benchmark("Parse CPU list 0-3,8,10-15", configuration: .init(metrics: [.wallClock, .mallocCountTotal])) {
    benchmark in
    for _ in benchmark.scaledIterations {
      blackHole(try? CPUList(parsing: "0-3,8,10-15"))
    }
  }

  Benchmark("Parse zone 0x100000:0x1000:pio", configuration: .init(metrics: [.wallClock, .mallocCountTotal])) {
    benchmark in
    for _ in benchmark.scaledIterations {
      blackHole(try? ZoneSpec.zone("0x100000:0x1000:pio"))
    }
  }

  Benchmark("Encode one bench result as JSON", configuration: .init(metrics: [.wallClock, .mallocCountTotal])) {
    benchmark in
    let report = oneResultReport()
    for _ in benchmark.scaledIterations {
      blackHole(renderBench(report, format: .json))
    }
  }
}

/// A report holding one coalesced result with every field filled, as `cmmio bench` makes.
func oneResultReport() -> BenchReport {
  let key = CaseKey(
    mode: .coalesced, space: .mmio, ringSize: 169, flushEvery: 0, drain: .exit, vcpus: 1, vcpuCPU: 0, drainCPU: nil,
    numaNode: 0)
  let samples = [149_000.0, 150_200, 151_000, 149_800, 150_500]
  let result = BenchResult(
    key: key, writes: 20_000, runs: samples.count, writesPerSec: Summary(samples: samples),
    nsPerWrite: Summary(samples: samples.map { 1e9 / $0 }), userspaceExitsPerWrite: 1.0 / 170,
    exitsPerSec: 880,
    kvmRunNs: LatencySummary(p50: 1_100_000, p90: 1_200_000, p99: 1_400_000, p999: 2_000_000, max: 2_500_000),
    kernelStats: [("exits", 20_120), ("mmio_exits", 118), ("io_exits", 0), ("insn_emulation", 20_000)],
    verification: Verification(entries: 100_000, lost: 0, outOfOrder: 0), observedVCPUCPUs: [0], observedDrainCPU: nil)
  return BenchReport(
    host: Host.current(), ringCapacity: 169, configuration: BenchConfiguration(), results: [result],
    comparisons: [], costModels: [], interrupted: false)
}
