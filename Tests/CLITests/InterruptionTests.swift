import CMMIOTestSupport
import Foundation
import Testing

@Suite("SIGINT and SIGTERM end any subcommand cleanly", .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct InterruptionTests {
  @Test(
    "verify: exit 130, a valid JSON report of the checks made so far, marked interrupted", arguments: [SIGINT, SIGTERM])
  func verify(signal: Int32) throws {
    let running = try CMMIOBinary.start(["verify", "--format", "json"])
    // The ring sweeps take over a second here; stop it in the middle.
    Thread.sleep(forTimeInterval: 0.7)
    kill(running.process.processIdentifier, signal)
    let run = running.finish()
    #expect(!run.crashed, "killed by the signal instead of handling it")
    #expect(run.status == 130, "\(run.stderr)")
    #expect(run.stderr.contains(signal == SIGINT ? "SIGINT" : "SIGTERM"))
    let json = try #require(run.json, "not JSON: \(run.stdout)")
    #expect(json["interrupted"] as? Bool == true)
    let checks = try #require(json["checks"] as? [[String: Any]])
    #expect(checks.count < 18, "the suite ran to the end despite the signal")
  }

  @Test("an uninterrupted verify says so")
  func notInterrupted() throws {
    let run = try CMMIOBinary.run(["verify", "--format", "json", "--space", "pio"])
    #expect(run.status == 0)
    #expect(run.json?["interrupted"] as? Bool == false)
  }
}
