import CMMIOTestSupport
import Foundation
import Guest
import KVM
import Testing

/// What the process holds, from /proc/self.
private enum ProcessUsage {
  /// Open descriptors: the entries of /proc/self/fd (less the one used to list them).
  static func openDescriptors() -> Int {
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(directory) }
    var count = 0
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) {
        String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
      if name != "." && name != ".." { count += 1 }
    }
    return count - 1
  }

  /// Resident set size in bytes: the second field of /proc/self/statm, in pages.
  static func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return -1 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return -1 }
    return pages * Host.pageSize
  }
}

/// Cycles in the test: `CMMIO_SOAK_CYCLES` if set (the longer runs recorded in
/// docs/hardening.md), else 2,000.
private let soakCycles = ProcessInfo.processInfo.environment["CMMIO_SOAK_CYCLES"].flatMap { Int($0) } ?? 2_000

@Suite(
  "Soak: VM lifecycles leak no descriptor and no memory", .serialized,
  .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct SoakTests {
  /// One cycle: create VM → register → run a guest → unregister → destroy. The
  /// guest's writes straddle the zone: coalesced ones and exits, so the ring, the
  /// exit path and the runner's accounting all take part. Returns the writes seen.
  private static func cycle(device: KVMDevice, workload: GuestWorkload, zone: CoalescedZone) throws -> [ObservedWrite] {
    let machine = try GuestMachine(device: device)
    try machine.vm.register(zone)
    machine.load(workload.program())
    var runner = try GuestRunner(vcpu: try machine.addVCPU(), ringSize: 4)
    let (writes, _) = try runner.collect()
    try machine.vm.unregister(zone)
    return writes
    // The machine, its vCPU (fd and kvm_run mapping), its memory and the VM fd go here.
  }

  @Test("create → register → run → unregister → destroy, many times: fds return to their start, RSS stays flat")
  func lifecycles() throws {
    guard ProcessInfo.processInfo.environment[Self.childVariable] != nil else {
      try runAlone()
      return
    }
    let device = try KVMDevice()
    let zone = CoalescedZone(address: GuestLayout.mmioDevice, size: 8)
    let workload = GuestWorkload(target: .device(.mmio, GuestLayout.mmioDevice), writes: 20)
    let expected = (0..<workload.writes).map { workload.data(ofWrite: $0) }
    // Warm-up: the first cycles fill caches and the allocator's pools.
    let warmUp = min(100, soakCycles / 10)
    for _ in 0..<warmUp { _ = try Self.cycle(device: device, workload: workload, zone: zone) }
    let descriptorsBefore = ProcessUsage.openDescriptors()
    let residentBefore = ProcessUsage.residentBytes()
    let started = ContinuousClock.now
    var wrong = 0
    for _ in warmUp..<soakCycles {
      let writes = try Self.cycle(device: device, workload: workload, zone: zone)
      if writes.map(\.data) != expected || writes.filter({ $0.delivery == .coalesced }).count != 16 { wrong += 1 }
    }
    let elapsed = ContinuousClock.now - started
    let residentAfter = ProcessUsage.residentBytes()
    let descriptorsAfter = ProcessUsage.openDescriptors()
    let growth = residentAfter - residentBefore
    print(
      "soak: \(soakCycles) cycles (\(warmUp) warm-up) in \(elapsed); fds \(descriptorsBefore) → \(descriptorsAfter);"
        + " RSS \(residentBefore / 1024) KiB → \(residentAfter / 1024) KiB (\(growth / 1024) KiB)")
    #expect(wrong == 0, "cycles whose writes were not all accounted for")
    #expect(descriptorsBefore > 0)
    #expect(descriptorsAfter == descriptorsBefore, "fds went from \(descriptorsBefore) to \(descriptorsAfter)")
    #expect(growth < Self.residentTolerance, "RSS grew by \(growth / 1024) KiB over \(soakCycles - warmUp) cycles")
  }

  /// Set in the child process that does the cycles.
  static let childVariable = "CMMIO_SOAK_CHILD"

  /// Runs this test again, alone, in a child process of the same test binary, and
  /// fails if it fails. Other suites run concurrently in this process and open fds
  /// and allocate memory of their own (a libdispatch timerfd appeared mid-run, for
  /// one), so only a process doing nothing else gives exact counts.
  private func runAlone() throws {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    child.arguments = ["--testing-library", "swift-testing", "--filter", "SoakTests"]
    child.environment = ProcessInfo.processInfo.environment.merging([Self.childVariable: "1"]) { $1 }
    let output = Pipe()
    child.standardOutput = output
    child.standardError = output
    try child.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    child.waitUntilExit()
    let summary = text.split(separator: "\n").filter { $0.hasPrefix("soak:") || $0.contains("recorded an issue") }
    print(summary.joined(separator: "\n"))
    #expect(child.terminationReason == .exit && child.terminationStatus == 0, "\(text)")
    #expect(summary.contains { $0.hasPrefix("soak:") }, "the child ran no cycles: \(text)")
  }

  /// See docs/hardening.md for the measurements behind it.
  static let residentTolerance = 2 << 20
}
