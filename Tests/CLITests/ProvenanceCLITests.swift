import CMMIOTestSupport
import Foundation
import Testing

/// `provenance` in the JSON of the built binary, and the build's commit from scripts/build-info.sh.
@Suite("provenance in every JSON report, the built binary", .serialized)
struct ProvenanceCLITests {
  /// The package's folder (this file is Tests/CLITests/…).
  static let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

  static let keys = [
    "timestamp", "cmmio_version", "git_commit", "git_dirty", "command_line", "kernel_cmdline", "cpufreq_governor",
    "boost", "smt", "load_average", "kvm_parameters",
  ]

  /// Runs `program arguments…` and returns its trimmed stdout, or nil if it failed.
  static func output(_ program: String, _ arguments: [String]) -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return nil }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  func provenance(_ run: CommandLineRun, _ arguments: [String]) throws -> [String: Any] {
    try #require(run.status == 0, "\(arguments) failed: \(run.stderr)")
    let document = try #require(run.json, "not JSON: \(run.stdout.prefix(200))")
    let provenance = try #require(document["provenance"] as? [String: Any], "no provenance object")
    for key in Self.keys { #expect(provenance.keys.contains(key), "provenance lacks \(key)") }
    #expect(provenance["command_line"] as? [String] == [CMMIOBinary.path] + arguments)
    let timestamp = try #require(provenance["timestamp"] as? String)
    #expect(timestamp.count == 20 && timestamp.hasSuffix("Z"), "\(timestamp)")
    let formatter = ISO8601DateFormatter()
    let when = try #require(formatter.date(from: timestamp), "not RFC 3339: \(timestamp)")
    #expect(abs(when.timeIntervalSinceNow) < 600)
    #expect((provenance["load_average"] as? [Double])?.count == 3)
    let parameters = try #require(provenance["kvm_parameters"] as? [String: String])
    if let halt = try? String(contentsOfFile: "/sys/module/kvm/parameters/halt_poll_ns", encoding: .utf8) {
      #expect(parameters["kvm.halt_poll_ns"] == halt.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    return provenance
  }

  @Test(
    "check-cap: every key, and git_commit is the checkout's HEAD (null outside a checkout)",
    .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
  func checkCap() throws {
    let arguments = ["check-cap", "--format", "json"]
    let provenance = try provenance(try CMMIOBinary.run(arguments), arguments)
    #expect(provenance["cmmio_version"] as? String == Self.output(CMMIOBinary.path, ["--version"]))
    let top = Self.output("/usr/bin/git", ["-C", Self.package, "rev-parse", "--show-toplevel"])
    let isCheckout =
      top.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }
      == URL(fileURLWithPath: Self.package).resolvingSymlinksInPath().path
    if isCheckout, ProcessInfo.processInfo.environment["CMMIO_BINARY"] == nil {
      // The commit the binary was built from: HEAD in a fresh build, or an ancestor of HEAD
      // when commits were made since the build (`swift test --skip-build`); never anything else.
      let commit = try #require(provenance["git_commit"] as? String, "a build in a checkout has a commit")
      #expect(commit.count == 40 && commit.allSatisfy(\.isHexDigit), "\(commit)")
      let ancestor = Self.output(
        "/usr/bin/git", ["-C", Self.package, "merge-base", "--is-ancestor", commit, "HEAD"])
      #expect(ancestor != nil, "\(commit) is not HEAD or an ancestor of it")
      #expect(provenance["git_dirty"] is Bool)
    } else if !isCheckout {
      #expect(provenance["git_commit"] is NSNull)
    }
  }

  @Test("scripts/build-info.sh: the HEAD of a checkout, nil outside one or in a folder inside one")
  func buildInfoScript() throws {
    let folder = try TemporaryFolder()
    let script = Self.package + "/scripts/build-info.sh"
    func generated(_ package: String) throws -> String {
      let out = folder.path(UUID().uuidString)
      #expect(Self.output("/bin/bash", [script, package, out]) != nil, "build-info.sh failed for \(package)")
      return try String(contentsOfFile: out + "/BuildInfo.swift", encoding: .utf8)
    }
    let outside = try generated(folder.url.path)
    #expect(outside.contains("static let gitCommit: String? = nil"))
    #expect(outside.contains("static let gitDirty: Bool? = nil"))
    // A folder inside the checkout is not the package: its commit would be another's.
    let inside = try generated(Self.package + "/Sources")
    #expect(inside.contains("static let gitCommit: String? = nil"))
    if let head = Self.output("/usr/bin/git", ["-C", Self.package, "rev-parse", "HEAD"]),
      Self.output("/usr/bin/git", ["-C", Self.package, "rev-parse", "--show-toplevel"]) != nil
    {
      #expect(try generated(Self.package).contains("static let gitCommit: String? = \"\(head)\""))
    }
  }

  /// `sudo swift build` in a user's clone: git refuses a repository another user owns
  /// ("dubious ownership") unless told it is safe, which the script does for this one read.
  @Test(
    "scripts/build-info.sh as root in a checkout another user owns: still its HEAD",
    .enabled(if: getuid() == 0, "needs root, to give the checkout to another user"))
  func buildInfoForeignOwner() throws {
    let folder = try TemporaryFolder()
    let repo = folder.path("checkout")
    let git = "/usr/bin/git"
    try #require(Self.output(git, ["init", "-q", repo]) != nil)
    try #require(
      Self.output(
        git,
        [
          "-C", repo, "-c", "user.name=cmmio", "-c", "user.email=cmmio@invalid", "commit", "-q",
          "--allow-empty", "-m", "a commit",
        ]) != nil)
    let head = try #require(Self.output(git, ["-C", repo, "rev-parse", "HEAD"]))
    try #require(Self.output("/bin/chown", ["-R", "65534:65534", repo]) != nil)
    // Git now refuses it as it stands.
    #expect(Self.output(git, ["-C", repo, "rev-parse", "HEAD"]) == nil)
    let out = folder.path("out")
    try #require(Self.output("/bin/bash", [Self.package + "/scripts/build-info.sh", repo, out]) != nil)
    let generated = try String(contentsOfFile: out + "/BuildInfo.swift", encoding: .utf8)
    #expect(generated.contains("static let gitCommit: String? = \"\(head)\""), "\(generated)")
    #expect(generated.contains("static let gitDirty: Bool? = false"), "\(generated)")
  }

  @Test(
    "verify and bench carry it; bench's warnings say fewer than 3 runs; compare keeps both inputs' and adds its own",
    .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
  func verifyBenchCompare() throws {
    let verify = ["verify", "--space", "pio", "--format", "json"]
    _ = try provenance(try CMMIOBinary.run(verify), verify)

    let folder = try TemporaryFolder()
    let bench = [
      "bench", "--modes", "ram,plain", "--writes", "2000", "--runs", "2", "--warmup", "0", "--format", "json",
    ]
    let run = try CMMIOBinary.run(bench)
    let saved = try provenance(run, bench)
    let document = try #require(run.json)
    let warnings = try #require(document["warnings"] as? [[String: Any]])
    #expect(warnings.contains { $0["kind"] as? String == "few_runs" && $0["value"] as? Double == 2 })
    try run.stdout.write(toFile: folder.path("a.json"), atomically: true, encoding: .utf8)

    let compare = ["compare", folder.path("a.json"), folder.path("a.json"), "--format", "json"]
    let compared = try CMMIOBinary.run(compare)
    let own = try provenance(compared, compare)
    #expect(own["timestamp"] as? String != nil)
    let baseline = try #require((compared.json?["baseline"] as? [String: Any])?["provenance"] as? [String: Any])
    #expect(baseline["timestamp"] as? String == saved["timestamp"] as? String)
    #expect(baseline["command_line"] as? [String] == saved["command_line"] as? [String])
  }
}
