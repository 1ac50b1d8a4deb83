import CMMIOTestSupport
import Testing

/// One malformed invocation and the exit status the contract gives it.
struct Malformed: CustomTestStringConvertible, Sendable {
  var arguments: [String]
  var status: Int32
  var environment: [String: String] = [:]

  init(_ status: Int32, _ arguments: String..., environment: [String: String] = [:]) {
    self.arguments = arguments
    self.status = status
    self.environment = environment
  }

  var testDescription: String { "cmmio " + arguments.map { $0.isEmpty ? "''" : $0 }.joined(separator: " ") }
}

/// What every malformed invocation must show: its documented exit status and exactly
/// one sentence on stderr, printable on one line — never a crash, a trap, a stack
/// trace, the usage text, a control character or a megabyte of echoed input.
///
/// `withoutKVM` runs it with `CMMIO_DEVICE` naming a path that does not exist (unless the case
/// sets `CMMIO_DEVICE` itself): a case that reached for the default device would then exit 2,
/// not its status, so the case shows that it needs no usable KVM.
func expectOneSentence(_ invocation: Malformed, withoutKVM: Bool = false) throws {
  var environment = invocation.environment
  if withoutKVM && environment["CMMIO_DEVICE"] == nil { environment["CMMIO_DEVICE"] = noDevice }
  let run = try CMMIOBinary.run(invocation.arguments, environment: environment)
  #expect(!run.crashed, "crashed: \(run.stderr)")
  #expect(run.status == invocation.status, "stderr: \(run.stderr)")
  let lines = run.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
  #expect(lines.count == 1, "expected one line on stderr, got: \(run.stderr)")
  #expect(run.stderr.hasPrefix("cmmio: "), "\(run.stderr)")
  #expect(!run.stderr.contains("Usage:") && !run.stderr.contains("USAGE:"))
  #expect(!run.stderr.lowercased().contains("fatal error"))
  #expect(!run.stderr.dropLast().unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "\(run.stderr)")
  #expect(run.stderr.count < 1200, "\(run.stderr.count) characters on stderr")
}

/// A device path that does not exist: what the parse-only cases run with as `CMMIO_DEVICE`.
let noDevice = "/nonexistent/cmmio-no-kvm"

/// A long argument: 100 KB, as a hostile caller might pass.
let hundredKilobytes = String(repeating: "x", count: 100_000)

