import KVM
import Reporting

extension Host {
  /// The `host` object every report carries (docs/cli.md): where the figures come from.
  /// check-cap and bench print the same shape; bench adds `ring_capacity` to it.
  public var reportJSON: JSONValue {
    .object([
      ("kernel_release", .string(kernelRelease)),
      ("arch", .string(arch)),
      ("backend", .string(backend)),
      ("cpu_model", .string(cpuModel)),
      ("page_size", .integer(pageSize)),
      ("cpus_online", .integer(cpusOnline.cpus.count)),
      ("online_cpus", .array(cpusOnline.cpus.map { .integer($0) })),
      (
        "numa_nodes",
        .array(
          numaNodes.map { node in
            .object([
              ("node", .integer(node.node)),
              ("cpus", .array(node.cpus.cpus.map { .integer($0) })),
              ("memory_mib", .integer(node.memoryMiB)),
            ])
          })
      ),
    ])
  }

  /// One line naming the machine, for the foot of tables.
  public var reportSummary: String {
    let nodes = numaNodes.map { "node \($0.node): CPUs \($0.cpus), \($0.memoryMiB) MiB" }.joined(separator: "; ")
    return "\(kernelRelease) \(arch), \(backend), \(cpuModel), \(pageSize)-byte pages, "
      + "CPUs online \(cpusOnline), NUMA \(nodes)"
  }
}

extension Provenance {
  /// The `provenance` object every JSON report carries: how and where the report was made.
  /// Whatever the host or the build could not tell is `null`.
  public var reportJSON: JSONValue {
    .object([
      ("timestamp", .string(timestamp)),
      ("cmmio_version", .string(cmmioVersion)),
      ("git_commit", gitCommit.map { .string($0) } ?? .null),
      ("git_dirty", gitDirty.map { .bool($0) } ?? .null),
      ("command_line", .array(commandLine.map { .string($0) })),
      ("kernel_cmdline", kernelCmdline.map { .string($0) } ?? .null),
      ("cpufreq_governor", cpufreqGovernor.map { .string($0) } ?? .null),
      ("boost", boost.map { .bool($0) } ?? .null),
      (
        "smt",
        smt.map { .object([("control", .string($0.control)), ("active", $0.active.map { .bool($0) } ?? .null)]) }
          ?? .null
      ),
      ("load_average", loadAverage.map { .array($0.map { .double($0) }) } ?? .null),
      ("kvm_parameters", .object(kvmParameters.map { ($0.name, .string($0.value)) })),
    ])
  }

  /// The kernel command-line options that move benchmark figures, as given (`isolcpus=2-3`).
  public var tuningOptions: [String] {
    let names = [
      "isolcpus", "nohz_full", "rcu_nocbs", "mitigations", "intel_pstate", "amd_pstate", "idle", "processor.max_cstate",
      "intel_idle.max_cstate", "nosmt", "nohz", "threadirqs",
    ]
    let words = (kernelCmdline ?? "").split(separator: " ").map(String.init)
    return words.filter { word in names.contains { word == $0 || word.hasPrefix($0 + "=") } }
  }

  /// The build and the settings that matter most, in one line for the foot of tables:
  /// "cmmio 0.1.0 (commit 1a2b3c4d5e6f), 2026-11-30T06:40:00Z; load 1.08 1.06 1.52 at start
  /// on 2 CPUs; governor none, boost none, SMT notsupported; kernel: mitigations=auto".
  public func reportSummary(cpus: Int) -> String {
    var build = "cmmio \(cmmioVersion) ("
    if let gitCommit {
      build += "commit \(gitCommit.prefix(12))" + (gitDirty == true ? " with uncommitted changes" : "")
    } else {
      build += "commit unknown"
    }
    build += "), \(timestamp)"
    var parts = [build]
    if let loadAverage {
      parts.append(
        "load \(loadAverage.map { Human.fixed($0, 2, grouped: false) }.joined(separator: " ")) at start on "
          + "\(cpus) CPU\(cpus == 1 ? "" : "s")")
    }
    var settings = "governor \(cpufreqGovernor ?? "none"), boost \(boost.map { $0 ? "on" : "off" } ?? "none")"
    settings += ", SMT \(smt.map { $0.control + ($0.active == true ? " (active)" : "") } ?? "unknown")"
    parts.append(settings)
    let tuning = tuningOptions
    if !tuning.isEmpty { parts.append("kernel: " + tuning.joined(separator: " ")) }
    return parts.joined(separator: "; ")
  }
}
