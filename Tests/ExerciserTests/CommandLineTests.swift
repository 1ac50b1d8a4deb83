import CMMIOTestSupport
import Foundation
import Testing

/// The built `cmmio` binary (next to the test bundle, or `$CMMIO_BINARY`), run as a script would.
enum BuiltBinary {
  /// Runs `cmmio` with `arguments`; fails the test, saying where it looked, if the binary is not there.
  static func cmmio(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    try #require(
      FileManager.default.isExecutableFile(atPath: CMMIOBinary.path),
      "no cmmio binary at \(CMMIOBinary.path): build it with swift build --build-tests")
    let run = try CMMIOBinary.run(arguments)
    #expect(!run.crashed, "cmmio \(arguments) crashed: \(run.stderr)")
    return (run.status, run.stdout, run.stderr)
  }
}

@Suite("the cmmio binary: register, unregister, create-buffer")
struct CommandLineTests {
  func json(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
  }

  @Test(
    "malformed values exit 64 with one sentence on stderr and nothing on stdout",
    arguments: [
      ["register", "--zone", "0x100000"],
      ["register", "--zone", "0x100000:0"],
      ["register", "--zone", "0xffffffffffffffff:2"],
      ["register", "--zone", "0x100000:0x10:mmio"],
      ["register", "--zone", "0x100000:0x10:pio:1"],
      ["register", "--zone", ""],
      ["register", "--zone", "0x100000:0x100000000"],
      ["register"],
      ["register", "--zone", "0x100000:1", "--probe", "0x1000"],
      ["register", "--zone", "0x100000:1", "--probe", "0x100000000"],
      ["register", "--zone", "0x100000:1", "--probe", "0x80:pio:x"],
      ["register", "--zone", "0x100000:1", "--width", "3"],
      ["unregister", "--zone", "0x100000:0x1000"],
      ["unregister", "--zone", "0x100000:0x1000", "--range", "1:0"],
      ["create-buffer", "--buffers", "0"],
      ["create-buffer", "--zone", "-1:1"],
    ])
  func badInput(arguments: [String]) throws {
    let (status, stdout, stderr) = try BuiltBinary.cmmio(arguments)
    #expect(status == 64, "\(arguments): \(stderr)")
    #expect(stdout.isEmpty)
    let lines = stderr.split(separator: "\n")
    #expect(lines.count == 1, "\(stderr)")
    #expect(stderr.hasPrefix("cmmio: "))
  }

  @Test(
    "create-buffer exits 3 here, naming the ioctl, the kernel's answer and the unmerged proposal",
    .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
  func createBufferAbsent() throws {
    for arguments in [
      ["create-buffer"], ["create-buffer", "--buffers", "4", "--probe"],
      ["register", "--zone", "0x100000:0x1000", "--v2"],
    ] {
      let (status, stdout, stderr) = try BuiltBinary.cmmio(arguments)
      #expect(status == 3)
      #expect(stdout.isEmpty)
      #expect(stderr.split(separator: "\n").count == 1)
      #expect(stderr.contains("KVM_CREATE_COALESCED_MMIO_BUFFER"))
      #expect(stderr.contains("ENOTTY (Inappropriate ioctl for device)"))
      #expect(stderr.contains("unmerged 2024 proposal"))
    }
  }

  @Test(
    "register --format json: schema, operations, probes coalesced, coalesced, exit",
    .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
  func registerJSON() throws {
    let (status, stdout, _) = try BuiltBinary.cmmio(["register", "--zone", "0x100000:0x1000", "--format", "json"])
    #expect(status == 0)
    let document = try json(stdout)
    #expect(document["schema"] as? String == "cmmio.register/1")
    let operations = try #require(document["operations"] as? [[String: Any]])
    #expect(operations.count == 1)
    #expect(operations[0]["op"] as? String == "register")
    #expect(operations[0]["addr"] as? Int == 0x10_0000)
    #expect(operations[0]["size"] as? Int == 0x1000)
    #expect(operations[0]["pio"] as? Bool == false)
    #expect(operations[0]["result"] as? String == "ok")
    #expect(operations[0]["errno"] is NSNull)
    let probes = try #require(document["probes"] as? [[String: Any]])
    #expect(probes.map { $0["addr"] as? Int } == [0x10_0000, 0x10_0FFF, 0x10_1000])
    #expect(probes.map { $0["outcome"] as? String } == ["coalesced", "coalesced", "exit"])
  }

  @Test(
    "unregister --format json: a sub-range shows the zone gone, a superset shows it still there",
    .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
  func unregisterJSON() throws {
    for (range, present) in [("0x100100:0x10", false), ("0xff000:0x3000", true)] {
      let (status, stdout, _) = try BuiltBinary.cmmio([
        "unregister", "--zone", "0x100000:0x1000", "--range", range, "--format", "json",
      ])
      #expect(status == 0)
      let document = try json(stdout)
      #expect(document["schema"] as? String == "cmmio.unregister/1")
      let operations = try #require(document["operations"] as? [[String: Any]])
      #expect(operations.map { $0["op"] as? String } == ["register", "unregister"])
      #expect(operations.allSatisfy { $0["result"] as? String == "ok" })
      let after = try #require(document["zones_after"] as? [[String: Any]])
      #expect(after.first?["present"] as? Bool == present)
    }
  }

  @Test(
    "a refused registration exits 1 with the ioctl, the zone and the errno, after printing the report",
    .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
  func registrationFailure() throws {
    var arguments = ["register", "--probe", "0x200000", "--format", "csv"]
    for index in 0..<1001 { arguments += ["--zone", "\(0x20_0000 + index * 16):8"] }
    let (status, stdout, stderr) = try BuiltBinary.cmmio(arguments)
    #expect(status == 1)
    #expect(stderr.contains("KVM_REGISTER_COALESCED_MMIO"))
    #expect(stderr.contains("ENOSPC"))
    #expect(stdout.contains("operation,register,KVM_REGISTER_COALESCED_MMIO,0x203e80,0x8,false,error,ENOSPC"))
  }
}
