import Foundation

/// What one run of the built `cmmio` binary did.
public struct CommandLineRun: Sendable {
  public var status: Int32
  public var stdout: String
  public var stderr: String
  /// True when the process died of a signal (a crash, a trap) rather than exiting.
  public var crashed: Bool

  /// stdout parsed as a JSON object, or nil.
  public var json: [String: Any]? {
    guard let data = stdout.data(using: .utf8) else { return nil }
    return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
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

  /// Runs `cmmio arguments…` to completion with the given extra environment.
  public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandLineRun {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "CMMIO_DEVICE")
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes before waiting, so a large report cannot block the child.
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandLineRun(
      status: process.terminationStatus,
      stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errData, as: UTF8.self),
      crashed: process.terminationReason == .uncaughtSignal)
  }
}
