import KVM
import Testing

@Suite("Host description")
struct HostTests {
  @Test("kernel release, arch, page size, online CPUs and NUMA nodes are read")
  func current() {
    let host = Host.current()
    #expect(!host.kernelRelease.isEmpty)
    #expect(!host.arch.isEmpty)
    #expect(host.pageSize >= 4096)
    #expect(!host.cpusOnline.cpus.isEmpty)
    #expect(!host.numaNodes.isEmpty)
    // Every online CPU belongs to some node.
    let nodeCPUs = Set(host.numaNodes.flatMap(\.cpus.cpus))
    #expect(host.cpusOnline.cpus.allSatisfy { nodeCPUs.contains($0) })
  }

  @Test("CPU lists parse in the taskset grammar and print canonically")
  func cpuLists() throws {
    #expect(try CPUList(parsing: "0-3,8").cpus == [0, 1, 2, 3, 8])
    #expect(try CPUList(parsing: "3,1,1").description == "1,3")
    #expect(try CPUList(parsing: "0000001,000-002").cpus == [0, 1, 2])
    #expect(CPUList([0, 1, 2, 5, 7, 8]).description == "0-2,5,7-8")
    for bad in ["", "3-1", "1,,2", "a", "-1", "1-", "1-2-3", " 1", "999999"] {
      #expect(throws: CPUList.ParseError.self, "\(bad)") { try CPUList(parsing: bad) }
    }
  }
}
