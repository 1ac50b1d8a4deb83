import CMMIOTestSupport
import Exerciser
import Guest
import KVM
import Platform
import Testing

/// Zone sessions on the real /dev/kvm with real guests: what this kernel does with register and
/// unregister, every probe write checked for address, length, kind and data.
@Suite("register and unregister on the real kernel", .enabled(if: KVMAvailability.usable, KVMAvailability.reason))
struct ZoneSessionTests {
  /// Checks that every probe was observed exactly as written, with nothing left over.
  func expectAccounted(_ result: ZoneSessionResult, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.problems.isEmpty, "\(result.problems)", sourceLocation: sourceLocation)
    #expect(result.probes.allSatisfy { $0.outcome != nil }, sourceLocation: sourceLocation)
  }

  @Test("register --zone 0x100000:0x1000: first and last byte coalesced, the byte past it exits")
  func registerDefaultProbes() throws {
    let session = ZoneSession(zones: [CoalescedZone(address: 0x10_0000, size: 0x1000)])
    let result = try session.run(device: KVMDevice())
    #expect(result.operations.map(\.succeeded) == [true])
    #expect(result.operations.first?.ioctl == "KVM_REGISTER_COALESCED_MMIO")
    #expect(result.probes.map(\.probe.address) == [0x10_0000, 0x10_0FFF, 0x10_1000])
    #expect(result.probes.map(\.outcome) == [.coalesced, .coalesced, .exit])
    // Each write carried its own data (1, 2, 3), one byte, MMIO.
    #expect(result.probes.map(\.write.data) == [1, 2, 3])
    #expect(result.probes.allSatisfy { $0.write.length == 1 && $0.write.space == .mmio })
    expectAccounted(result)
    #expect(result.zonesAfter.first?.present == true)
  }

  @Test(
    "unregister: a sub-range removes the containing zone; a partial overlap or a superset removes nothing; all return 0",
    arguments: [
      (CoalescedZone(address: 0x10_0100, size: 0x10), false),
      (CoalescedZone(address: 0x10_0000, size: 0x1000), false),
      (CoalescedZone(address: 0x10_0800, size: 0x1000), true),
      (CoalescedZone(address: 0xF_F000, size: 0x3000), true),
      (CoalescedZone(address: 0x10_0100, size: 0x10, space: .pio), true),
    ])
  func unregisterRange(range: CoalescedZone, stays: Bool) throws {
    let session = ZoneSession(zones: [CoalescedZone(address: 0x10_0000, size: 0x1000)], ranges: [range])
    let result = try session.run(device: KVMDevice())
    #expect(result.operations.map(\.kind) == [.register, .unregister])
    #expect(result.operations.allSatisfy { $0.succeeded })
    let inside: Delivery = stays ? .coalesced : .exit
    #expect(result.probes.map(\.outcome) == [inside, inside, .exit])
    #expect(result.zonesAfter.first?.present == stays)
    expectAccounted(result)
  }

  @Test("unregister removes every zone that contains the range, and only those")
  func unregisterSeveral() throws {
    let zones = [
      CoalescedZone(address: 0x10_0000, size: 0x1000),
      CoalescedZone(address: 0x10_0000, size: 0x100),
      CoalescedZone(address: 0x20_0000, size: 0x1000),
    ]
    let session = ZoneSession(zones: zones, ranges: [CoalescedZone(address: 0x10_0010, size: 8)])
    let result = try session.run(device: KVMDevice())
    #expect(result.zonesAfter.map(\.present) == [false, false, true])
    expectAccounted(result)
  }

  @Test("a PIO zone at port 0x80 coalesces out to 0x80 and not to 0x88")
  func pioZone() throws {
    let session = ZoneSession(
      zones: [CoalescedZone(address: 0x80, size: 8, space: .pio)],
      probes: [Probe(address: 0x80, space: .pio), Probe(address: 0x88, space: .pio)])
    let result = try session.run(device: KVMDevice())
    #expect(result.probes.map(\.outcome) == [.coalesced, .exit])
    #expect(result.probes.allSatisfy { $0.write.space == .pio && $0.write.length == 1 })
    expectAccounted(result)
    // Default probes of the same zone: 0x80, 0x87 coalesced, 0x88 exits.
    let defaults = try ZoneSession(zones: session.zones).run(device: KVMDevice())
    #expect(defaults.probes.map(\.probe.address) == [0x80, 0x87, 0x88])
    #expect(defaults.probes.map(\.outcome) == [.coalesced, .coalesced, .exit])
    expectAccounted(defaults)
  }

  @Test("an MMIO zone does not catch a port write to the same number, nor the reverse")
  func kindsAreSeparate() throws {
    let session = ZoneSession(
      zones: [CoalescedZone(address: 0x10_0000, size: 0x10), CoalescedZone(address: 0x80, size: 1, space: .pio)],
      probes: [Probe(address: 0x80, space: .pio), Probe(address: 0x10_0000), Probe(address: 0x8000, space: .pio)])
    let result = try session.run(device: KVMDevice())
    #expect(result.probes.map(\.outcome) == [.coalesced, .coalesced, .exit])
    expectAccounted(result)
  }

  @Test("wider probe writes: the last probe is the zone's last width bytes", arguments: [UInt32(2), 4, 8])
  func widths(width: UInt32) throws {
    let session = ZoneSession(zones: [CoalescedZone(address: 0x10_0000, size: 0x10)], width: width)
    let result = try session.run(device: KVMDevice())
    #expect(result.probes.map(\.probe.address) == [0x10_0000, 0x10_0010 - UInt64(width), 0x10_0010])
    #expect(result.probes.map(\.outcome) == [.coalesced, .coalesced, .exit])
    #expect(result.probes.allSatisfy { $0.write.length == width })
    expectAccounted(result)
  }

  @Test("more probes than one guest program holds are written in batches, all accounted for")
  func manyProbes() throws {
    let probes = (0..<200).map { Probe(address: 0x10_0000 + UInt64($0) * 2) }
    let session = ZoneSession(zones: [CoalescedZone(address: 0x10_0000, size: 0x100)], probes: probes)
    let result = try session.run(device: KVMDevice())
    #expect(result.probes.count == 200)
    #expect(result.probes.prefix(128).allSatisfy { $0.outcome == .coalesced })
    #expect(result.probes.dropFirst(128).allSatisfy { $0.outcome == .exit })
    expectAccounted(result)
  }

  @Test("a zone in guest RAM: its default probes are skipped and said so")
  func zoneInRAM() throws {
    let session = ZoneSession(zones: [CoalescedZone(address: 0x2000, size: 0x10)])
    let result = try session.run(device: KVMDevice())
    #expect(result.probes.isEmpty)
    #expect(result.skipped.count == 3)
    #expect(result.skipped.allSatisfy { $0.reason.contains("guest RAM") })
    #expect(result.zonesAfter.first?.present == nil)
  }

  @Test("the I/O bus holds 1000 devices: the 1001st zone is refused with ENOSPC and reported")
  func busLimit() throws {
    let zones = (0..<1001).map { CoalescedZone(address: 0x20_0000 + UInt64($0) * 16, size: 8) }
    let session = ZoneSession(zones: zones, probes: [Probe(address: 0x20_0000), Probe(address: 0x20_0000 + 1000 * 16)])
    let result = try session.run(device: KVMDevice())
    #expect(result.operations.prefix(1000).allSatisfy { $0.succeeded })
    #expect(result.firstFailure?.error?.code == ENOSPC)
    #expect(result.firstFailure?.zone == zones[1000])
    #expect(result.probes.map(\.outcome) == [.coalesced, .exit])
    #expect(result.zonesAfter.last?.registered == false)
    #expect(result.zonesAfter.last?.present == false)
  }

  @Test("a writer that reports a wrong write is caught: the probe is unaccounted and the problem named")
  func wrongObservationIsCaught() throws {
    /// A real machine whose report of the second write is tampered with, field by field.
    struct TamperingWriter: GuestWriter {
      var inner: MachineWriter
      var tamper: (inout ObservedWrite) -> Void
      mutating func perform(_ writes: [ExpectedWrite]) throws -> [ObservedWrite] {
        var observed = try inner.perform(writes)
        if observed.count > 1 { tamper(&observed[1]) }
        return observed
      }
    }
    let tamperings: [(String, (inout ObservedWrite) -> Void)] = [
      ("address", { $0.address += 1 }),
      ("length", { $0.length = 2 }),
      ("kind", { $0.space = .pio }),
      ("data", { $0.data ^= 0xFF }),
      ("lost", { $0.delivery = .exit }),
    ]
    for (name, tamper) in tamperings {
      let machine = try GuestMachine(device: KVMDevice())
      var writer = TamperingWriter(inner: try MachineWriter(machine: machine), tamper: tamper)
      var registrar = VMRegistrar(vm: machine.vm)
      let session = ZoneSession(zones: [CoalescedZone(address: 0x10_0000, size: 0x1000)])
      let result = try session.run(registrar: &registrar, writer: &writer, api: .v1)
      if name == "lost" {
        // Still the right write, but reported as an exit: accounted, with the wrong outcome shown.
        #expect(result.problems.isEmpty)
        #expect(result.probes[1].outcome == .exit)
      } else {
        #expect(result.problems.count == 1, "\(name)")
        #expect(result.problems.first?.contains("write 2") == true, "\(name)")
        #expect(result.probes[1].outcome == nil, "\(name)")
      }
    }
  }

  @Test("register --v2 on this kernel: KVM_CREATE_COALESCED_MMIO_BUFFER is refused and the session says v2 is absent")
  func v2Absent() throws {
    let session = ZoneSession(zones: [CoalescedZone(address: 0x10_0000, size: 0x1000)])
    #expect {
      _ = try session.run(device: KVMDevice(), api: .v2)
    } throws: { error in
      (error as? BufferCreationError)?.meansAbsent == true
    }
  }

  @Test("create-buffer on this kernel: the flow stops at the first ioctl with ENOTTY")
  func createBufferAbsent() throws {
    #expect {
      _ = try BufferExercise(bufferCount: 2, probe: true).run(device: KVMDevice())
    } throws: { error in
      guard case .absent(let answer)? = error as? BufferCreationError else { return false }
      return answer.code == ENOTTY
    }
  }
}
