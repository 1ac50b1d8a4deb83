import CKVM
import Platform

/// SIGINT, SIGTERM and SIGHUP (an ssh session closing), recorded instead of fatal,
/// so any subcommand can stop at its next exit, write what it measured and exit 130.
/// Only the first signal is recorded: SIGINT then SIGTERM reads as SIGINT.
///
/// The handlers are installed without `SA_RESTART`, so a `KVM_RUN` blocked in the
/// guest returns `EINTR` (`KVM_EXIT_INTR`) and the caller looks here.
public enum Interruption {
  /// The signals recorded rather than fatal (the C shim's `ckvm_install_interrupt_handlers`
  /// installs the same three), and their names.
  public static let recorded: [(signal: Int32, name: String)] = [
    (SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP"),
  ]
  /// The kick: SIGUSR1, whose handler does nothing but make a `KVM_RUN` return `EINTR`.
  public static let kickSignal = SIGUSR1

  /// Installs the handlers and unblocks the signals on the calling thread.
  public static func install() {
    ckvm_install_interrupt_handlers()
    mask(SIG_UNBLOCK, recorded.map(\.signal) + [kickSignal])
  }

  /// For a thread that runs a vCPU for a coordinator: blocks the recorded signals, so
  /// one sent to the process is delivered to the coordinating thread, which then kicks
  /// the vCPU threads; and unblocks the kick, which the creating thread may have blocked
  /// (a process spawned from a libdispatch worker starts with every signal blocked).
  public static func prepareVCPUThread() {
    mask(SIG_BLOCK, recorded.map(\.signal))
    mask(SIG_UNBLOCK, [kickSignal])
  }

  /// Sends the kick to `thread` (a `pthread_t`), so a `KVM_RUN` in progress there returns
  /// `EINTR`. Returns `pthread_kill`'s answer: 0, or the error number.
  @discardableResult
  public static func kick(_ thread: UInt) -> Int32 { ckvm_kick_thread(thread) }

  /// The calling thread's `pthread_t`, to be kicked later.
  public static var currentThread: UInt { UInt(ckvm_thread_self()) }

  /// Forgets the recorded signal. Tests only: a process that was interrupted must end.
  public static func clear() { ckvm_clear_interrupt() }

  private static func mask(_ how: Int32, _ signals: [Int32]) {
    var set = sigset_t()
    sigemptyset(&set)
    for signal in signals { sigaddset(&set, signal) }
    pthread_sigmask(how, &set, nil)
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
    recorded.first { $0.signal == signal }?.name ?? "signal \(signal)"
  }
}

/// Work stopped because SIGINT, SIGTERM or SIGHUP arrived.
public struct Interrupted: Error, Sendable, Equatable, CustomStringConvertible {
  public var signal: Int32

  public init(signal: Int32) { self.signal = signal }

  public var description: String { "interrupted by \(Interruption.name(signal))" }
}
