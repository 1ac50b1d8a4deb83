import ArgumentParser
import KVM
import Reporting

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

extension OutputFormat: ExpressibleByArgument {}

/// Options every subcommand shares: `--device`, `--format`, `--output`.
struct CommonOptions: ParsableArguments {
  @Option(help: "The KVM device (default: $CMMIO_DEVICE, else /dev/kvm).")
  var device: String?

  @Option(help: "How to print the report: table, json, csv or markdown.")
  var format: OutputFormat = .table

  @Option(help: ArgumentHelp("Write the report to FILE atomically instead of stdout.", valueName: "FILE"))
  var output: String?

  func validate() throws {
    if let device, device.isEmpty { throw ValidationError("--device needs a path, got an empty string") }
    if let output, output.isEmpty { throw ValidationError("--output needs a file name, got an empty string") }
  }

  /// `--device`, else `CMMIO_DEVICE`, else `/dev/kvm`.
  var devicePath: String { Self.resolveDevice(device) }

  /// `device`, else `CMMIO_DEVICE`, else `/dev/kvm`.
  static func resolveDevice(_ device: String?) -> String {
    if let device { return device }
    if let fromEnvironment = getenv("CMMIO_DEVICE"), fromEnvironment.pointee != 0 {
      return String(cString: fromEnvironment)
    }
    return KVMDevice.defaultPath
  }

  /// Opens the device, mapping failures to exit status 2.
  func openDevice() throws(CLIFailure) -> KVMDevice {
    try cmmio.openDevice(at: devicePath)
  }

  /// Writes a finished report where `--output` says.
  func emit(_ text: String) throws(CLIFailure) {
    try cmmio.emit(text, to: output)
  }
}

/// Opens the KVM device at `path`, mapping failures to exit status 2.
func openDevice(at path: String) throws(CLIFailure) -> KVMDevice {
  do { return try KVMDevice(path: path) } catch { throw CLIFailure(.kvmUnusable, error.description) }
}

/// Writes a finished report to `output` (atomically) or stdout; failures exit 1.
func emit(_ text: String, to output: String?) throws(CLIFailure) {
  do { try OutputSink(path: output).write(text) } catch { throw CLIFailure(.failure, error.description) }
}
