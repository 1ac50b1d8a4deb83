import Guest
import KVM

/// Something that makes guest writes and says what reached userspace through the vCPU: the
/// VM ring's entries (`coalesced`) and the `KVM_EXIT_MMIO`/`KVM_EXIT_IO` writes (`exit`), in
/// the order the runner saw them. Writes coalesced into v2 buffer rings are not in this list:
/// the caller drains those rings itself.
public protocol GuestWriter {
  mutating func perform(_ writes: [ExpectedWrite]) throws -> [ObservedWrite]
}

/// Real guest writes: one straight-line program per call on a real vCPU, run to `hlt` by
/// `GuestRunner`, which drains the VM ring before handling every exit.
public struct MachineWriter: GuestWriter {
  public let machine: GuestMachine
  public let vcpu: VCPU
  /// Totals over every call.
  public private(set) var counts = RunCounts()

  /// Adds a vCPU to `machine`, parked at `hlt` until the first `perform`.
  public init(machine: GuestMachine) throws(SystemCallError) {
    self.machine = machine
    var idle = GuestProgram()
    idle.halt()
    machine.load(idle)
    vcpu = try machine.addVCPU()
  }

  public mutating func perform(_ writes: [ExpectedWrite]) throws -> [ObservedWrite] {
    var program = GuestProgram()
    for write in writes {
      program.write(write.space, address: write.address, length: write.length, data: write.data)
    }
    program.halt()
    try machine.restart(vcpu, with: program)
    var runner = try GuestRunner(vcpu: vcpu)
    let (observed, counts) = try runner.collect()
    self.counts.runs += counts.runs
    self.counts.writeExits += counts.writeExits
    self.counts.readExits += counts.readExits
    self.counts.ringEntries += counts.ringEntries
    self.counts.interruptions += counts.interruptions
    return observed
  }
}

/// How one probe's write reached userspace.
public struct ProbeResult: Sendable, Equatable {
  public var probe: Probe
  /// The write the guest made: address, length, kind and data.
  public var write: ExpectedWrite
  /// `coalesced` or `exit`; nil when what was observed did not match the write.
  public var outcome: Delivery?
  /// For a write found in a v2 buffer ring: that buffer's index.
  public var buffer: Int?

  public init(probe: Probe, write: ExpectedWrite, outcome: Delivery?, buffer: Int? = nil) {
    self.probe = probe
    self.write = write
    self.outcome = outcome
    self.buffer = buffer
  }
}

/// Runs probe writes in batches and accounts for every one of them.
public enum ProbeRun {
  /// Writes per guest program. Below half the usable ring (84 of 169 on 4 KiB pages), so even
  /// a kernel with the pre-6.12 half-ring bug never turns a probe into an exit for lack of room.
  public static let batchSize = 64

  /// What a probe run found.
  public struct Account: Sendable, Equatable {
    public var results: [ProbeResult]
    /// Mismatches, one sentence each; empty when every write was found as written.
    public var problems: [String]
  }

  /// Writes `writes` (for `probes`, same order) through `writer`, batch by batch. After each
  /// batch `inspect` runs (to look at v2 rings before they are drained), then `drain` returns
  /// the entries of every v2 buffer ring, one list per buffer, in ring order.
  public static func run<Writer: GuestWriter>(
    probes: [Probe], writes: [ExpectedWrite], writer: inout Writer,
    inspect: () throws -> Void = {}, drain: () throws -> [[ObservedWrite]] = { [] }
  ) throws -> Account {
    precondition(probes.count == writes.count, "one write per probe")
    var results: [ProbeResult] = []
    var problems: [String] = []
    var start = 0
    while start < writes.count {
      let end = min(start + batchSize, writes.count)
      let expected = Array(writes[start..<end])
      let direct = try writer.perform(expected)
      try inspect()
      let rings = try drain()
      let merged = merge(expected: expected, direct: direct, rings: rings)
      let accounting = WriteAccounting(expected: expected, observed: merged.observed)
      let prefix = writes.count > batchSize ? "probes \(start + 1)-\(end): " : ""
      problems += accounting.problems.map { prefix + $0 }
      for (offset, want) in expected.enumerated() {
        let index = start + offset
        var result = ProbeResult(probe: probes[index], write: want, outcome: nil, buffer: nil)
        if offset < merged.observed.count, merged.observed[offset].matches(want) {
          result.outcome = merged.observed[offset].delivery
          result.buffer = merged.buffers[offset]
        }
        results.append(result)
      }
      start = end
    }
    return Account(results: results, problems: problems)
  }

  /// Puts what the writer saw and what each v2 ring held into one list in program order,
  /// keeping each source's own order: for each expected write, the head of the direct list or
  /// of a ring that matches it is taken. When none matches, a head with the same address and
  /// kind (else any head) is taken anyway, so the accounting reports the mismatch, and whatever is left over is appended at the end (so
  /// it reports writes nobody made). `buffers[i]` names the ring entry `i` came from.
  public static func merge(
    expected: [ExpectedWrite], direct: [ObservedWrite], rings: [[ObservedWrite]]
  ) -> (observed: [ObservedWrite], buffers: [Int?]) {
    let queues = [direct] + rings
    var heads = Array(repeating: 0, count: queues.count)
    var observed: [ObservedWrite] = []
    var buffers: [Int?] = []
    func take(_ queue: Int) {
      observed.append(queues[queue][heads[queue]])
      buffers.append(queue == 0 ? nil : queue - 1)
      heads[queue] += 1
    }
    for want in expected {
      let pending = queues.indices.filter { heads[$0] < queues[$0].count }
      guard let first = pending.first else { break }
      let exact = pending.first { queues[$0][heads[$0]].matches(want) }
      let sameTarget = pending.first {
        queues[$0][heads[$0]].address == want.address && queues[$0][heads[$0]].space == want.space
      }
      take(exact ?? sameTarget ?? first)
    }
    for queue in queues.indices {
      while heads[queue] < queues[queue].count { take(queue) }
    }
    return (observed, buffers)
  }
}