/// Malformed invocations that need no usable KVM: refused by the parser, by the checks made
/// before the device is opened, or by the device named (which is not KVM), so they run
/// everywhere, and each is run with no default device to show it (`expectOneSentence`).
@Suite("Malformed invocations that need no KVM")
struct ParseOnlyInvocationTests {
  static let cases: [Malformed] = [
    // Numbers: checked before any arithmetic, negative values named as such.
    Malformed(64, "bench", "--timeout", "1e11"),
    Malformed(64, "bench", "--timeout", "18446744073"),
    Malformed(64, "bench", "--timeout", "inf"),
    Malformed(64, "bench", "--timeout", "nan"),
    Malformed(64, "bench", "--timeout", "-1"),
    Malformed(64, "bench", "--warmup", "9223372036854775807"),
    Malformed(64, "bench", "--runs", "9223372036854775807"),
    Malformed(64, "bench", "--runs", "1000001"),
    Malformed(64, "bench", "--writes", "-5"),
    Malformed(64, "bench", "--writes", "4294967296"),
    Malformed(64, "bench", "--writes", "99999999999999999999999"),
    Malformed(64, "bench", "--vcpus", "-1"),
    Malformed(64, "bench", "--vcpus", "1025"),
    Malformed(64, "bench", "--numa-node", "1024"),
    Malformed(64, "bench", "--numa-node", "-9223372036854775808"),
    Malformed(64, "bench", "--flush-every", "-1"),
    Malformed(64, "create-buffer", "--buffers", "-9223372036854775808"),
    Malformed(64, "register", "--zone", "0x100000:8", "--width", "-1"),
    // compare reads files only: its mistakes need no device.
    Malformed(64, "compare"),
    Malformed(64, "compare", "a.json"),
    Malformed(64, "compare", "a.json", "b.json", "c.json"),
    Malformed(64, "compare", "a.json", "b.json", "--fail-on-regression", "-5"),
    Malformed(64, "compare", "a.json", "b.json", "--fail-on-regression", "nan"),
    Malformed(64, "compare", "a.json", "b.json", "--format", "svg"),
    Malformed(64, "compare", "a.json", "b.json", "--output", ""),
    Malformed(1, "compare", "/nonexistent/a.json", "/nonexistent/b.json"),
    Malformed(64, "compare", "/dev/null", "/dev/null"),
    Malformed(1, "compare", "/nonexistent/" + hundredKilobytes, "b.json"),
    // OpenMetrics is for check-cap, verify and bench only.
    Malformed(64, "compare", "a.json", "b.json", "--format", "openmetrics"),
    Malformed(64, "register", "--zone", "0x100000:8", "--format", "openmetrics"),
    Malformed(64, "unregister", "--zone", "0x100000:8", "--range", "0x100000:8", "--format", "openmetrics"),
    Malformed(64, "create-buffer", "--format", "openmetrics"),
    // The same file named twice.
    Malformed(64, "bench", "--output", "r.json", "--plot", "r.json"),
    Malformed(64, "bench", "--output", "-", "--plot", "-"),
    Malformed(64, "bench", "--plot", "x.json", "--save", "x"),
    Malformed(64, "bench", "--output", "/tmp/../tmp/cmmio-same.json", "--plot", "/tmp/cmmio-same.json"),
    // Options that would do nothing in this combination.
    Malformed(64, "bench", "--modes", "plain", "--ring-sizes", "4"),
    Malformed(64, "bench", "--modes", "ram,plain", "--drain", "thread", "--drain-cpus", "0"),
    Malformed(64, "bench", "--drain-cpus", "0"),
    Malformed(64, "bench", "--modes", "ram", "--drain", "thread"),
    Malformed(64, "bench", "--show-guest", "--plot", "g.svg"),
    // User strings in messages: escaped, one line, cut.
    Malformed(2, "check-cap", "--device", "/dev/\nkvm\u{1B}[31m"),
    Malformed(2, "check-cap", "--device", "/nonexistent/\r\t\u{7F}\u{9B}\u{202E}x"),
    Malformed(2, "check-cap", "--device", "/nonexistent/" + hundredKilobytes),
    Malformed(64, "check-cap", "--format", "json\n\u{1B}[2J"),
    Malformed(64, "bench", "--modes", hundredKilobytes),
    Malformed(64, "register", "--zone", hundredKilobytes),
    Malformed(64, "bench", "--modes", "ram\ncmmio: forged second line"),
    Malformed(2, "check-cap", environment: ["CMMIO_DEVICE": "/nonexistent/\n\u{1B}]0;title\u{07}"]),
    // Output paths refused before anything is done.
    Malformed(1, "check-cap", "--output", "/nonexistent-dir/r.json", "--device", "/nonexistent/kvm"),
    Malformed(1, "bench", "--save", "/nonexistent-dir/run", "--device", "/nonexistent/kvm"),
    Malformed(1, "check-cap", "--output", "/tmp/" + String(repeating: "n", count: 256)),
    // Every option of every subcommand in at least one case (DerivedMalformedTests.coverage).
    Malformed(64, "register", "--zone", "0x100000:8", "--format", "yaml"),
    Malformed(2, "unregister", "--zone", "0x100000:8", "--range", "0x100000:8", "--device", "/dev/null"),
    Malformed(64, "unregister", "--zone", "0x100000:8", "--range", "0x100000:8", "--format", "xml"),
    Malformed(64, "unregister", "--zone", "0x100000:8", "--range", "0x100000:8", "--output", ""),
    Malformed(64, "unregister", "--zone", "0x100000:8", "--range", "0x100000:8", "--probe", "0x8000"),
    Malformed(64, "unregister", "--zone", "0x100000:8", "--range", "0x100000:8", "--width", "16"),
    Malformed(2, "create-buffer", "--device", "/dev/null"),
    Malformed(64, "create-buffer", "--format", "csvx"),
    Malformed(1, "create-buffer", "--output", "/tmp"),
    Malformed(64, "create-buffer", "--probe=yes"),
    Malformed(64, "verify", "--output", ""),
    Malformed(64, "bench", "--format", "html"),
    Malformed(64, "bench", "--space", "disk"),
    Malformed(64, "bench", "--vcpu-cpus", "1-0"),
    Malformed(64, "bench", "--verify=no"),
    Malformed(64, "bench", "--no-verify", "--modes", "ram,bogus"),
    Malformed(64, "bench", "--progress=1"),
    Malformed(64, "bench", "--no-progress", "--runs", "0"),
    // The command line itself.
    Malformed(64, "no-such-subcommand"),
    Malformed(64, "check-cap", "--bogus"),
    Malformed(64, "check-cap", "extra-argument"),
    Malformed(64, "check-cap", "--format"),
    Malformed(64, "check-cap", "--format", "xml"),
    Malformed(64, "check-cap", "--format", ""),
    Malformed(64, "check-cap", "--format=JSON"),
    Malformed(64, "check-cap", "--require", "nope"),
    Malformed(64, "check-cap", "--require", ""),
    Malformed(64, "check-cap", "--require"),
    Malformed(64, "check-cap", "--device", ""),
    Malformed(64, "check-cap", "--output", ""),
    Malformed(64, "verify", "--space", "bogus"),
    Malformed(64, "verify", "--space", ""),
    Malformed(64, "verify", "--space", "MMIO"),
    Malformed(64, "verify", "--format", "yaml"),
    // Zones, ranges and probes.
    Malformed(64, "register"),
    Malformed(64, "register", "--zone", ""),
    Malformed(64, "register", "--zone", "0x100000"),
    Malformed(64, "register", "--zone", "0x100000:0"),
    Malformed(64, "register", "--zone", "0x100000:0x100000000"),
    Malformed(64, "register", "--zone", "0xffffffffffffffff:2"),
    Malformed(64, "register", "--zone", "0x10000000000000000:1"),
    Malformed(64, "register", "--zone", "0x100000:8:mmio"),
    Malformed(64, "register", "--zone", "0x100000:8:pio:4"),
    Malformed(64, "register", "--zone", "0x10z:1"),
    Malformed(64, "register", "--zone", "-1:8"),
    Malformed(64, "register", "--zone", "0x100000:8", "--probe", ""),
    Malformed(64, "register", "--zone", "0x100000:8", "--probe", "0x8000"),
    Malformed(64, "register", "--zone", "0x100000:8", "--probe", "0x100000000"),
    Malformed(64, "register", "--zone", "0x80:8:pio", "--probe", "0x10000:pio"),
    Malformed(64, "register", "--zone", "0x100000:8", "--width", "3"),
    Malformed(64, "unregister", "--zone", "0x100000:0x1000"),
    Malformed(64, "unregister", "--zone", "0x100000:0x1000", "--range", "0x100000:0"),
    Malformed(64, "unregister", "--zone", "0x100000:0x1000", "--range", "x:y"),
    Malformed(64, "create-buffer", "--buffers", "0"),
    Malformed(64, "create-buffer", "--buffers", "-1"),
    Malformed(64, "create-buffer", "--buffers", "many"),
    Malformed(64, "create-buffer", "--zone", "0x100000"),
    Malformed(2, "register", "--zone", "0x100000:8", "--device", "/dev/null"),
    Malformed(1, "register", "--zone", "0x100000:8", "--output", "/nonexistent-dir/r.json"),
    // Devices that are not KVM.
    Malformed(2, "check-cap", "--device", "/nonexistent/kvm"),
    Malformed(2, "check-cap", "--device", "/tmp"),
    Malformed(2, "check-cap", "--device", "/etc/hostname"),
    Malformed(2, "check-cap", "--device", "/dev/null"),
    Malformed(2, "check-cap", "--device", "/dev/zero"),
    Malformed(2, "check-cap", environment: ["CMMIO_DEVICE": "/nonexistent/kvm"]),
    Malformed(2, "verify", "--device", "/nonexistent/kvm"),
    Malformed(2, "verify", "--device", "/dev/null"),
    // Reports that cannot be written.
    Malformed(1, "check-cap", "--output", "/nonexistent-dir/report.json"),
    Malformed(1, "check-cap", "--output", "/tmp"),
    Malformed(1, "bench", "--writes", "4000000000", "--output", "/nonexistent-dir/r.json"),
  ]

