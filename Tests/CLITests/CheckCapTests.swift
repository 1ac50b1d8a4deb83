import CMMIOTestSupport
import Foundation
import Testing

@Suite("cmmio check-cap, the built binary", .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct CheckCapTests {
  @Test("--format json parses and carries every key of the contract, with this kernel's answers")
  func jsonContract() throws {
    let run = try CMMIOBinary.run(["check-cap", "--format", "json"])
    #expect(run.status == 0, "\(run.stderr)")
    let json = try #require(run.json, "not JSON: \(run.stdout)")
    #expect(json["schema"] as? String == "cmmio.check-cap/1")
    for key in ["api_version", "kernel_release", "arch", "backend", "page_size", "features", "host"] {
      #expect(json[key] != nil, "missing \(key)")
    }
    #expect(json["api_version"] as? Int == 12)
    let features = try #require(json["features"] as? [String: Any])
    let mmio = try #require(features["coalesced_mmio"] as? [String: Any])
    for key in ["supported", "ring_page_offset", "ring_entries", "usable_entries"] {
      #expect(mmio[key] != nil, "missing coalesced_mmio.\(key)")
    }
    let pageSize = try #require(json["page_size"] as? Int)
    #expect(mmio["ring_entries"] as? Int == (pageSize - 8) / 24)
    #expect(mmio["usable_entries"] as? Int == (pageSize - 8) / 24 - 1)
    for name in ["coalesced_pio", "coalesced_mmio2", "binary_stats", "ioeventfd"] {
      let feature = try #require(features[name] as? [String: Any], "missing \(name)")
      #expect(feature["supported"] is Bool)
    }
    let mmio2 = try #require(features["coalesced_mmio2"] as? [String: Any])
    let probe = try #require(mmio2["probe"] as? [String: Any])
    #expect((probe["tried"] as? String)?.contains("KVM_CREATE_COALESCED_MMIO_BUFFER") == true)
    #expect(probe["answer"] is String)
    let host = try #require(json["host"] as? [String: Any])
    #expect((host["cpus_online"] as? Int ?? 0) >= 1)
    let nodes = try #require(host["numa_nodes"] as? [[String: Any]])
    #expect(!nodes.isEmpty)
    for node in nodes {
      #expect(node["node"] is Int && node["cpus"] is [Int] && node["memory_mib"] is Int)
    }
  }

  @Test("table, csv and markdown formats print the same facts")
  func otherFormats() throws {
    let table = try CMMIOBinary.run(["check-cap"])
    #expect(table.status == 0)
    #expect(table.stdout.contains("coalesced-mmio"))
    let csv = try CMMIOBinary.run(["check-cap", "--format", "csv"])
    #expect(csv.stdout.hasPrefix("key,value\n"))
    #expect(csv.stdout.contains("features.coalesced_mmio.usable_entries,"))
    let markdown = try CMMIOBinary.run(["check-cap", "--format", "markdown"])
    #expect(markdown.stdout.hasPrefix("| key | value |"))
  }

  @Test("--require of a missing feature exits 3 and names it; of a present one exits 0")
  func require() throws {
    let caps = try #require(try CMMIOBinary.run(["check-cap", "--format", "json"]).json)
    let features = try #require(caps["features"] as? [String: Any])
    let v2 = (features["coalesced_mmio2"] as? [String: Any])?["supported"] as? Bool ?? false
    let run = try CMMIOBinary.run(["check-cap", "--require", "coalesced-mmio2"])
    if v2 {
      #expect(run.status == 0)
    } else {
      #expect(run.status == 3)
      #expect(run.stderr.contains("coalesced-mmio2"))
      #expect(run.stderr.split(separator: "\n").count == 1)
    }
    #expect(try CMMIOBinary.run(["check-cap", "--require", "coalesced-mmio"]).status == 0)
  }

  @Test("--output writes the report atomically and leaves no temporary file")
  func output() throws {
    let folder = try TemporaryFolder()
    let file = folder.path("caps.json")
    let run = try CMMIOBinary.run(["check-cap", "--format", "json", "--output", file])
    #expect(run.status == 0)
    #expect(run.stdout.isEmpty)
    let data = try Data(contentsOf: URL(fileURLWithPath: file))
    #expect(
      (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["schema"] as? String == "cmmio.check-cap/1")
    #expect(try folder.contents() == ["caps.json"])
  }
}

@Suite("cmmio exit statuses")
struct ExitStatusTests {
  @Test(
    "bad devices exit 2 with one sentence",
    arguments: ["/nonexistent/kvm", "/tmp", "/etc/hostname", "/dev/null"])
  func badDevice(path: String) throws {
    let run = try CMMIOBinary.run(["check-cap", "--device", path])
    #expect(run.status == 2, "\(run.stderr)")
    #expect(run.stderr.hasPrefix("cmmio: ") && run.stderr.split(separator: "\n").count == 1)
    #expect(run.stderr.contains(path))
  }

  @Test("CMMIO_DEVICE is honoured")
  func environmentDevice() throws {
    let run = try CMMIOBinary.run(["check-cap"], environment: ["CMMIO_DEVICE": "/nonexistent/kvm"])
    #expect(run.status == 2)
    #expect(run.stderr.contains("/nonexistent/kvm"))
  }

  @Test(
    "usage errors exit 64 with one sentence and no usage dump",
    arguments: [
      ["check-cap", "--bogus"], ["check-cap", "--format", "xml"], ["check-cap", "--require", "nope"],
      ["check-cap", "--device", ""], ["check-cap", "--output", ""], ["no-such-subcommand"],
    ])
  func usage(arguments: [String]) throws {
    let run = try CMMIOBinary.run(arguments)
    #expect(run.status == 64, "\(arguments): \(run.stderr)")
    #expect(!run.crashed)
    #expect(run.stderr.hasPrefix("cmmio: ") && run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
  }

  @Test("an --output that cannot be written exits 1 and leaves nothing behind")
  func unwritableOutput() throws {
    let run = try CMMIOBinary.run(["check-cap", "--output", "/nonexistent-dir/caps.json"])
    #expect(run.status == 1)
    #expect(run.stderr.contains("/nonexistent-dir/caps.json"))
    let directory = try CMMIOBinary.run(["check-cap", "--output", "/tmp"])
    #expect(directory.status == 1)
  }

  @Test("--help and --version exit 0 on stdout")
  func help() throws {
    let help = try CMMIOBinary.run(["--help"])
    #expect(help.status == 0 && help.stdout.contains("check-cap"))
    let version = try CMMIOBinary.run(["--version"])
    #expect(version.status == 0 && !version.stdout.isEmpty)
  }
}
