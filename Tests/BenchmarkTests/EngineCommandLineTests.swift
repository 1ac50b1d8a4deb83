import CMMIOTestSupport
import Foundation
import Testing

/// The `Threads:` count of /proc/PID/status (0 once the process is gone).
private func threads(of pid: Int32) -> Int {
  guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
  let line = status.split(separator: "\n").first { $0.hasPrefix("Threads:") }
  return line.flatMap { Int($0.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
}

/// Starts the built `cmmio`; with a `signal`, lets it measure for `seconds` once its first
/// benchmark thread is up and sends it the signal. Collects what it wrote. A process still
/// running 20 s after the signal (or, without one, after its start) fails the test and is killed.
private func interrupt(_ arguments: [String], after seconds: Double = 0, with signal: Int32? = nil) throws
  -> CommandLineRun
{
  let running = try CMMIOBinary.start(arguments)
  let process = running.process
  if let signal {
    // Wait until a benchmark thread exists (the process starts with one), then let it run a little.
    let started = Date()
    while threads(of: process.processIdentifier) < 2 && Date().timeIntervalSince(started) < 20 {
      Thread.sleep(forTimeInterval: 0.02)
    }
    Thread.sleep(forTimeInterval: seconds)
    kill(process.processIdentifier, signal)
  }
  // A signal or a timeout that does not stop it is a failure, not a hung test run.
  let signalled = Date()
  while process.isRunning && Date().timeIntervalSince(signalled) < 20 { Thread.sleep(forTimeInterval: 0.02) }
  if process.isRunning {
    Issue.record("cmmio was still running 20 s after the signal or its start")
    kill(process.processIdentifier, SIGKILL)
  }
  return running.finish()
}

@Suite("cmmio bench, the built binary", .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct EngineCommandLineTests {
  @Test("SIGINT mid-run: exit 130, a valid JSON report marked interrupted, with the runs measured so far")
  func sigint() throws {
    let run = try interrupt(
      ["bench", "--modes", "plain", "--writes", "500", "--runs", "1000000", "--warmup", "0", "--format", "json"],
      after: 0.5, with: SIGINT)
    #expect(!run.crashed)
    #expect(run.status == 130, "stderr: \(run.stderr)")
    let json = try #require(run.json, "stdout is not JSON: \(run.stdout.prefix(300))")
    #expect(json["interrupted"] as? Bool == true)
    let results = try #require(json["results"] as? [[String: Any]])
    #expect(results.count == 1)
    let runs = try #require(results.first?["runs"] as? Int)
    #expect(runs >= 1 && runs < 1_000_000)
    #expect(run.stderr.contains("SIGINT"))
  }

  @Test("SIGTERM in the middle of one long KVM_RUN loop: the vCPU is kicked out, exit 130")
  func sigtermDuringLongRun() throws {
    // One run of 4 billion RAM stores never exits to userspace on its own: only the kick ends it.
    let run = try interrupt(
      ["bench", "--modes", "ram", "--writes", "4000000000", "--runs", "1", "--warmup", "0", "--format", "json"],
      after: 0.5, with: SIGTERM)
    #expect(run.status == 130, "stderr: \(run.stderr)")
    let json = try #require(run.json)
    #expect(json["interrupted"] as? Bool == true)
    #expect((json["results"] as? [Any])?.isEmpty == true)
    #expect(run.stderr.contains("SIGTERM"))
  }

  @Test("--timeout ends a run that takes too long: exit 1 with a sentence naming it")
  func timeout() throws {
    let run = try interrupt([
      "bench", "--modes", "ram", "--writes", "4000000000", "--runs", "1", "--warmup", "0", "--timeout", "0.3",
    ])
    #expect(run.status == 1)
    #expect(run.stderr.contains("--timeout"), "stderr: \(run.stderr)")
    #expect(run.stderr.split(separator: "\n").count == 1)
  }

  @Test(
    "bad values exit 64 with one sentence",
    arguments: [
      ["--flush-every", "0"], ["--ring-sizes", "0"], ["--ring-sizes", "170"], ["--ring-sizes", "8,x"],
      ["--writes", "0"], ["--writes", "4294967296"], ["--runs", "0"], ["--warmup", "-1"], ["--vcpus", "0"],
      ["--vcpus", "100000"], ["--vcpu-cpus", "4000"], ["--vcpu-cpus", "1-0"], ["--drain-cpus", "0"],
      ["--numa-node", "64"], ["--modes", "ram,fast"], ["--space", "disk"], ["--drain", "later"],
      ["--drain", "poll"], ["--timeout", "0"], ["--timeout", "nan"],
    ])
  func usage(arguments: [String]) throws {
    let run = try CMMIOBinary.run(["bench", "--writes", "10", "--runs", "1", "--warmup", "0"] + arguments)
    #expect(run.status == 64, "\(arguments): \(run.stderr)")
    #expect(run.stderr.hasPrefix("cmmio: "))
    #expect(run.stderr.split(separator: "\n").count == 1, "\(arguments): \(run.stderr)")
    #expect(run.stdout.isEmpty)
  }

  @Test(
    "a CPU online but outside the process's affinity (taskset) is a usage error",
    .enabled(
      if: FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset")
        && ProcessInfo.processInfo.activeProcessorCount > 1))
  func outsideAffinity() throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
    process.arguments = ["-c", "0", CMMIOBinary.path, "bench", "--vcpu-cpus", "1", "--writes", "10"]
    let err = Pipe()
    process.standardError = err
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 64)
    #expect(text.contains("may not use"), "stderr: \(text)")
  }

  @Test("--modes coalesced-v2 on a kernel without the v2 API exits 3 and says what the kernel answered")
  func v2() throws {
    let run = try CMMIOBinary.run(["bench", "--modes", "coalesced-v2", "--writes", "10"])
    #expect(run.status == 3)
    #expect(run.stderr.contains("KVM_CREATE_COALESCED_MMIO_BUFFER"))
  }

  @Test("--show-guest prints each mode's loop without touching KVM")
  func showGuest() throws {
    let run = try CMMIOBinary.run(
      ["bench", "--show-guest", "--modes", "ram,plain", "--writes", "20000"],
      environment: ["CMMIO_DEVICE": "/nonexistent"])
    #expect(run.status == 0)
    #expect(run.stdout.contains("# bytes: 66 b8 20 4e 00 00 66 bb 00 80 00 00 67 66 89 03 66 48 75 f8 f4"))
    #expect(run.stdout.contains("# bytes: 66 b8 20 4e 00 00 66 bb 00 00 10 00 67 66 89 03 66 48 75 f8 f4"))
    #expect(run.stdout.contains("mov dword [ebx], eax"))
  }

  @Test("no progress line when stderr is not a terminal; --output writes the report atomically")
  func quietAndOutput() throws {
    let folder = try TemporaryFolder()
    let file = folder.path("report.json")
    let run = try CMMIOBinary.run([
      "bench", "--modes", "coalesced", "--writes", "200", "--runs", "1", "--warmup", "0", "--format", "json",
      "--output", file,
    ])
    #expect(run.status == 0, "stderr: \(run.stderr)")
    #expect(run.stderr.isEmpty)
    #expect(run.stdout.isEmpty)
    let data = try Data(contentsOf: URL(fileURLWithPath: file))
    let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(json["interrupted"] as? Bool == false)
  }
}
