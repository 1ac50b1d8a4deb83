import Foundation
import KVM
import Testing

@Suite("Provenance: how and where a report was made")
struct ProvenanceTests {
  @Test("RFC 3339 in UTC, to the second, leap days and the far future included")
  func timestamps() {
    #expect(Provenance.rfc3339(seconds: 0) == "1970-01-01T00:00:00Z")
    #expect(Provenance.rfc3339(seconds: 951_782_400) == "2000-02-29T00:00:00Z")
    #expect(Provenance.rfc3339(seconds: 1_795_941_600) == "2026-11-29T08:40:00Z")
    #expect(Provenance.rfc3339(seconds: 4_102_444_799) == "2099-12-31T23:59:59Z")
  }

  @Test("/proc/loadavg: the three averages, nothing from junk")
  func loadAverage() {
    #expect(Provenance.parseLoadAverage("0.52 0.61 0.70 1/234 5678\n") == [0.52, 0.61, 0.70])
    #expect(Provenance.parseLoadAverage("12.00 3.5 0.00 2/99 1") == [12, 3.5, 0])
    for junk in ["", "0.5 0.6", "a b c", "-1 0 0 1/1 1", "nan 1 1 1/1 1"] {
      #expect(Provenance.parseLoadAverage(junk) == nil, "\(junk)")
    }
  }

  /// A /proc and /sys of our own, with the files the host has on a tuned machine.
  func tree(_ files: [String: String]) throws -> String {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("cmmio-provenance-\(UUID().uuidString)")
    for (path, text) in files {
      let url = root.appendingPathComponent(path)
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try text.write(to: url, atomically: true, encoding: .utf8)
    }
    return root.path
  }

  @Test("a tuned host: governors, boost, SMT, the kernel command line and only KVM modules' parameters")
  func tunedHost() throws {
    let root = try tree([
      "proc/cmdline": "BOOT_IMAGE=/vmlinuz isolcpus=2-3 nohz_full=2-3 mitigations=off quiet\n",
      "proc/loadavg": "0.25 0.50 1.00 1/200 300\n",
      "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor": "performance\n",
      "sys/devices/system/cpu/cpu1/cpufreq/scaling_governor": "powersave\n",
      "sys/devices/system/cpu/cpu2/cpufreq/scaling_governor": "performance\n",
      "sys/devices/system/cpu/cpufreq/boost": "0\n",
      "sys/devices/system/cpu/smt/control": "on\n",
      "sys/devices/system/cpu/smt/active": "1\n",
      "sys/module/kvm/parameters/halt_poll_ns": "200000\n",
      "sys/module/kvm/parameters/enable_pmu": "Y\n",
      "sys/module/kvm_intel/parameters/ept": "Y\n",
      "sys/module/vfio/parameters/enable_unsafe_noiommu_mode": "N\n",
      "sys/module/kvmfoo/parameters/x": "1\n",
    ])
    defer { try? FileManager.default.removeItem(atPath: root) }
    let provenance = Provenance.current(
      version: "9.9.9", gitCommit: "abc", gitDirty: false, commandLine: ["cmmio", "bench"], cpus: CPUList([0, 1, 2]),
      root: root)
    #expect(provenance.kernelCmdline == "BOOT_IMAGE=/vmlinuz isolcpus=2-3 nohz_full=2-3 mitigations=off quiet")
    #expect(provenance.loadAverage == [0.25, 0.5, 1])
    #expect(provenance.cpufreqGovernor == "performance,powersave")
    #expect(provenance.boost == false)
    #expect(provenance.smt == Provenance.SMT(control: "on", active: true))
    // `kvmfoo` is not a KVM module (neither `kvm` nor `kvm_…`); vfio is not either.
    #expect(provenance.kvmParameters.map(\.name) == ["kvm.enable_pmu", "kvm.halt_poll_ns", "kvm_intel.ept"])
    #expect(provenance.kvmParameters.map(\.value) == ["Y", "200000", "Y"])
    #expect(provenance.commandLine == ["cmmio", "bench"])
    #expect(provenance.cmmioVersion == "9.9.9")
  }

  @Test("intel_pstate's no_turbo is boost inverted; a host without cpufreq or SMT files has null for them")
  func absentAndInverted() throws {
    let intel = try tree(["sys/devices/system/cpu/intel_pstate/no_turbo": "1\n"])
    let bare = try tree(["proc/loadavg": "junk\n"])
    defer {
      try? FileManager.default.removeItem(atPath: intel)
      try? FileManager.default.removeItem(atPath: bare)
    }
    func read(_ root: String) -> Provenance {
      Provenance.current(
        version: "1", gitCommit: nil, gitDirty: nil, commandLine: [], cpus: CPUList([0]), root: root)
    }
    #expect(read(intel).boost == false)
    let none = read(bare)
    #expect(none.boost == nil)
    #expect(none.cpufreqGovernor == nil)
    #expect(none.smt == nil)
    #expect(none.loadAverage == nil)
    #expect(none.kernelCmdline == nil)
    #expect(none.kvmParameters.isEmpty)
  }

  @Test("this host: the figures are the files' own, and the timestamp is now")
  func thisHost() throws {
    let before = Date().timeIntervalSince1970
    let provenance = Provenance.current(
      version: "1", gitCommit: nil, gitDirty: nil, commandLine: [], cpus: Host.onlineCPUs())
    let after = Date().timeIntervalSince1970
    #expect(provenance.unixTime >= before.rounded(.down) && provenance.unixTime <= after + 1)
    #expect(provenance.timestamp == Provenance.rfc3339(seconds: Int(provenance.unixTime)))
    let cmdline = try String(contentsOfFile: "/proc/cmdline", encoding: .utf8)
    #expect(provenance.kernelCmdline == cmdline.trimmingCharacters(in: .whitespacesAndNewlines))
    #expect(provenance.loadAverage?.count == 3)
    // Every KVM module's parameter as sysfs has it, e.g. kvm.halt_poll_ns.
    let modules = try FileManager.default.contentsOfDirectory(atPath: "/sys/module").filter {
      $0 == "kvm" || $0.hasPrefix("kvm_")
    }
    for module in modules {
      let directory = "/sys/module/\(module)/parameters"
      for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
        guard let value = try? String(contentsOfFile: directory + "/" + name, encoding: .utf8) else { continue }
        let entry = provenance.kvmParameters.first { $0.name == "\(module).\(name)" }
        #expect(entry?.value == value.trimmingCharacters(in: .whitespacesAndNewlines), "\(module).\(name)")
      }
    }
    let governor = "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"
    #expect((provenance.cpufreqGovernor == nil) == !FileManager.default.fileExists(atPath: governor))
  }
}
