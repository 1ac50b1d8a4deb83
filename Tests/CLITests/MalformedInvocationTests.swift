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

/// Every malformed invocation must give its documented exit status and exactly one
/// sentence on stderr — never a crash, a trap, a stack trace or the usage text.
@Suite("Malformed invocations of the built binary", .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct MalformedInvocationTests {
  static let cases: [Malformed] = [
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
    Malformed(3, "create-buffer"),
    Malformed(3, "register", "--zone", "0x100000:0x1000", "--v2"),
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
    // Features this kernel lacks.
    Malformed(3, "check-cap", "--require", "coalesced-mmio2"),
    // Reports that cannot be written.
    Malformed(1, "check-cap", "--output", "/nonexistent-dir/report.json"),
    Malformed(1, "check-cap", "--output", "/tmp"),
    Malformed(1, "check-cap", "--output", "/proc/version"),
  ]

  @Test("exit status and one sentence", arguments: cases)
  func malformed(_ invocation: Malformed) throws {
    let run = try CMMIOBinary.run(invocation.arguments, environment: invocation.environment)
    #expect(!run.crashed, "crashed: \(run.stderr)")
    #expect(run.status == invocation.status, "stderr: \(run.stderr)")
    let lines = run.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
    #expect(lines.count == 1, "expected one line on stderr, got: \(run.stderr)")
    #expect(run.stderr.hasPrefix("cmmio: "), "\(run.stderr)")
    #expect(!run.stderr.contains("Usage:") && !run.stderr.contains("USAGE:"))
    #expect(!run.stderr.lowercased().contains("fatal error"))
  }

  @Test("at least 40 malformed invocations are covered")
  func coverage() {
    #expect(Self.cases.count >= 40, "only \(Self.cases.count) malformed invocations")
  }
}
