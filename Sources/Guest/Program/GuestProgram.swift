import KVM
import Platform

/// A guest write the program will make, in program order: what the runner expects
/// to find, in the ring or as an exit.
public typealias ExpectedWrite = GuestWrite

/// A real-mode guest program: instructions at `GuestLayout.codeAddress`, with a
/// listing anyone can check, and (for straight-line programs) the writes it makes.
public struct GuestProgram: Sendable, Equatable {
  /// Instructions with their guest physical address.
  public private(set) var instructions: [(address: UInt64, instruction: Instruction)] = []
  /// 8-byte constants placed in RAM for `movq` (address, value).
  public private(set) var constants: [(address: UInt64, value: UInt64)] = []
  /// The writes this program makes, in order (straight-line programs only; loops
  /// describe their writes through `GuestWorkload`).
  public private(set) var writes: [ExpectedWrite] = []
  /// Reads this program makes from device registers, in order.
  public private(set) var reads: [ExpectedWrite] = []
  public let origin: UInt64

  public init(origin: UInt64 = GuestLayout.codeAddress) {
    self.origin = origin
  }

  public static func == (lhs: GuestProgram, rhs: GuestProgram) -> Bool {
    lhs.bytes == rhs.bytes && lhs.origin == rhs.origin
  }

  /// Address of the next instruction.
  public var nextAddress: UInt64 { origin + UInt64(bytes.count) }

  /// The machine code, contiguous from `origin`.
  public var bytes: [UInt8] { instructions.flatMap(\.instruction.bytes) }

  public mutating func append(_ instruction: Instruction) {
    instructions.append((nextAddress, instruction))
  }

  /// A write of `length` bytes of `data` to `address`: MMIO store (1, 2, 4, 8) or
  /// port `out` (1, 2, 4).
  public mutating func write(_ space: IOSpace, address: UInt64, length: UInt32, data: UInt64) {
    let masked = maskToLength(data, length)
    switch space {
    case .mmio:
      precondition(X86.widths.contains(length), "MMIO writes are 1, 2, 4 or 8 bytes")
      append(X86.mov(.ebx, UInt32(truncatingIfNeeded: address)))
      if length == 8 {
        let slot = GuestLayout.constantPool + UInt64(constants.count * 8)
        constants.append((slot, masked))
        append(X86.loadMM0(from: UInt32(slot)))
      } else {
        append(X86.mov(.eax, UInt32(truncatingIfNeeded: masked)))
      }
      append(X86.store(width: length))
    case .pio:
      precondition(X86.portWidths.contains(length), "port writes are 1, 2 or 4 bytes")
      append(X86.movDX(UInt16(truncatingIfNeeded: address)))
      append(X86.mov(.eax, UInt32(truncatingIfNeeded: masked)))
      append(X86.out(width: length))
    }
    writes.append(ExpectedWrite(space: space, address: address, length: length, data: masked))
  }

  /// A read of `length` bytes from a device register: always a full exit, even in a zone.
  public mutating func read(_ space: IOSpace, address: UInt64, length: UInt32) {
    switch space {
    case .mmio:
      append(X86.mov(.ebx, UInt32(truncatingIfNeeded: address)))
      append(X86.load(width: length))
    case .pio:
      append(X86.movDX(UInt16(truncatingIfNeeded: address)))
      append(X86.in(width: length))
    }
    reads.append(ExpectedWrite(space: space, address: address, length: length, data: 0))
  }

  /// `hlt`: the end of every program.
  public mutating func halt() { append(X86.hlt) }

  /// The listing: address, bytes and mnemonic, one instruction a line.
  public var listing: String {
    var lines: [String] = []
    for (address, instruction) in instructions {
      let hexBytes = instruction.bytes.map { NumberFormat.digits($0, width: 2) }.joined(separator: " ")
      lines.append("0x\(NumberFormat.digits(address, width: 4))  \(hexBytes.padding(to: 24))\(instruction.mnemonic)")
    }
    for (address, value) in constants {
      lines.append("\(NumberFormat.hex(address))  .quad \(NumberFormat.hex(value))")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The bytes as lowercase hex, space-separated: comparable with `cmmio-ref --show-guest`.
  public var hex: String {
    bytes.map { NumberFormat.digits($0, width: 2) }.joined(separator: " ")
  }
}

extension String {
  func padding(to width: Int) -> String {
    count >= width ? self + " " : self + String(repeating: " ", count: width - count)
  }
}
