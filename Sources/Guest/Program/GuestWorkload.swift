import KVM

/// The benchmark's guest loop: as few instructions as the measurement allows, the
/// same for every mode, only the target changing.
///
/// MMIO space (`ram`, `plain`, `coalesced`; target RAM or a device register):
///
///     66 B8 n32      mov eax, N
///     66 BB t32      mov ebx, target
///   L:67 66 89 03    mov dword [ebx], eax
///     66 48          dec eax
///     75 F8          jnz L
///     F4             hlt
///
/// PIO space: `mov dx, port` and `out dx, eax` (66 EF) in place of the store.
/// The written value is the loop counter, so write i (from 0) carries N − i: the
/// runner checks every entry and exit for loss and order from that alone.
///
/// With `flushEvery` F > 0 the loop also counts down edi and, every F writes,
/// reads a non-coalesced MMIO doorbell register (`GuestLayout.mmioDoorbell`, in
/// both spaces: an `in` would clobber the counter in eax), as a driver does before it needs the
/// device to have seen its writes: that read exits, and the ring is drained.
public struct GuestWorkload: Sendable, Equatable {
  public enum Target: Sendable, Equatable {
    /// Guest RAM: no exit at all.
    case ram
    /// A device register at this address (MMIO) or port (PIO).
    case device(IOSpace, UInt64)
  }

  public var target: Target
  public var writes: UInt32
  public var flushEvery: UInt32
  /// Each write carries the low 32 bits of the guest's TSC (`rdtsc`) instead of the loop
  /// counter, which moves to ebp (the drain delay's stamped run; see `program(at:)`).
  public var stamped: Bool

  public init(target: Target, writes: UInt32, flushEvery: UInt32 = 0, stamped: Bool = false) {
    precondition(writes >= 1, "a workload makes at least one write")
    self.target = target
    self.writes = writes
    self.flushEvery = flushEvery
    self.stamped = stamped
  }

  /// Every write is 4 bytes (`mov dword [ebx], eax` or `out dx, eax`).
  public static let writeLength: UInt32 = 4

  /// The space the writes go to (`ram` counts as MMIO: a store).
  public var space: IOSpace {
    if case .device(let space, _) = target { return space }
    return .mmio
  }

  /// The address or port written.
  public var address: UInt64 {
    switch target {
    case .ram: return GuestLayout.ramTarget
    case .device(_, let address): return address
    }
  }

  /// The data of write `index` (0-based).
  @inline(__always)
  public func data(ofWrite index: UInt32) -> UInt64 { UInt64(writes - index) }

  /// Doorbell reads the loop makes.
  public var doorbellReads: UInt32 { flushEvery == 0 ? 0 : writes / flushEvery }

  /// The program, loaded at `origin` (each vCPU of a multi-vCPU run has its own).
  ///
  /// Stamped, the loop counts down ebp and each write is preceded by `rdtsc` (0F 31), which
  /// overwrites eax and edx, so PIO reloads dx before its `out`:
  ///
  ///     66 BD n32      mov ebp, N
  ///     66 BB t32      mov ebx, target        (MMIO)
  ///   L:0F 31          rdtsc
  ///     67 66 89 03    mov dword [ebx], eax   (PIO: BA p16 mov dx, port; 66 EF out dx, eax)
  ///     66 4D          dec ebp
  ///     75 F5          jnz L
  ///     F4             hlt
  public func program(at origin: UInt64 = GuestLayout.codeAddress) -> GuestProgram {
    var program = GuestProgram(origin: origin)
    let counter: X86.Register = stamped ? .ebp : .eax
    program.append(X86.mov(counter, writes))
    switch space {
    case .mmio: program.append(X86.mov(.ebx, UInt32(truncatingIfNeeded: address)))
    case .pio:
      if !stamped { program.append(X86.movDX(UInt16(truncatingIfNeeded: address))) }
    }
    let store = space == .mmio ? X86.store(width: Self.writeLength) : X86.out(width: Self.writeLength)
    if flushEvery > 0 {
      program.append(X86.mov(.esi, UInt32(GuestLayout.mmioDoorbell)))
      program.append(X86.mov(.edi, flushEvery))
    }
    let loop = program.nextAddress
    if stamped {
      program.append(X86.rdtsc)
      if space == .pio { program.append(X86.movDX(UInt16(truncatingIfNeeded: address))) }
    }
    program.append(store)
    if flushEvery > 0 {
      // dec edi; jnz skip; mov ecx, [esi] (the doorbell read exits); mov edi, F; skip:
      let read = Instruction([0x67, 0x66, 0x8B, 0x0E], "mov ecx, dword [esi]")
      let reload = X86.mov(.edi, flushEvery)
      let skipped = read.bytes.count + reload.bytes.count
      program.append(X86.dec(.edi))
      program.append(X86.jnz(Int8(skipped), target: program.nextAddress + 2 + UInt64(skipped)))
      program.append(read)
      program.append(reload)
    }
    program.append(X86.dec(counter))
    let displacement = Int(loop) - Int(program.nextAddress + 2)
    program.append(X86.jnz(Int8(displacement), target: loop))
    program.halt()
    return program
  }
}
