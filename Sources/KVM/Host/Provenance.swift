import Platform

/// How a report was made: when, by which build, with which command line, and the host
/// settings that move benchmark figures (kernel command line, frequency governor, boost,
/// SMT, load, KVM module parameters). Read once, at the start of a command, so the load
/// average is the host's before cmmio added its own.
///
/// The build's version and commit are passed in: the KVM layer knows the host, not the build.
public struct Provenance: Sendable, Equatable {
  /// SMT as the kernel reports it in /sys/devices/system/cpu/smt.
  public struct SMT: Sendable, Equatable {
    /// `control`: `on`, `off`, `forceoff`, `notsupported` or `notimplemented`.
    public var control: String
    /// `active`: whether sibling threads are online now; nil if the file is missing.
    public var active: Bool?

    public init(control: String, active: Bool?) {
      self.control = control
      self.active = active
    }
  }

  /// RFC 3339 in UTC, to the second: `2026-11-30T06:40:00Z`.
  public var timestamp: String
  /// The same instant in seconds since the epoch (OpenMetrics gauges).
  public var unixTime: Double
  public var cmmioVersion: String
  /// The commit the binary was built from; nil where the build was not in a git checkout.
  public var gitCommit: String?
  /// Whether the checkout had uncommitted changes at build time; nil where unknown.
  public var gitDirty: Bool?
  public var commandLine: [String]
  /// /proc/cmdline (isolcpus, nohz_full, mitigations, …).
  public var kernelCmdline: String?
  /// The cpufreq governors of the online CPUs, distinct, comma-separated; nil without cpufreq.
  public var cpufreqGovernor: String?
  /// Turbo/boost: /sys/devices/system/cpu/cpufreq/boost, or intel_pstate's `no_turbo`
  /// inverted; nil where the host has neither.
  public var boost: Bool?
  public var smt: SMT?
  /// /proc/loadavg's 1, 5 and 15 minute averages; nil if unreadable.
  public var loadAverage: [Double]?
  /// Every readable parameter of each loaded KVM module (`kvm`, `kvm_intel`, `kvm_amd`,
  /// `kvm_pvm`, …) as `module.param` and its value, sorted by name.
  public var kvmParameters: [(name: String, value: String)]

  public init(
    timestamp: String, unixTime: Double, cmmioVersion: String, gitCommit: String?, gitDirty: Bool?,
    commandLine: [String], kernelCmdline: String?, cpufreqGovernor: String?, boost: Bool?, smt: SMT?,
    loadAverage: [Double]?, kvmParameters: [(name: String, value: String)]
  ) {
    self.timestamp = timestamp
    self.unixTime = unixTime
    self.cmmioVersion = cmmioVersion
    self.gitCommit = gitCommit
    self.gitDirty = gitDirty
    self.commandLine = commandLine
    self.kernelCmdline = kernelCmdline
    self.cpufreqGovernor = cpufreqGovernor
    self.boost = boost
    self.smt = smt
    self.loadAverage = loadAverage
    self.kvmParameters = kvmParameters
  }

  public static func == (a: Provenance, b: Provenance) -> Bool {
    a.timestamp == b.timestamp && a.unixTime == b.unixTime && a.cmmioVersion == b.cmmioVersion
      && a.gitCommit == b.gitCommit && a.gitDirty == b.gitDirty && a.commandLine == b.commandLine
      && a.kernelCmdline == b.kernelCmdline && a.cpufreqGovernor == b.cpufreqGovernor && a.boost == b.boost
      && a.smt == b.smt && a.loadAverage == b.loadAverage
      && a.kvmParameters.map(\.name) == b.kvmParameters.map(\.name)
      && a.kvmParameters.map(\.value) == b.kvmParameters.map(\.value)
  }

