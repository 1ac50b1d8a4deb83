import Foundation

/// What one run of the built `cmmio` binary did.
public struct CommandLineRun: Sendable {
  public var status: Int32
  public var stdout: String
  public var stderr: String
  /// True when the process died of a signal (a crash, a trap) rather than exiting.
  public var crashed: Bool

  public init(status: Int32, stdout: String, stderr: String, crashed: Bool) {
    self.status = status
    self.stdout = stdout
    self.stderr = stderr
    self.crashed = crashed
  }

  /// stdout parsed as a JSON object, or nil.
  public var json: [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any]
  }
}

/// A started `cmmio` whose output is being collected.
public final class RunningCommand: @unchecked Sendable {
  public let process: Process
  private let group = DispatchGroup()
  private var outData = Data()
  private var errData = Data()

  init(_ process: Process, out: Pipe, err: Pipe) {
    self.process = process
    // Read on other threads so a full pipe can never block the child.
    DispatchQueue.global().async(group: group) { self.outData = out.fileHandleForReading.readDataToEndOfFile() }
    DispatchQueue.global().async(group: group) { self.errData = err.fileHandleForReading.readDataToEndOfFile() }
  }

  /// Runs `process` with stdout and stderr collected and stdin at /dev/null.
  public static func launch(_ process: Process) throws -> RunningCommand {
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return RunningCommand(process, out: out, err: err)
  }

  /// Waits for the process and everything it wrote.
  public func finish() -> CommandLineRun {
    process.waitUntilExit()
    group.wait()
    return CommandLineRun(
      status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errData, as: UTF8.self), crashed: process.terminationReason == .uncaughtSignal)
  }
}

/// Runs the `cmmio` executable built next to the test bundle.
public enum CMMIOBinary {
  /// `$CMMIO_BINARY`, else `cmmio` in the folder of the running test bundle.
  public static var path: String {
    if let override = ProcessInfo.processInfo.environment["CMMIO_BINARY"] { return override }
    let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    return me.deletingLastPathComponent().appendingPathComponent("cmmio").path
  }

  /// Starts `cmmio arguments…` with the given extra environment and no stdin.
  public static func start(_ arguments: [String], environment: [String: String] = [:]) throws -> RunningCommand {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "CMMIO_DEVICE")
    for (key, value) in environment { env[key] = value }
    process.environment = env
    return try RunningCommand.launch(process)
  }

  /// Runs `cmmio arguments…` to completion.
  public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandLineRun {
    try start(arguments, environment: environment).finish()
  }
}

/// A fresh folder under the temporary directory, removed when the value goes away.
public final class TemporaryFolder {
  public let url: URL

  public init() throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent("cmmio-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  /// The path of `name` inside the folder.
  public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

  /// The names in the folder, sorted.
  public func contents() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: url.path).sorted() }

  deinit { try? FileManager.default.removeItem(at: url) }
}
