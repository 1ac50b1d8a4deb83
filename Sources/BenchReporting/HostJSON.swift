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