  @Test("exit status and one sentence, without /dev/kvm", arguments: cases)
  func malformed(_ invocation: Malformed) throws {
    try expectOneSentence(invocation, withoutKVM: true)
  }

  @Test("--writes -5 says the value is out of range, not missing")
  func negativeWrites() throws {
    let run = try CMMIOBinary.run(["bench", "--writes", "-5"])
    #expect(run.status == 64)
    #expect(run.stderr.contains("--writes must be 1 to 4294967295, got -5"), "\(run.stderr)")
  }

  @Test("control characters are escaped and a 100 KB argument is cut")
  func escaped() throws {
    let run = try CMMIOBinary.run(["check-cap", "--device", "/dev/\nkvm\u{1B}[31m"])
    #expect(run.stderr.contains("/dev/\\nkvm\\e[31m"), "\(run.stderr)")
    let long = try CMMIOBinary.run(["check-cap", "--device", "/nonexistent/" + hundredKilobytes])
    #expect(long.stderr.count < 1200)
    #expect(long.stderr.contains("characters cut"), "\(long.stderr.prefix(300))")
  }

  @Test("a bad CMMIO_DEVICE's remedy names CMMIO_DEVICE, not --device")
  func environmentRemedy() throws {
    let run = try CMMIOBinary.run(["check-cap"], environment: ["CMMIO_DEVICE": "/nonexistent/kvm"])
    #expect(run.status == 2)
    #expect(run.stderr.contains("CMMIO_DEVICE"), "\(run.stderr)")
    #expect(!run.stderr.contains("pass --device"), "\(run.stderr)")
  }

