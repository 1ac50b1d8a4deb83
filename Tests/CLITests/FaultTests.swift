import CMMIOTestSupport
import Foundation
import KVM
import Testing

@testable import cmmio

/// Runs `script` with bash, `$CMMIO` naming the built binary; stdout and stderr are
/// pipes (a limit such as `ulimit -f` then applies only to the files cmmio writes).
func shell(_ script: String, in folder: TemporaryFolder? = nil, killAfter seconds: Double? = nil) throws
  -> CommandLineRun
{
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/bin/bash")
  process.arguments = ["-c", script]
  var environment = ProcessInfo.processInfo.environment
  environment.removeValue(forKey: "CMMIO_DEVICE")
  environment["CMMIO"] = CMMIOBinary.path
  process.environment = environment
  if let folder { process.currentDirectoryURL = folder.url }
  let running = try RunningCommand.launch(process)
  if let seconds {
    let pid = process.processIdentifier
    DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { kill(pid, SIGKILL) }
  }
  return running.finish()
}

/// The lines of stderr that are not empty.
func stderrLines(_ run: CommandLineRun) -> [Substring] {
  run.stderr.split(separator: "\n").filter { !$0.isEmpty }
}

let isRoot = geteuid() == 0
let quickBench = ["--writes", "2000", "--runs", "1", "--warmup", "0", "--no-progress"]

