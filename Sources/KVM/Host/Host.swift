import CKVM
import CNuma
import Platform

/// What the machine is: kernel, KVM backend, page size, CPUs and NUMA nodes.
/// Every report carries it, so figures are never separated from where they ran.
public struct Host: Sendable, Equatable {
  /// One NUMA node, as libnuma reports it.
  public struct NUMANode: Sendable, Equatable {
    public var node: Int
    public var cpus: CPUList
    public var memoryMiB: Int
  }

  /// `uname -r`.
  public var kernelRelease: String
  /// `uname -m`, such as `x86_64`.
  public var arch: String
  /// The loaded KVM module: `kvm_intel`, `kvm_amd`, `kvm_pvm`, … or `unknown`.
  public var backend: String
  /// The CPU's model name from /proc/cpuinfo.
  public var cpuModel: String
  public var pageSize: Int
  /// CPUs online now (/sys/devices/system/cpu/online).
  public var cpusOnline: CPUList
  public var numaNodes: [NUMANode]

  /// The system page size, `sysconf(_SC_PAGESIZE)`.
  public static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

  /// KVM modules cmmio knows by name, looked for under /sys/module.
  public static let knownBackends = ["kvm_intel", "kvm_amd", "kvm_pvm", "kvm_arm", "kvm_riscv", "kvm_hv", "kvm_pr"]

  /// Reads everything now.
  public static func current() -> Host {
    var name = utsname()
    uname(&name)
    func field<T>(_ value: T) -> String {
      withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
    let online = onlineCPUs()
    return Host(
      kernelRelease: field(name.release),
      arch: field(name.machine),
      backend: knownBackends.first { TextFile.exists("/sys/module/\($0)") } ?? "unknown",
      cpuModel: cpuModelName(),
      pageSize: pageSize,
      cpusOnline: online,
      numaNodes: numaNodes(online: online))
  }

  /// The online CPUs, from sysfs, falling back to 0…nprocs−1.
  public static func onlineCPUs() -> CPUList {
    if let text = TextFile.read("/sys/devices/system/cpu/online"),
      let list = try? CPUList(parsing: text.trimmingASCIIWhitespace())
    {
      return list
    }
    return CPUList(Array(0..<max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))))
  }

  /// The NUMA node a CPU belongs to (libnuma `numa_node_of_cpu`), or nil.
  public static func node(ofCPU cpu: Int) -> Int? {
    guard numa_available() >= 0 else { return cpu >= 0 ? 0 : nil }
    let node = numa_node_of_cpu(Int32(cpu))
    return node >= 0 ? Int(node) : nil
  }

  /// The CPU the calling thread runs on now (`sched_getcpu`).
  @inline(__always)
  public static func currentCPU() -> Int { Int(ckvm_current_cpu()) }

  /// Pins the calling thread to `cpu` (`pthread_setaffinity_np`). Returns 0, or the
  /// error number (`EINVAL` for a CPU the process may not use).
  public static func pinCurrentThread(to cpu: Int) -> Int32 {
    ckvm_pin_current_thread(Int32(truncatingIfNeeded: cpu))
  }

  /// Gives the calling thread a private copy of the process's file descriptor table
  /// (`unshare(CLONE_FILES)`). Every syscall on an fd looks it up with `fdget()`, which
  /// takes and drops a reference on the file only while the table is shared by several
  /// threads: about 2% of a plain exit's round trip on the kvm_pvm VM (bench/README.md).
  /// A vCPU thread's own table makes `KVM_RUN` take the single-threaded path. Fds opened
  /// or closed elsewhere afterwards are not seen by the thread, and its copies keep their
  /// files open until it exits. Returns 0, or the error number.
  public static func privateFileTable() -> Int32 { ckvm_unshare_file_table() }

  /// The CPUs this process may run on (`sched_getaffinity` through libnuma), or nil if
  /// that cannot be read. A CPU can be online yet outside the set (`taskset`, cpusets).
  public static func allowedCPUs() -> CPUList? {
    guard let mask = numa_allocate_cpumask() else { return nil }
    defer { numa_bitmask_free(mask) }
    guard numa_sched_getaffinity(0, mask) >= 0 else { return nil }
    let possible = Int(mask.pointee.size)
    return CPUList((0..<possible).filter { numa_bitmask_isbitset(mask, UInt32($0)) != 0 })
  }

  /// Binds `length` bytes at `base` to NUMA node `node` (`numa_tonode_memory`, an
  /// `mbind(MPOL_BIND)`), so the pages are allocated there when first touched.
  /// Without NUMA support in the kernel there is one node and nothing to do.
  public static func placeMemory(_ base: UnsafeMutableRawPointer, length: Int, onNode node: Int) {
    guard numa_available() >= 0 else { return }
    numa_tonode_memory(base, length, Int32(node))
  }

  /// The first problem libnuma reported through `numa_warn(3)` or `numa_error(3)`
  /// (which the C shim defines so they do not print), or nil.
  public static var numaMessage: String? { ckvm_numa_message().map { String(cString: $0) } }

  private static func numaNodes(online: CPUList) -> [NUMANode] {
    guard numa_available() >= 0 else {
      // No NUMA support in this kernel: one node holding everything.
      let pages = sysconf(Int32(_SC_PHYS_PAGES))
      return [NUMANode(node: 0, cpus: online, memoryMiB: Int(pages) * pageSize >> 20)]
    }
    var nodes: [NUMANode] = []
    let allowed = numa_get_mems_allowed()
    defer { numa_bitmask_free(allowed) }
    let cpuMask = numa_allocate_cpumask()
    defer { numa_bitmask_free(cpuMask) }
    let maxNode = numa_max_node()
    guard maxNode >= 0 else { return [] }
    for node in 0...maxNode where numa_bitmask_isbitset(allowed, UInt32(node)) != 0 {
      var cpus: [Int] = []
      if numa_node_to_cpus(node, cpuMask) == 0 {
        for cpu in 0..<Int(numa_num_possible_cpus()) where numa_bitmask_isbitset(cpuMask, UInt32(cpu)) != 0 {
          cpus.append(cpu)
        }
      }
      var free: Int64 = 0
      let size = numa_node_size64(node, &free)
      nodes.append(NUMANode(node: Int(node), cpus: CPUList(cpus), memoryMiB: Int(max(size, 0) >> 20)))
    }
    return nodes
  }

  /// The first "model name" line of /proc/cpuinfo, found in its bytes (splitting the
  /// text into lines as Strings cost a fifth of `check-cap`'s instructions).
  private static func cpuModelName() -> String {
    guard let info = TextFile.read("/proc/cpuinfo", limit: 64 << 10) else { return "unknown" }
    let bytes = Array(info.utf8)
    let key = Array("model name".utf8)
    var lineStart = 0
    while lineStart + key.count <= bytes.count {
      let lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
      if bytes[lineStart..<(lineStart + key.count)].elementsEqual(key),
        let colon = bytes[lineStart..<lineEnd].firstIndex(of: UInt8(ascii: ":"))
      {
        return String(decoding: bytes[(colon + 1)..<lineEnd], as: UTF8.self).trimmingASCIIWhitespace()
      }
      lineStart = lineEnd + 1
    }
    return "unknown"
  }
}

extension StringProtocol {
  /// The text without leading and trailing spaces, tabs and newlines (no Foundation needed).
  public func trimmingASCIIWhitespace() -> String {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
    guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else {
      return ""
    }
    return String(self[start...end])
  }
}