  /// Reads everything now. `root` prefixes every /proc and /sys path (tests point it
  /// at a tree of their own); `cpus` are the CPUs whose governors are read.
  public static func current(
    version: String, gitCommit: String?, gitDirty: Bool?, commandLine: [String], cpus: CPUList, root: String = ""
  ) -> Provenance {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Provenance(
      timestamp: rfc3339(seconds: Int(now.tv_sec)),
      unixTime: Double(now.tv_sec) + Double(now.tv_nsec) / 1e9,
      cmmioVersion: version, gitCommit: gitCommit, gitDirty: gitDirty, commandLine: commandLine,
      kernelCmdline: TextFile.read(root + "/proc/cmdline", limit: 64 << 10).map { $0.trimmingASCIIWhitespace() },
      cpufreqGovernor: governors(root: root, cpus: cpus),
      boost: boost(root: root),
      smt: smt(root: root),
      loadAverage: TextFile.read(root + "/proc/loadavg", limit: 4096).flatMap(parseLoadAverage),
      kvmParameters: kvmParameters(root: root))
  }

  /// `2026-11-30T06:40:00Z` for seconds since the epoch (gmtime_r: no time zone, no locale).
  public static func rfc3339(seconds: Int) -> String {
    var time = time_t(seconds)
    var parts = tm()
    guard gmtime_r(&time, &parts) != nil else { return "unknown" }
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
      + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
  }

  /// The first three fields of /proc/loadavg (`0.52 0.61 0.70 1/234 5678`).
  public static func parseLoadAverage(_ text: String) -> [Double]? {
    let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).prefix(3).compactMap { Double($0) }
    guard fields.count == 3, fields.allSatisfy({ $0.isFinite && $0 >= 0 }) else { return nil }
    return fields
  }

  /// The governors of `cpus` (policy files under cpuN/cpufreq), distinct, in CPU order.
  static func governors(root: String, cpus: CPUList) -> String? {
    var seen: [String] = []
    for cpu in cpus.cpus {
      guard let text = TextFile.read(root + "/sys/devices/system/cpu/cpu\(cpu)/cpufreq/scaling_governor", limit: 256)
      else { continue }
      let governor = text.trimmingASCIIWhitespace()
      if !governor.isEmpty, !seen.contains(governor) { seen.append(governor) }
    }
    return seen.isEmpty ? nil : seen.joined(separator: ",")
  }

  /// cpufreq's global `boost` (acpi-cpufreq, amd-pstate), else intel_pstate's `no_turbo` (inverted).
  static func boost(root: String) -> Bool? {
    func flag(_ path: String) -> Bool? {
      switch TextFile.read(root + path, limit: 64)?.trimmingASCIIWhitespace() {
      case "1"?: return true
      case "0"?: return false
      default: return nil
      }
    }
    if let boost = flag("/sys/devices/system/cpu/cpufreq/boost") { return boost }
    return flag("/sys/devices/system/cpu/intel_pstate/no_turbo").map { !$0 }
  }

  static func smt(root: String) -> SMT? {
    let directory = root + "/sys/devices/system/cpu/smt/"
    guard let control = TextFile.read(directory + "control", limit: 64)?.trimmingASCIIWhitespace(), !control.isEmpty
    else { return nil }
    let active = TextFile.read(directory + "active", limit: 64)?.trimmingASCIIWhitespace()
    return SMT(control: control, active: active == "1" ? true : active == "0" ? false : nil)
  }

  /// /sys/module/kvm*/parameters/*: every loaded KVM module's parameters that can be read
  /// (a few are write-only, mode 0200, and are left out).
  static func kvmParameters(root: String) -> [(name: String, value: String)] {
    let modules = directoryEntries(root + "/sys/module").filter { $0 == "kvm" || $0.hasPrefix("kvm_") }.sorted()
    var parameters: [(name: String, value: String)] = []
    for module in modules {
      let directory = root + "/sys/module/\(module)/parameters/"
      for parameter in directoryEntries(directory).sorted() {
        guard let value = TextFile.read(directory + parameter, limit: 4096) else { continue }
        parameters.append(("\(module).\(parameter)", value.trimmingASCIIWhitespace()))
      }
    }
    return parameters
  }

  /// The names in a directory, without `.` and `..`; empty if it cannot be opened.
  static func directoryEntries(_ path: String) -> [String] {
    guard let directory = opendir(path) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names
  }
}
