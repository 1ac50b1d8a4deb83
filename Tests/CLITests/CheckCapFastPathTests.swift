import KVM
import Reporting
import Testing

@testable import cmmio

@Suite("check-cap's fast argument path agrees with ArgumentParser")
struct CheckCapFastPathTests {
  static let accepted: [[String]] = [
    ["check-cap"],
    ["check-cap", "--format", "json"],
    ["check-cap", "--format", "csv", "--device", "/dev/kvm", "--output", "/tmp/x.json"],
    ["check-cap", "--require", "coalesced-mmio", "--require", "coalesced-pio", "--format", "markdown"],
    ["check-cap", "--device", "/dev/kvm", "--device", "/other"],
    ["check-cap", "--format", "openmetrics"],
  ]

  static let declined: [[String]] = [
    [], ["--help"], ["check-cap", "--help"], ["check-cap", "-h"], ["check-cap", "--format=json"],
    ["check-cap", "--format"], ["check-cap", "--format", "xml"], ["check-cap", "--require", "nope"],
    ["check-cap", "--device", ""], ["check-cap", "--output", "-"], ["check-cap", "--bogus", "x"],
    ["check-cap", "extra"], ["register", "--zone", "0x1000:8"],
  ]

  @Test("inputs it accepts parse to the same options", arguments: accepted)
  func agrees(arguments: [String]) throws {
    let fast = try #require(CheckCapFastPath(arguments: arguments))
    let parsed = try #require(try CMMIO.parseAsRoot(arguments) as? CheckCapCommand)
    #expect(fast.device == parsed.common.device)
    #expect(fast.format == parsed.common.format)
    #expect(fast.output == parsed.common.output)
    #expect(fast.required == parsed.required)
  }

  @Test("anything else is left to ArgumentParser", arguments: declined)
  func declines(arguments: [String]) {
    #expect(CheckCapFastPath(arguments: arguments) == nil)
  }
}
