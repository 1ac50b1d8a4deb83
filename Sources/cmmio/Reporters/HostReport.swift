import KVM
import Reporting

extension Host {
  /// The `host` object every report carries (docs/cli.md): where the figures come from.
  var json: JSONValue {
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
  var summary: String {
    let nodes = numaNodes.map { "node \($0.node): CPUs \($0.cpus), \($0.memoryMiB) MiB" }.joined(separator: "; ")
    return "\(kernelRelease) \(arch), \(backend), \(cpuModel), \(pageSize)-byte pages, "
      + "CPUs online \(cpusOnline), NUMA \(nodes)"
  }
}

/// Renders a key-value report in the non-JSON formats: CSV and markdown list every
/// leaf of the JSON document by its dotted path, so nothing is lost in either.
func renderKeyValues(_ document: JSONValue, as format: OutputFormat) -> String {
  var table = TextTable(headers: ["key", "value"])
  for (key, value) in document.flattened() { table.append([key, value]) }
  switch format {
  case .csv: return table.csv()
  case .markdown: return table.markdown()
  default: return table.rendered()
  }
}
