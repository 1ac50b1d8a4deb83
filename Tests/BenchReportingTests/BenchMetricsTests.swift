import BenchReporting
import Benchmarking
import KVM
import Reporting
import Testing

@Suite("cmmio bench --format openmetrics")
struct BenchMetricsTests {
  func lines(_ text: String, _ name: String) -> [Substring] {
    text.split(separator: "\n").filter { $0.hasPrefix(name + "{") }
  }

  @Test("medians per result with the configuration and host labels, ratios per comparison, # EOF")
  func figures() throws {
    let report = Synthetic.report()
    let text = renderBench(report, format: .openmetrics)
    #expect(text.hasSuffix("# EOF\n"))
    let medians = lines(text, "cmmio_bench_writes_per_second").filter { $0.contains("statistic=\"median\"") }
    #expect(medians.count == report.results.count)
    let result = try #require(report.results.first { $0.key.mode == .coalesced && $0.key.ringSize == 169 })
    let expected =
      "cmmio_bench_writes_per_second{mode=\"coalesced\",space=\"mmio\",ring_size=\"169\",drain=\"exit\","
      + "cpu=\"\(result.key.vcpuCPU ?? -1)\",vcpus=\"1\",flush_every=\"0\",drain_cpu=\"none\",numa_node=\"0\","
      + "kernel_release=\"6.18.44-fc-v595\",backend=\"kvm_pvm\",statistic=\"median\"} "
      + OpenMetrics.number(result.writesPerSec.median)
    #expect(medians.contains { $0 == expected }, "\(medians.first ?? "")")
    #expect(lines(text, "cmmio_bench_speedup_vs_plain_ratio").count == report.comparisons.count)
    let plain = lines(text, "cmmio_bench_write_time_nanoseconds").filter {
      $0.contains("mode=\"plain\"") && $0.contains("statistic=\"median\"")
    }
    #expect(plain.allSatisfy { $0.contains("ring_size=\"none\",drain=\"none\"") } && plain.count == 2)
    #expect(text.contains("# UNIT cmmio_bench_write_time_nanoseconds nanoseconds\n"))
    // Every warning kind is a sample, 0 where none was found.
    #expect(lines(text, "cmmio_bench_warnings").count == BenchWarning.Kind.allCases.count)
    #expect(lines(text, "cmmio_bench_warnings").allSatisfy { $0.hasSuffix(" 0") })
  }

  @Test("an interrupted report without runs still ends in # EOF, with no NaN")
  func empty() {
    let report = BenchReport(
      host: Synthetic.host, ringCapacity: 169, configuration: BenchConfiguration(), results: [], comparisons: [],
      costModels: [], interrupted: true)
    let text = renderBench(report, format: .openmetrics)
    #expect(text.hasSuffix("# EOF\n"))
    #expect(!text.contains("NaN") && !text.contains("nan"))
    #expect(text.contains("cmmio_bench_interrupted{kernel_release=\"6.18.44-fc-v595\",backend=\"kvm_pvm\"} 1"))
  }
}
