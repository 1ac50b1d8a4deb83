import CKVM

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// SIGINT, SIGTERM and SIGHUP (an ssh session closing), recorded instead of fatal,
/// so any subcommand can stop at its next exit, write what it measured and exit 130.
/// Only the first signal is recorded: SIGINT then SIGTERM reads as SIGINT.
///
/// The handlers are installed without `SA_RESTART`, so a `KVM_RUN` blocked in the
/// guest returns `EINTR` (`KVM_EXIT_INTR`) and the caller looks here.
public enum Interruption {
  /// Installs the handlers and unblocks the signals on the calling thread.
  public static func install() {
    ckvm_install_interrupt_handlers()
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    sigaddset(&set, SIGHUP)
    sigaddset(&set, SIGUSR1)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
  }

  /// What a process (the `cmmio` executable) installs: the handlers above, and
  /// SIGXFSZ and SIGPIPE ignored, so a write past `RLIMIT_FSIZE` or into a closed
  /// pipe fails with `EFBIG` or `EPIPE` and ends with a sentence, not a silent death.
  public static func installForProcess() {
    ckvm_install_process_signals()
  }

  /// Installs only the SIGUSR1 kick that makes a thread's `KVM_RUN` return `EINTR`,
  /// leaving SIGINT and SIGTERM as they are (for code that runs vCPU threads as a
  /// library, under a caller that decides what a signal means).
  public static func installKickHandler() {
    ckvm_install_kick_handler()
  }

  /// The first signal that arrived (SIGINT, SIGTERM or SIGHUP), or nil.
  public static var signal: Int32? {
    let signal = ckvm_interrupt_signal()
    return signal == 0 ? nil : signal
  }

  /// `SIGINT`, `SIGTERM`, or `signal N`.
  public static func name(_ signal: Int32) -> String {
    switch signal {
    case SIGINT: "SIGINT"
    case SIGTERM: "SIGTERM"
    case SIGHUP: "SIGHUP"
    default: "signal \(signal)"
    }
  }
}

/// Work stopped because SIGINT, SIGTERM or SIGHUP arrived.
public struct Interrupted: Error, Sendable, Equatable, CustomStringConvertible {
  public var signal: Int32

  public init(signal: Int32) { self.signal = signal }

  public var description: String { "interrupted by \(Interruption.name(signal))" }
}
