import Reporting
import Testing

@Suite("OpenMetrics text")
struct OpenMetricsTests {
  @Test("TYPE, UNIT, HELP, samples, # EOF; empty families and unmeasured values left out")
  func layout() {
    var time = MetricFamily(name: "x_time_nanoseconds", help: "A time.", unit: "nanoseconds")
    time.add(1_500, [("mode", "plain")])
    time.add(.nan, [("mode", "ram")])
    time.add(0.00588, [])
    let empty = MetricFamily(name: "x_empty", help: "Nothing measured.")
    #expect(
      OpenMetrics.render([time, empty]) == """
        # TYPE x_time_nanoseconds gauge
        # UNIT x_time_nanoseconds nanoseconds
        # HELP x_time_nanoseconds A time.
        x_time_nanoseconds{mode="plain"} 1500
        x_time_nanoseconds 0.00588
        # EOF

        """)
    #expect(OpenMetrics.render([]) == "# EOF\n")
  }

  @Test("label values escape backslash, quote and newline; HELP never carries a raw quote")
  func escaping() {
    #expect(OpenMetrics.escapeLabel("a\\b\"c\nd") == "a\\\\b\\\"c\\nd")
    var family = MetricFamily(name: "x", help: "say \"hi\"\\now\n")
    family.add(1, [("k", "v\"")])
    let text = OpenMetrics.render([family])
    #expect(text.contains("# HELP x say 'hi'\\\\now\\n\n"))
    #expect(text.contains("x{k=\"v\\\"\"} 1\n"))
  }

  @Test("numbers: integers plain, fractions and tiny values round-trip")
  func numbers() {
    #expect(OpenMetrics.number(341_721) == "341721")
    #expect(OpenMetrics.number(-2) == "-2")
    #expect(OpenMetrics.number(0.5) == "0.5")
    #expect(Double(OpenMetrics.number(1e-05)) == 1e-05)
    #expect(Double(OpenMetrics.number(1_796_021_629.562343)) == 1_796_021_629.562343)
  }
}