/// The faults and hostile inputs of issue 11, one test per defect, through the built binary.
@Suite("Faults: limits, signals, outputs, claims", .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct FaultTests {
  // MARK: 1. KVM_RUN's EAGAIN under a pids limit

  /// A pids cgroup of one process: the kernel cannot start the VM's worker thread and
  /// KVM_RUN answers EAGAIN; cmmio used to retry it forever at 100% CPU.
  @Test(
    "KVM_RUN EAGAIN under a pids cgroup limit: exit 2 with the remedy, no spin",
    .enabled(if: isRoot && PidsCgroup.folder != nil, "needs root and a pids cgroup (v1 or v2)"),
    arguments: [["register", "--zone", "0x100000:0x1000"], ["bench"] + quickBench, ["verify"]])
  func eagain(_ arguments: [String]) throws {
    let cgroup = try PidsCgroup(limit: 1)
    defer { cgroup.remove() }
    let command = arguments.joined(separator: " ")
    // A watchdog ends the spin of the old behaviour so the test fails instead of hanging.
    let run = try shell("echo $$ > \(cgroup.path)/cgroup.procs && exec \"$CMMIO\" \(command)", killAfter: 60)
    #expect(run.status == 2, "\(run.stderr)")
    #expect(stderrLines(run).count == 1, "\(run.stderr)")
    #expect(run.stderr.contains("EAGAIN") && run.stderr.contains("pids.max"), "\(run.stderr)")
    #expect(!run.stderr.contains("conformance checks failed"), "verify blamed the kernel: \(run.stderr)")
  }

  // MARK: 3. Outputs: devices, symlinks, modes, '-'

  @Test("a character device is written straight through, never replaced", .enabled(if: isRoot, "mknod needs root"))
  func characterDevice() throws {
    let folder = try TemporaryFolder()
    let full = folder.path("full")
    let null = folder.path("null")
    // Device nodes of our own (1,7 is /dev/full, 1,3 /dev/null), so /dev is never at risk.
    // makedev(1, m) for major 1 and a minor below 256 is (1 << 8) | m.
    #expect(mknod(full, S_IFCHR | 0o666, (1 << 8) | 7) == 0)
    #expect(mknod(null, S_IFCHR | 0o666, (1 << 8) | 3) == 0)
    let toFull = try CMMIOBinary.run(["check-cap", "--output", full])
    #expect(toFull.status == 1 && toFull.stderr.contains("No space left on device"), "\(toFull.stderr)")
    let toNull = try CMMIOBinary.run(["check-cap", "--output", null])
    #expect(toNull.status == 0, "\(toNull.stderr)")
    for path in [full, null] {
      var info = stat()
      #expect(stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFCHR, "\(path) is no longer a device")
    }
    #expect(try folder.contents() == ["full", "null"])
  }

  @Test("a symlink is followed, /dev/stdout and '-' go to standard output, a FIFO is written through")
  func linksAndStreams() throws {
    let folder = try TemporaryFolder()
    let link = folder.path("link.json")
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "target.json")
    let linked = try CMMIOBinary.run(["check-cap", "--format", "json", "--output", link])
    #expect(linked.status == 0, "\(linked.stderr)")
    #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "target.json")
    #expect(FileManager.default.fileExists(atPath: folder.path("target.json")))
    let stdoutLink = folder.path("stdout")
    try FileManager.default.createSymbolicLink(atPath: stdoutLink, withDestinationPath: "/dev/stdout")
    // Not /dev/stdout itself: a binary without the policy would replace the host's link
    // (scripts/hostile.sh covers it over a private /dev).
    for output in [stdoutLink, "-", "/proc/self/fd/1"] {
      let run = try CMMIOBinary.run(["check-cap", "--format", "json", "--output", output])
      #expect(run.status == 0, "\(run.stderr)")
      #expect(run.json?["schema"] as? String == "cmmio.check-cap/1", "--output \(output): \(run.stdout)")
    }
    #expect(try FileManager.default.destinationOfSymbolicLink(atPath: stdoutLink) == "/dev/stdout")
    #expect(!FileManager.default.fileExists(atPath: folder.path("-")))
    let fifo = try shell(
      "mkfifo pipe && { cat pipe > got.json & } && \"$CMMIO\" check-cap --format json --output pipe && wait && "
        + "test -p pipe && grep -q cmmio.check-cap/1 got.json", in: folder)
    #expect(fifo.status == 0, "\(fifo.stderr)")
  }

  @Test("an existing file keeps its mode; a new one gets 0666 less the umask")
  func modeKept() throws {
    let folder = try TemporaryFolder()
    let run = try shell(
      "touch kept && chmod 600 kept && \"$CMMIO\" check-cap --output kept && "
        + "umask 027 && \"$CMMIO\" check-cap --output new && stat -c %a kept new", in: folder)
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout == "600\n640\n", "\(run.stdout)")
  }

  // MARK: 4, 5. ulimit -f and a broken pipe

  @Test("ulimit -f: a write error with one sentence, no temporary file left")
  func fileSizeLimit() throws {
    let folder = try TemporaryFolder()
    let run = try shell("ulimit -f 1; exec \"$CMMIO\" check-cap --format json --output report.json", in: folder)
    #expect(!run.crashed, "killed by SIGXFSZ")
    #expect(run.status == 1, "\(run.stderr)")
    #expect(stderrLines(run).count == 1 && run.stderr.contains("File too large"), "\(run.stderr)")
    let left = try folder.contents()
    #expect(left.isEmpty, "left behind: \(left)")
  }

  @Test("a broken pipe on stdout: exit 1 with one sentence, not a silent SIGPIPE")
  func brokenPipe() throws {
    let run = try shell(
      "\"$CMMIO\" check-cap 2>err | (exec 0<&-; sleep 1); echo \"${PIPESTATUS[0]}\"; cat err",
      in: try TemporaryFolder())
    let lines = run.stdout.split(separator: "\n")
    #expect(lines.first == "1", "exit status \(lines.first ?? "none") (141 is death by SIGPIPE)")
    #expect(lines.count == 2 && lines[1].hasPrefix("cmmio: ") && lines[1].contains("Broken pipe"), "\(run.stdout)")
  }

  // MARK: 6, 7. Memory and libnuma

  @Test("too little address space: one sentence, exit 1, no runtime crash")
  func addressSpace() throws {
    // Enough to start the binary (its shared libraries in a debug build), not enough for bench.
    for limit in [90_000, 120_000, 150_000] {
      let run = try shell("ulimit -v \(limit); exec \"$CMMIO\" bench " + quickBench.joined(separator: " "))
      #expect(!run.crashed, "crashed at ulimit -v \(limit): \(run.stderr.prefix(300))")
      #expect(!run.stderr.contains("Fatal error"), "\(run.stderr.prefix(300))")
      if run.status != 0 {
        #expect(stderrLines(run).count == 1 && run.stderr.hasPrefix("cmmio: "), "\(run.stderr.prefix(300))")
      }
    }
  }

  @Test("libnuma's warnings reach stderr only inside cmmio's one line")
  func libnumaWarnings() throws {
    for files in [5, 6, 7] {
      let run = try shell("ulimit -n \(files); exec \"$CMMIO\" check-cap")
      #expect(!run.crashed)
      let lines = stderrLines(run)
      #expect(lines.count <= 1, "ulimit -n \(files): \(run.stderr)")
      #expect(lines.allSatisfy { $0.hasPrefix("cmmio: ") }, "ulimit -n \(files): \(run.stderr)")
    }
  }

  // MARK: 10. A 255-byte name

  @Test("a valid 255-byte file name is written")
  func longName() throws {
    let folder = try TemporaryFolder()
    let name = String(repeating: "n", count: 255)
    let run = try CMMIOBinary.run(["check-cap", "--output", folder.path(name)])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(try folder.contents() == [name])
  }

  // MARK: 11. Lost reports

  @Test("SIGHUP ends a bench like SIGTERM: the partial report, exit 130")
  func hangup() throws {
    let folder = try TemporaryFolder()
    let report = folder.path("r.json")
    let running = try CMMIOBinary.start(
      ["bench", "--writes", "300000", "--runs", "3", "--no-progress", "--format", "json", "--output", report])
    Thread.sleep(forTimeInterval: 1.5)
    kill(running.process.processIdentifier, SIGHUP)
    let run = running.finish()
    #expect(!run.crashed, "killed by SIGHUP")
    #expect(run.status == 130 && run.stderr.contains("SIGHUP"), "\(run.stderr)")
    let text = try String(contentsOfFile: report, encoding: .utf8)
    #expect(text.contains("\"interrupted\": true"))
  }

  @Test("SIGINT then SIGTERM is reported as SIGINT, the first")
  func firstSignal() throws {
    for _ in 0..<3 {
      let running = try CMMIOBinary.start(["bench", "--writes", "300000", "--runs", "3", "--no-progress"])
      Thread.sleep(forTimeInterval: 1.5)
      kill(running.process.processIdentifier, SIGINT)
      kill(running.process.processIdentifier, SIGTERM)
      let run = running.finish()
      #expect(run.status == 130 && run.stderr.contains("SIGINT") && !run.stderr.contains("SIGTERM"), "\(run.stderr)")
    }
  }

  @Test("a SIGINT pending before main is recorded: exit 130 with a report, not death by the signal")
  func signalAtStart() throws {
    // The signal is pending and blocked across exec, so it arrives the moment the
    // process unblocks it: that must be after its handler is in place.
    let run = try shell(
      "exec python3 -c 'import os, signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT]); "
        + "os.kill(os.getpid(), signal.SIGINT); os.execv(sys.argv[1], sys.argv[1:])' \"$CMMIO\" bench --format json "
        + quickBench.joined(separator: " "))
    #expect(!run.crashed, "killed by SIGINT")
    #expect(run.status == 130, "\(run.stderr)")
    #expect(run.json?["interrupted"] as? Bool == true, "\(run.stdout)")
  }

  @Test("bench checks --output before measuring anything")
  func outputCheckedFirst() throws {
    let started = Date()
    let run = try CMMIOBinary.run(["bench", "--writes", "4000000000", "--output", "/nonexistent-dir/r.json"])
    #expect(run.status == 1 && run.stderr.contains("/nonexistent-dir/r.json"), "\(run.stderr)")
    #expect(Date().timeIntervalSince(started) < 10, "measured before checking --output")
  }

  @Test("--save writes its set as a set: a file that fails leaves none of the others")
  func saveAsSet() throws {
    let folder = try TemporaryFolder()
    // A limit between the sizes of the set's files (4 KiB): the table, CSV and markdown
    // would fit, the JSON and the SVG not.
    let run = try shell(
      "ulimit -f 4; exec \"$CMMIO\" bench --save run --output report.txt " + quickBench.joined(separator: " "),
      in: folder)
    #expect(run.status == 1 && run.stderr.contains("File too large"), "\(run.stderr)")
    let left = try folder.contents()
    #expect(left.isEmpty, "left behind: \(left)")
  }

  // MARK: 12. Claims without evidence

  @Test("register with every default probe skipped is not a success")
  func noProbeWrites() throws {
    let run = try CMMIOBinary.run(["register", "--zone", "0x1000:0x10", "--format", "json"])
    #expect(run.status == 1, "\(run.stderr)")
    #expect(run.stderr.contains("no probe write was made"), "\(run.stderr)")
    let verification = run.json?["verification"] as? [String: Any]
    #expect(verification?["passed"] as? Bool == false)
  }

  @Test("one probe write is '1 write'")
  func oneWrite() throws {
    let run = try CMMIOBinary.run(["register", "--zone", "0x100000:8", "--probe", "0x100000"])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("(1 write)"), "\(run.stdout)")
  }
}

