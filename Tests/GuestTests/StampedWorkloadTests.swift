import Guest
import KVM
import Testing

@Suite("The stamped benchmark loop")
struct StampedWorkloadTests {
  @Test("MMIO: the counter in ebp, rdtsc before each store")
  func mmioBytes() {
    let program = GuestWorkload(target: .device(.mmio, 0x10_0000), writes: 20_000, stamped: true).program()
    #expect(program.hex == "66 bd 20 4e 00 00 66 bb 00 00 10 00 0f 31 67 66 89 03 66 4d 75 f6 f4")
    #expect(program.listing.contains("rdtsc"))
    #expect(program.listing.contains("dec ebp"))
  }

  @Test("PIO: rdtsc overwrites edx, so dx is loaded with the port before each out")
  func pioBytes() {
    let program = GuestWorkload(target: .device(.pio, 0x80), writes: 20_000, stamped: true).program()
    #expect(program.hex == "66 bd 20 4e 00 00 0f 31 ba 80 00 66 ef 66 4d 75 f5 f4")
  }

  @Test("unstamped loops are unchanged")
  func unstamped() {
    let program = GuestWorkload(target: .device(.mmio, 0x10_0000), writes: 20_000).program()
    #expect(program.hex == "66 b8 20 4e 00 00 66 bb 00 00 10 00 67 66 89 03 66 48 75 f8 f4")
  }
}
