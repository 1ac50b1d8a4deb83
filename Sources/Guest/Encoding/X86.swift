import Platform

/// One encoded instruction with its mnemonic, so every guest can print a listing.
public struct Instruction: Equatable, Sendable {
  public var bytes: [UInt8]
  public var mnemonic: String

  public init(_ bytes: [UInt8], _ mnemonic: String) {
    self.bytes = bytes
    self.mnemonic = mnemonic
  }
}

/// A small encoder for the 16-bit real-mode ("unreal mode") instructions cmmio's
/// guests use. Operand-size (0x66) and address-size (0x67) prefixes select 32-bit
/// registers and `[ebx]`-style addressing; DS has a 4 GiB limit (see
/// `VCPU.enterUnrealMode`), so a store reaches any 32-bit guest physical address.
///
/// Encodings from the Intel SDM, volume 2; each is tested byte for byte.
public enum X86 {
  /// The 32-bit general registers, numbered as in ModRM.reg and `B8+r`.
  public enum Register: UInt8, Sendable, CaseIterable {
    case eax = 0
    case ecx, edx, ebx, esp, ebp, esi, edi

    public var name: String { ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"][Int(rawValue)] }
  }

  /// Access widths a guest can write in one instruction.
  public static let widths: [UInt32] = [1, 2, 4, 8]

  /// How a store of each width from `eax` (or `mm0`) to `[ebx]` is encoded.
  /// ModRM 0x03: mod 00, reg 000 (eax/ax/al/mm0), r/m 011 ([ebx] with a32).
  private static let storeForms: [UInt32: Instruction] = [
    1: Instruction([0x67, 0x88, 0x03], "mov byte [ebx], al"),
    2: Instruction([0x67, 0x89, 0x03], "mov word [ebx], ax"),
    4: Instruction([0x67, 0x66, 0x89, 0x03], "mov dword [ebx], eax"),
    8: Instruction([0x67, 0x0F, 0x7F, 0x03], "movq qword [ebx], mm0"),
  ]

  /// How a load of each width from `[ebx]` into `eax` (or `mm0`) is encoded (0x8A/0x8B, 0F 6F).
  private static let loadForms: [UInt32: Instruction] = [
    1: Instruction([0x67, 0x8A, 0x03], "mov al, byte [ebx]"),
    2: Instruction([0x67, 0x8B, 0x03], "mov ax, word [ebx]"),
    4: Instruction([0x67, 0x66, 0x8B, 0x03], "mov eax, dword [ebx]"),
    8: Instruction([0x67, 0x0F, 0x6F, 0x03], "movq mm0, qword [ebx]"),
  ]

  /// `out dx, al|ax|eax` (EE, EF, 66 EF).
  private static let outForms: [UInt32: Instruction] = [
    1: Instruction([0xEE], "out dx, al"),
    2: Instruction([0xEF], "out dx, ax"),
    4: Instruction([0x66, 0xEF], "out dx, eax"),
  ]

  /// `in al|ax|eax, dx` (EC, ED, 66 ED).
  private static let inForms: [UInt32: Instruction] = [
    1: Instruction([0xEC], "in al, dx"),
    2: Instruction([0xED], "in ax, dx"),
    4: Instruction([0x66, 0xED], "in eax, dx"),
  ]

  /// Port accesses are 1, 2 or 4 bytes wide.
  public static let portWidths: [UInt32] = [1, 2, 4]

  /// `mov r32, imm32`: 66 B8+r imm32.
  public static func mov(_ register: Register, _ value: UInt32) -> Instruction {
    Instruction([0x66, 0xB8 + register.rawValue] + le(value), "mov \(register.name), \(hex(value))")
  }

  /// `mov dx, imm16`: BA imm16 (the port for `in`/`out`).
  public static func movDX(_ port: UInt16) -> Instruction {
    Instruction([0xBA, UInt8(port & 0xFF), UInt8(port >> 8)], "mov dx, \(hex(UInt32(port)))")
  }

  /// Store of `width` bytes from eax (mm0 for 8) to `[ebx]`.
  public static func store(width: UInt32) -> Instruction {
    guard let form = storeForms[width] else { preconditionFailure("store width must be 1, 2, 4 or 8") }
    return form
  }

  /// Load of `width` bytes from `[ebx]` into eax (mm0 for 8).
  public static func load(width: UInt32) -> Instruction {
    guard let form = loadForms[width] else { preconditionFailure("load width must be 1, 2, 4 or 8") }
    return form
  }

  /// `out dx, …` of `width` bytes from al/ax/eax.
  public static func out(width: UInt32) -> Instruction {
    guard let form = outForms[width] else { preconditionFailure("out width must be 1, 2 or 4") }
    return form
  }

  /// `in …, dx` of `width` bytes into al/ax/eax.
  public static func `in`(width: UInt32) -> Instruction {
    guard let form = inForms[width] else { preconditionFailure("in width must be 1, 2 or 4") }
    return form
  }

  /// `movq mm0, [disp32]`: 67 0F 6F 05 disp32 — loads an 8-byte value for an 8-byte store.
  public static func loadMM0(from address: UInt32) -> Instruction {
    Instruction([0x67, 0x0F, 0x6F, 0x05] + le(address), "movq mm0, qword [\(hex(address))]")
  }

  /// `dec r32`: 66 48+r.
  public static func dec(_ register: Register) -> Instruction {
    Instruction([0x66, 0x48 + register.rawValue], "dec \(register.name)")
  }

  /// `jnz rel8`: 75 cb, `displacement` from the end of the instruction.
  public static func jnz(_ displacement: Int8, target: UInt64) -> Instruction {
    Instruction([0x75, UInt8(bitPattern: displacement)], "jnz \(hex(UInt32(truncatingIfNeeded: target)))")
  }

  /// `hlt`: F4.
  public static let hlt = Instruction([0xF4], "hlt")

  static func le(_ value: UInt32) -> [UInt8] {
    [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF), UInt8((value >> 16) & 0xFF), UInt8(value >> 24)]
  }

  static func hex(_ value: UInt32) -> String { NumberFormat.hex(value) }
}
