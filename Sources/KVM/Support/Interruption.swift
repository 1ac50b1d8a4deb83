import CKVM

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// SIGINT and SIGTERM, recorded instead of fatal, so any subcommand can stop at
/// its next exit, write what it measured and exit 130.
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
    sigaddset(&set, SIGUSR1)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
  }

  /// Installs only the SIGUSR1 kick that makes a thread's `KVM_RUN` return `EINTR`,
  /// leaving SIGINT and SIGTERM as they are (for code that runs vCPU threads as a
  /// library, under a caller that decides what a signal means).
  public static func installKickHandler() {
    ckvm_install_kick_handler()
  }

  /// The signal that arrived (SIGINT or SIGTERM), or nil.
  public static var signal: Int32? {
    let signal = ckvm_interrupt_signal()
    return signal == 0 ? nil : signal
  }

  /// `SIGINT`, `SIGTERM`, or `signal N`.
  public static func name(_ signal: Int32) -> String {
    switch signal {
    case SIGINT: "SIGINT"
    case SIGTERM: "SIGTERM"
    default: "signal \(signal)"
    }
  }
}

/// Work stopped because SIGINT or SIGTERM arrived.
public struct Interrupted: Error, Sendable, Equatable, CustomStringConvertible {
  public var signal: Int32

  public init(signal: Int32) { self.signal = signal }

  public var description: String { "interrupted by \(Interruption.name(signal))" }
}
