import BenchReporting
import Benchmarking
import KVM
import Reporting
import Testing

/// RFC 4180 fields of a whole CSV document: quoted fields may hold commas, doubled quotes and newlines.
func parseCSV(_ text: String) -> [[String]] {
  var rows: [[String]] = []
  var row: [String] = []
  var field = ""
  var quoted = false
  var characters = Array(text)[...]
  while let character = characters.popFirst() {
    if quoted {
      if character == "\"" {
        if characters.first == "\"" {
          field.append("\"")
          characters.removeFirst()
        } else {
          quoted = false
        }
      } else {
        field.append(character)
      }
    } else if character == "\"" {
      quoted = true
    } else if character == "," {
      row.append(field)
      field = ""
    } else if character == "\n" || character == "\r\n" {
      row.append(field)
      rows.append(row)
      row = []
      field = ""
    } else {
      field.append(character)
    }
  }
  if !field.isEmpty || !row.isEmpty { rows.append(row + [field]) }
  return rows
}

@Suite("cmmio bench CSV, markdown and table")
struct BenchTextTests {
  @Test("CSV: a header and one row per result, every row as wide as the header, flat column names")
  func csv() throws {
    let report = Synthetic.report()
    let rows = parseCSV(renderBench(report, format: .csv))
    try #require(rows.count == report.results.count + 1)
    let header = rows[0]
    #expect(rows.allSatisfy { $0.count == header.count })
    for column in [
      "mode", "ring_size", "writes_per_sec_median", "ns_per_write_mean", "kvm_run_ns_p99", "kernel_stats_exits",
      "verification_lost", "speedup_vs_plain", "interrupted",
    ] {
      #expect(header.contains(column), "no column \(column)")
    }
    #expect(Set(header).count == header.count)
    let median = try #require(header.firstIndex(of: "writes_per_sec_median"))
    for (row, result) in zip(rows.dropFirst(), report.results) {
      let value = try #require(Double(row[median]))
      #expect(value == result.writesPerSec.median)
    }
  }

  @Test("CSV: a counter only some results have keeps every row the same width; commas are quoted")
  func csvRagged() throws {
    var report = Synthetic.report()
    report.results[0].kernelStats.append((name: "odd,name", value: 7))
    let text = renderBench(report, format: .csv)
    let rows = parseCSV(text)
    #expect(rows.allSatisfy { $0.count == rows[0].count })
    #expect(rows[0].contains("kernel_stats_odd,name"))
    #expect(text.contains("\"kernel_stats_odd,name\""))
  }

  @Test("CSV of an interrupted report: a figure never measured is an empty cell, not null or nan")
  func csvInterrupted() throws {
    var report = Synthetic.report(interrupted: true)
    report.results[1].runs = 0
    report.results[1].writesPerSec = Summary(samples: [])
    report.results[1].nsPerWrite = Summary(samples: [])
    report.results[1].kernelStats = [(name: "exits", value: .nan)]
    let rows = parseCSV(renderBench(report, format: .csv))
    let header = rows[0]
    let row = rows[2]
    for column in ["writes_per_sec_median", "ns_per_write_stddev", "kernel_stats_exits"] {
      let index = try #require(header.firstIndex(of: column))
      #expect(row[index] == "", "\(column) is '\(row[index])'")
    }
    #expect(rows.dropFirst().allSatisfy { $0.last == "true" })
    #expect(!rows.joined().contains { $0 == "null" || $0.lowercased() == "nan" })
  }

  @Test("markdown: well-formed tables (same cell count per line, a separator line) and the headline")
  func markdown() throws {
    let report = Synthetic.report()
    let text = renderBench(report, format: .markdown)
    // Group consecutive table lines into tables.
    var tables: [[String]] = []
    var current: [String] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
      if line.hasPrefix("|") {
        current.append(line)
      } else if !current.isEmpty {
        tables.append(current)
        current = []
      }
    }
    if !current.isEmpty { tables.append(current) }
    try #require(tables.count == 2)  // results, comparisons
    #expect(tables[0].count == report.results.count + 2)
    #expect(tables[1].count == report.comparisons.count + 2)
    for table in tables {
      func cells(_ line: String) -> Int {
        var count = 0
        var previous: Character = " "
        for character in line {
          if character == "|" && previous != "\\" { count += 1 }
          previous = character
        }
        return count
      }
      #expect(table.allSatisfy { $0.hasSuffix("|") && cells($0) == cells(table[0]) })
      #expect(table[1].allSatisfy { "|-: ".contains($0) })
    }
    #expect(text.contains(benchHeadline(report)))
    #expect(text.contains("## Cost model"))
  }

  @Test("table: aligned results, comparisons, the cost model sentence, then the headline and the host")
  func table() throws {
    let report = Synthetic.report()
    let text = renderBench(report, format: .table)
    let lines = text.split(separator: "\n").map(String.init)
    let headerIndex = try #require(lines.firstIndex { $0.hasPrefix("mode ") })
    // The rule under the header marks the columns: every row fits inside it.
    let rule = lines[headerIndex + 1]
    #expect(rule.allSatisfy { $0 == "-" || $0 == " " })
    for row in lines[(headerIndex + 2)..<(headerIndex + 2 + report.results.count)] {
      #expect(row.count <= rule.count)
    }
    // The fit through the wobbled synthetic points lands near the model's c = 6,624 ns, p − c = 7,371 ns.
    #expect(text.contains("coalesced mmio, CPU 0: a coalesced write costs 6,628 ns in the kernel; "))
    #expect(text.contains("a round trip to userspace costs 7,336 ns on this host (R² 0.999, 9 ring sizes)."))
    #expect(lines[lines.count - 2] == benchHeadline(report))
    #expect(lines[lines.count - 1].hasPrefix("host: 6.18.44-fc-v595 x86_64, kvm_pvm"))
  }

  @Test("headline: the full ring's speedup over plain, both rates and the distance to the floor")
  func headline() {
    let headline = benchHeadline(Synthetic.report())
    // Both CPUs reach K = 169; CPU 1 has the larger speedup there:
    // 1e9/(((169·6710 + 14420)/170)·1.002) = 147,735 writes/s against 1e9/15400 = 64,935,
    // and 6,769 ns/write against the floor's 5,650.
    #expect(
      headline
        == "Coalescing at a 169-entry ring made MMIO writes 2.3× faster than plain exits "
        + "(147,735 vs 64,935 writes/s on CPU 1), within 1.20× of the RAM floor.")
  }

  @Test("headline without comparisons says what there is, never crashes")
  func headlineFallbacks() {
    var report = Synthetic.report()
    report.results = report.results.filter { !$0.key.mode.usesRing }
    report.comparisons = []
    report.costModels = []
    #expect(benchHeadline(report).hasPrefix("Plain MMIO exits ran at 66,007 writes/s, 2.7× slower than the RAM floor"))
    report.results = []
    #expect(benchHeadline(report) == "No run completed, so there is nothing to conclude.")
    for format in OutputFormat.allCases { #expect(!renderBench(report, format: format).isEmpty) }
  }
}
