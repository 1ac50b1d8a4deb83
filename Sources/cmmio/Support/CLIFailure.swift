import Benchmarking
import Exerciser
import Guest
import KVM
import Platform
import Reporting

/// The exit statuses every subcommand shares (the contract in docs/cli.md).
enum ExitStatus: Int32 {
  case success = 0
  /// An ioctl failed unexpectedly, or a check or data verification failed.
  case failure = 1
  /// KVM is not usable: device missing, permission denied, unexpected API version.
  case kvmUnusable = 2
  /// A kernel feature that was asked for is missing.
  case featureMissing = 3
  /// Unknown flag, malformed or out-of-range value (sysexits EX_USAGE).
  case usage = 64
  /// Interrupted by SIGINT, SIGTERM or SIGHUP.
  case interrupted = 130
}

/// A failure with its exit status and the one sentence printed for it.
struct CLIFailure: Error, CustomStringConvertible {
  var status: ExitStatus
  var message: String

  init(_ status: ExitStatus, _ message: String) {
    self.status = status
    self.message = message
  }

  var description: String { message }

  /// Prints `cmmio: <message>` on stderr and exits with the status.
  func exit() -> Never {
    standardError(Self.line(message, libnuma: Host.numaMessage))
    Platform.exit(status.rawValue)
  }

  /// The one line printed for `message`: escaped and cut (`MessageText`), with what
  /// libnuma said, if anything (its own numa_warn/numa_error would print a line of their own).
  static func line(_ message: String, libnuma: String? = nil) -> String {
    var line = message.trimmingTrailingPeriod()
    if let libnuma { line += " (libnuma also reported: \(libnuma.trimmingTrailingPeriod()))" }
    line = MessageText.sanitized(line)
    if let last = line.last, !".!?".contains(last) { line += "." }
    return "cmmio: \(line)\n"
  }

  /// Maps errors from the lower layers to their exit status and sentence.
  static func from(_ error: any Error) -> CLIFailure {
    switch error {
    case let failure as CLIFailure: return failure
    case let device as DeviceError:
      return CLIFailure(.kvmUnusable, DeviceRemedy.sentence(for: device, source: .defaultPath))
    // The environment refused (KVM_RUN's EAGAIN or ENOMEM): KVM cannot run guests here (exit 2).
    case let system as SystemCallError where system.isEnvironmentFailure:
      return CLIFailure(.kvmUnusable, system.description)
    case GuestRunError.kvm(let system) where system.isEnvironmentFailure:
      return CLIFailure(.kvmUnusable, system.description)
    case BenchFailure.system(let system) where system.isEnvironmentFailure:
      return CLIFailure(.kvmUnusable, system.description)
    case BenchFailure.timedOut: return CLIFailure(.failure, "\(error) (--timeout)")
    case let system as SystemCallError: return CLIFailure(.failure, system.description)
    case let write as OutputSink.WriteError: return CLIFailure(.failure, write.description)
    case let corruption as RingCorruption: return CLIFailure(.failure, corruption.description)
    case let interrupted as Interrupted: return CLIFailure(.interrupted, interrupted.description)
    case GuestRunError.interrupted(let signal): return CLIFailure(.interrupted, Interrupted(signal: signal).description)
    case let run as GuestRunError: return CLIFailure(.failure, run.description)
    // The v2 API refused at its first ioctl means the kernel lacks it (exit 3).
    case let buffer as BufferCreationError:
      return CLIFailure(buffer.meansAbsent ? .featureMissing : .failure, buffer.description)
    // A probe no guest can write is bad input.
    case let probe as ProbeError: return CLIFailure(.usage, probe.description)
    default: return CLIFailure(.failure, "\(error)")
    }
  }
}

extension String {
  /// Without one trailing period, so a sentence can be extended.
  func trimmingTrailingPeriod() -> String { hasSuffix(".") ? String(dropLast()) : self }
}

/// Writes to stderr unbuffered; a stderr that cannot be written has no one to tell.
func standardError(_ text: String) {
  _ = writeAll(2, text.utf8)
}

/// Runs `body`, turning any error into the matching `CLIFailure`.
func mappingFailures<T>(_ body: () throws -> T) throws(CLIFailure) -> T {
  do { return try body() } catch { throw CLIFailure.from(error) }
}
