import ArgumentParser
import Exerciser
import Guest
import KVM

/// `--space`: which address spaces `verify` checks.
enum VerifySpace: String, ExpressibleByArgument, CaseIterable {
  case mmio, pio, both

  var spaces: [IOSpace] {
    switch self {
    case .mmio: [.mmio]
    case .pio: [.pio]
    case .both: [.mmio, .pio]
    }
  }
}

/// `cmmio verify`: the running kernel's conformance, in the spirit of the kernel's
/// own `coalesced_io_test`.
struct VerifyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "verify",
    abstract: "Check the running kernel's coalesced MMIO/PIO behaviour, one line per check.",
    discussion: """
      For every ring start index: exactly the usable capacity is coalesced, the next write \
      exits with its data, the ring reads full-minus-one and every entry is right in order; \
      after unregister the next write exits at once. Also: reads of a zone exit, a write \
      straddling a zone's end exits, unregister removes only zones containing the range (and \
      returns 0 regardless), overlapping zones are accepted, a pio flag other than 0/1 gives \
      EINVAL, and the measured capacity is reported. Exit 1 if any check fails.

      EXAMPLES:
        cmmio verify
        cmmio verify --space pio --format json --output verify.json
        cmmio verify --device /dev/kvm --format markdown
      """
  )

  @OptionGroup var common: CommonOptions

  @Option(help: ArgumentHelp("Which address space to check.", valueName: "SPACE"))
  var space: VerifySpace = .both

  func run() throws {
    let outputs = try common.outputs()
    let provenance = Provenance.now()
    let device = try common.openDevice()
    do {
      _ = try device.createVM()
    } catch {
      throw CLIFailure(.kvmUnusable, "\(common.devicePath) opened but \(error); KVM cannot run guests here")
    }
    try Self.checkEnvironment(device)
    let (checks, interrupted) = Conformance.verifyUntilInterrupted(device, spaces: space.spaces)
    let report = VerifyReport(
      checks: checks, spaces: space.spaces, devicePath: common.devicePath, host: Host.current(),
      interrupted: interrupted != nil, provenance: provenance)
    try outputs.emit(report.rendered(common.format))
    if let interrupted {
      throw CLIFailure(.interrupted, "\(interrupted): the report holds the \(checks.count) checks made so far")
    }
    let failed = checks.filter { !$0.passed }
    if !failed.isEmpty {
      throw CLIFailure(
        .failure,
        "\(failed.count) of \(checks.count) conformance checks failed: \(failed.map(\.name).joined(separator: ", "))")
    }
  }

  /// Runs a guest that makes one write. Where the environment refuses `KVM_RUN`
  /// (`EAGAIN` under a pids cgroup limit or `RLIMIT_NPROC`, `ENOMEM`), no check could
  /// be observed, and failing them would blame the kernel for the environment: exit 2
  /// with the remedy instead. Any other failure is left to the checks to report.
  static func checkEnvironment(_ device: KVMDevice) throws(CLIFailure) {
    do {
      let machine = try GuestMachine(device: device)
      machine.load(GuestWorkload(target: .device(.mmio, GuestLayout.mmioDevice), writes: 1).program())
      var runner = try GuestRunner(vcpu: try machine.addVCPU())
      _ = try runner.run { _ in }
    } catch {
      let failure = CLIFailure.from(error)
      if failure.status == .kvmUnusable { throw failure }
    }
  }
}
