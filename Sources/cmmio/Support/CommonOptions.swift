import ArgumentParser
import KVM
import Platform
import Reporting

/// `--format` and `--output`: how a report is printed and where it goes. Every subcommand
/// has them; `compare`, which opens no device, has only them.
struct ReportOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "How to print the report (openmetrics: check-cap, verify and bench only).", valueName: "FORMAT"))
  var format: OutputFormat = .table

  @Option(
    help: ArgumentHelp(
      "Write the report to FILE: a file is replaced atomically, a device, FIFO or - written straight through "
        + "(default: standard output).", valueName: "FILE"))
  var output: String?

  func validate() throws {
    if let output, output.isEmpty { throw ValidationError("--output needs a file name, got an empty string") }
  }

  /// `--format openmetrics` for a subcommand without metrics: a usage error (64).
  func refuseMetrics(_ command: String) throws {
    guard format == .openmetrics else { return }
    throw ValidationError(
      "--format openmetrics is for check-cap, verify and bench only; "
        + "\(command) prints table, json, csv or markdown")
  }

  /// `--output` (standard output when absent) and any other files the command writes,
  /// checked now, before any work (see `Outputs`).
  func outputs(_ extra: [(option: String, path: String?)] = []) throws(CLIFailure) -> Outputs {
    try Outputs.check([("--output", output)] + extra.filter { $0.path != nil })
  }
}

/// Options every subcommand that opens the device shares: `--device`, `--format`, `--output`.
struct CommonOptions: ParsableArguments {
  @Option(help: ArgumentHelp("The KVM device (default: $CMMIO_DEVICE, else /dev/kvm).", valueName: "PATH"))
  var device: String?

  @OptionGroup var report: ReportOptions

  var format: OutputFormat { report.format }
  var output: String? { report.output }

  func validate() throws {
    if let device, device.isEmpty { throw ValidationError("--device needs a path, got an empty string") }
  }

  /// `--device`, else `CMMIO_DEVICE`, else `/dev/kvm`.
  var devicePath: String { Self.resolveDevice(device) }

  /// `device`, else `CMMIO_DEVICE`, else `/dev/kvm`.
  static func resolveDevice(_ device: String?) -> String {
    if let device { return device }
    return environmentDevice ?? KVMDevice.defaultPath
  }

  /// `CMMIO_DEVICE` when set and not empty.
  static var environmentDevice: String? {
    guard let value = getenv("CMMIO_DEVICE"), value.pointee != 0 else { return nil }
    return String(cString: value)
  }

  /// Opens the device, mapping failures to exit status 2.
  func openDevice() throws(CLIFailure) -> KVMDevice {
    try cmmio.openDevice(given: device)
  }

  func outputs(_ extra: [(option: String, path: String?)] = []) throws(CLIFailure) -> Outputs {
    try report.outputs(extra)
  }
}

/// Opens the KVM device named by `--device` (or `CMMIO_DEVICE`, or /dev/kvm), mapping
/// failures to exit status 2 with a remedy that fits where the path came from.
func openDevice(given device: String?) throws(CLIFailure) -> KVMDevice {
  let path = CommonOptions.resolveDevice(device)
  do { return try KVMDevice(path: path) } catch {
    throw CLIFailure(.kvmUnusable, DeviceRemedy.sentence(for: error, source: DeviceRemedy.source(given: device)))
  }
}

/// The remedies for a KVM device that cannot be used, by where its path came from.
enum DeviceRemedy {
  enum Source: Equatable {
    case option, environment, defaultPath
  }

  static func source(given device: String?) -> Source {
    if device != nil { return .option }
    return CommonOptions.environmentDevice != nil ? .environment : .defaultPath
  }

  /// How to name another device, for a path from `source`.
  static func otherDevice(_ source: Source) -> String {
    switch source {
    case .option: "pass the KVM device to --device"
    case .environment: "set CMMIO_DEVICE to the KVM device (or unset it for /dev/kvm)"
    case .defaultPath: "pass --device"
    }
  }

  /// Whether a group named `kvm` exists here (getgrnam(3)).
  static var kvmGroupExists: Bool { getgrnam("kvm") != nil }

  static func sentence(for error: DeviceError, source: Source, kvmGroup: Bool = kvmGroupExists) -> String {
    switch error {
    case .missing(let path):
      let fix = source == .defaultPath ? "load the kvm module or pass --device" : otherDevice(source)
      return "Cannot open \(path): ENOENT (No such file or directory); \(fix)."
    case .permissionDenied(let path):
      let fix =
        kvmGroup
        ? "add this user to the 'kvm' group or run as root"
        : "grant this user read and write access to it, or run as root"
      return "Cannot open \(path): EACCES (Permission denied); \(fix)."
    case .notADevice, .notKVM, .unexpectedAPIVersion, .openFailed:
      let text = error.description
      guard source != .defaultPath, text.hasSuffix(".") else { return text }
      return String(text.dropLast()) + "; \(otherDevice(source))."
    }
  }
}

/// The files one invocation writes, resolved by `OutputSink`'s policy before any work:
/// the same file named twice is a usage error (64), a path that cannot be written a
/// failure (1), both before anything is measured. `write` then writes them as a set.
struct Outputs {
  let plan: OutputPlan

  static func check(_ outputs: [(option: String, path: String?)]) throws(CLIFailure) -> Outputs {
    do { return Outputs(plan: try OutputPlan.resolve(outputs)) } catch let conflict as OutputPlan.Conflict {
      throw CLIFailure(.usage, conflict.description)
    } catch {
      throw CLIFailure(.failure, "\(error)")
    }
  }

  /// Writes each option's text; all or nothing for the files that are replaced.
  func write(_ items: [(option: String, text: String)]) throws(CLIFailure) {
    let pairs = items.compactMap { item in plan.targets[item.option].map { ($0, item.text) } }
    do { try OutputTarget.writeSet(pairs) } catch { throw CLIFailure(.failure, error.description) }
  }

  /// The report alone, to `--output` or standard output.
  func emit(_ text: String) throws(CLIFailure) {
    try write([("--output", text)])
  }
}
