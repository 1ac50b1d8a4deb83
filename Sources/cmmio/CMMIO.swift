import ArgumentParser
import CMMIOEntry
import KVM
import Platform

/// The `cmmio` command: exercises and benchmarks KVM coalesced MMIO and PIO.
@main
struct CMMIO: ParsableCommand {
  /// The release, as `--version` prints it and every report's `provenance.cmmio_version`.
  static let version = "0.1.0"

  static let configuration = CommandConfiguration(
    commandName: "cmmio",
    abstract: "Exercise and benchmark KVM coalesced MMIO/PIO on the running kernel.",
    discussion: """
      Exit status: 0 success; 1 operation or check failed; 2 KVM not usable; \
      3 a required kernel feature is missing; 64 usage error; 130 interrupted. \
      The complete contract (options, output formats, JSON keys): docs/cli.md.

      EXAMPLES:
        cmmio check-cap
        cmmio verify
        cmmio bench --ring-sizes 1,8,max --vcpu-cpus 0
        cmmio compare before.json after.json --fail-on-regression 5
      """,
    version: CMMIO.version,
    subcommands: [
      CheckCapCommand.self, RegisterCommand.self, UnregisterCommand.self, CreateBufferCommand.self, VerifyCommand.self,
      BenchCommand.self, CompareCommand.self,
    ]
  )

  /// Parses, runs, and maps every failure to the documented exit status with one
  /// sentence on stderr: never a stack trace, never the usage text on an error.
  static func main() {
    // SIGINT/SIGTERM/SIGHUP are recorded, not fatal: every subcommand stops at its next
    // exit, writes what it has and exits 130. CMMIOEntry's constructor installed them
    // before main; this repeats it for a binary whose constructor did not run.
    _ = cmmio_entry_linked()
    Interruption.installForProcess()
    if let fast = CheckCapFastPath(arguments: CommandLine.arguments.dropFirst()) {
      do {
        try MemoryCheck.require(MemoryCheck.baseBytes, for: "check-cap")
        try fast.run()
      } catch { error.exit() }
      exitIfInterrupted()
      warnAboutLibnuma()
      Platform.exit(0)
    }
    do {
      var command = try parseAsRoot()
      try MemoryCheck.require(MemoryCheck.baseBytes, for: "this command")
      try command.run()
      exitIfInterrupted()
      warnAboutLibnuma()
    } catch let failure as CLIFailure {
      failure.exit()
    } catch {
      let code = exitCode(for: error)
      if code == .success {
        print(fullMessage(for: error))
        Platform.exit(0)
      }
      let message = oneSentence(message(for: error))
      CLIFailure(code == .validationFailure ? .usage : .failure, message.isEmpty ? "\(error)" : message).exit()
    }
  }

  /// ArgumentParser's message as one sentence on one line: without its "Error: " prefix,
  /// its list of valid values (one line, or a bullet per value past five) joined into the
  /// sentence, and nothing after its first line otherwise.
  static func oneSentence(_ parserMessage: String) -> String {
    var message = parserMessage.trimmingASCIIWhitespace()
    if message.hasPrefix("Error: ") { message.removeFirst(7) }
    var lines = message.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let suffix = ". Please provide one of "
    if let range = lines[0].firstRange(of: suffix) {
      var values: [String]
      if lines[0].hasSuffix("the following:") {
        values = lines.dropFirst().prefix { $0.hasPrefix("  - ") }.map { "'\($0.dropFirst(4))'" }
      } else {
        values = String(lines[0][range.upperBound...]).trimmingTrailingPeriod()
          .split(separator: "'", omittingEmptySubsequences: true).enumerated()
          .filter { $0.offset % 2 == 0 }.map { "'\($0.element)'" }
      }
      var list = values.joined()
      if let last = values.last, values.count > 1 { list = values.dropLast().joined(separator: ", ") + " or " + last }
      lines[0] = String(lines[0][..<range.lowerBound]) + "; it takes " + list
    }
    return lines[0]
  }

  /// A run that succeeded although libnuma reported a problem (its numa_warn, see
  /// `Host.numaMessage`) says so in one line: the host's NUMA details may be incomplete.
  private static func warnAboutLibnuma() {
    guard let message = Host.numaMessage else { return }
    let text = message.trimmingTrailingPeriod()
    standardError(
      CLIFailure.line("warning: libnuma reported \(text); the NUMA details of the host may be incomplete"))
  }

  /// A signal that arrived after the work was done still ends the run with 130:
  /// a script that pressed Ctrl-C must not read success.
  private static func exitIfInterrupted() {
    if let signal = Interruption.signal {
      CLIFailure(.interrupted, "\(Interrupted(signal: signal)), after the report was written").exit()
    }
  }
}