  @Test("options a combination would ignore are named in the usage error")
  func ignoredOptions() throws {
    let ring = try CMMIOBinary.run(["bench", "--modes", "plain", "--ring-sizes", "4"])
    #expect(ring.status == 64 && ring.stderr.contains("--ring-sizes applies only to the coalesced modes"))
    let drain = try CMMIOBinary.run(["bench", "--modes", "ram,plain", "--drain", "thread", "--drain-cpus", "0"])
    #expect(drain.status == 64 && drain.stderr.contains("--drain"), "\(drain.stderr)")
  }
}

/// Malformed invocations whose answer comes from a real kernel: a feature it lacks, zones it
/// registered, the ring it measured. Same contract; they need /dev/kvm.
@Suite("Malformed invocations of the built binary", .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct MalformedInvocationTests {
  static let cases: [Malformed] = [
    // Features this kernel lacks: the answer comes from the kernel.
    Malformed(3, "create-buffer"),
    Malformed(3, "register", "--zone", "0x100000:0x1000", "--v2"),
    Malformed(3, "check-cap", "--require", "coalesced-mmio2"),
    // No probe write made: nothing verified, not a success (the zones are registered first).
    Malformed(1, "register", "--zone", "0x1000:0x10"),
    Malformed(1, "register", "--zone", "0x100000000:8"),
    Malformed(1, "unregister", "--zone", "0x0:0x10", "--range", "0x0:0x10"),
    // A report that cannot be written, found only when it is written, after the probe.
    Malformed(1, "check-cap", "--output", "/proc/version"),
    // Out of range for the ring this kernel measured.
    Malformed(64, "bench", "--ring-sizes", "170000"),
  ]

  @Test("exit status and one sentence", arguments: cases)
  func malformed(_ invocation: Malformed) throws {
    try expectOneSentence(invocation)
  }
}