/// The EACCES remedy names a `kvm` group only where one exists (in-process: the
/// group database cannot be changed for a test).
@Suite("Device remedies")
struct DeviceRemedyTests {
  @Test("EACCES: the kvm group only if it exists")
  func permission() {
    let error = DeviceError.permissionDenied(path: "/dev/kvm")
    let without = DeviceRemedy.sentence(for: error, source: .defaultPath, kvmGroup: false)
    #expect(!without.contains("'kvm' group"), "\(without)")
    #expect(without.contains("access"))
    let with = DeviceRemedy.sentence(for: error, source: .defaultPath, kvmGroup: true)
    #expect(with.contains("'kvm' group"))
  }

  @Test("ENOENT: the remedy fits where the path came from")
  func source() {
    let error = DeviceError.missing(path: "/dev/kvm")
    #expect(DeviceRemedy.sentence(for: error, source: .environment).contains("CMMIO_DEVICE"))
    #expect(!DeviceRemedy.sentence(for: error, source: .environment).contains("pass --device"))
    #expect(DeviceRemedy.sentence(for: error, source: .defaultPath).contains("load the kvm module"))
  }
}

/// A pids cgroup of its own (v1 `pids` hierarchy, or v2 with the pids controller),
/// removed after the test; root only.
struct PidsCgroup {
  let path: String

  /// The hierarchy to create it in, or nil where there is none.
  static let folder: String? = {
    if FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids/pids.max")
      || FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids/cgroup.procs")
    {
      return "/sys/fs/cgroup/pids"
    }
    let controllers = (try? String(contentsOfFile: "/sys/fs/cgroup/cgroup.subtree_control", encoding: .utf8)) ?? ""
    return controllers.contains("pids") ? "/sys/fs/cgroup" : nil
  }()

  init(limit: Int) throws {
    guard let folder = Self.folder else { throw CocoaError(.fileNoSuchFile) }
    path = folder + "/cmmio-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    try "\(limit)\n".write(toFile: path + "/pids.max", atomically: false, encoding: .utf8)
  }

  /// rmdir(2): the cgroup is empty once its process has exited.
  func remove() {
    for _ in 0..<50 {
      if rmdir(path) == 0 || errno == ENOENT { return }
      usleep(20_000)
    }
  }
}
