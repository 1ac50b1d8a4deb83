import KVM

/// The text forms of a zone and a probe, `ADDR`, `SIZE`, `ADDR:SIZE[:pio]` and
/// `ADDR[:pio]`: decimal or `0x` hex, checked against the kernel's field widths.
/// A module of its own so that the KVM layer holds no parser of user input.
public enum ZoneSpec {
  /// Why a value was rejected; `description` is one sentence for stderr.
  public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "invalid value '\(text)': \(reason)" }
  }

  /// A decimal or `0x`/`0X` hex number that fits in 64 bits. No sign, no spaces,
  /// no underscores, no empty digits.
  public static func number(_ text: Substring, whole: String) throws(ParseError) -> UInt64 {
    var digits = text
    var radix = 10
    if digits.hasPrefix("0x") || digits.hasPrefix("0X") {
      digits = digits.dropFirst(2)
      radix = 16
    }
    guard !digits.isEmpty else {
      throw ParseError(text: whole, reason: text.isEmpty ? "a number is missing" : "'\(text)' has no digits")
    }
    var value: UInt64 = 0
    for character in digits {
      // `hexDigitValue` also accepts fullwidth digits (U+FF10…): only ASCII is a digit here.
      guard character.isASCII, let digit = character.hexDigitValue, digit < radix else {
        throw ParseError(text: whole, reason: "'\(text)' is not a decimal or 0x-hex number")
      }
      let (shifted, overflow1) = value.multipliedReportingOverflow(by: UInt64(radix))
      let (sum, overflow2) = shifted.addingReportingOverflow(UInt64(digit))
      guard !overflow1, !overflow2 else { throw ParseError(text: whole, reason: "'\(text)' does not fit in 64 bits") }
      value = sum
    }
    return value
  }

  /// `ADDR:SIZE` or `ADDR:SIZE:pio`. SIZE is 1…2^32−1 (the kernel's `__u32 size`),
  /// and `ADDR + SIZE` must not pass 2^64.
  public static func zone(_ text: String) throws(ParseError) -> CoalescedZone {
    let fields = text.split(separator: ":", omittingEmptySubsequences: false)
    guard fields.count == 2 || fields.count == 3 else {
      throw ParseError(
        text: text, reason: fields.count < 2 ? "expected ADDR:SIZE[:pio]" : "too many fields, expected ADDR:SIZE[:pio]")
    }
    let address = try number(fields[0], whole: text)
    let size = try number(fields[1], whole: text)
    guard size > 0 else { throw ParseError(text: text, reason: "the size is 0") }
    guard size <= UInt64(UInt32.max) else { throw ParseError(text: text, reason: "the size does not fit in 32 bits") }
    let space = try kind(fields.count == 3 ? fields[2] : nil, whole: text)
    let zone = CoalescedZone(address: address, size: UInt32(size), space: space)
    guard zone.end != nil else { throw ParseError(text: text, reason: "ADDR + SIZE overflows 64 bits") }
    return zone
  }

  /// `ADDR` or `ADDR:pio`: one guest write target.
  public static func probe(_ text: String) throws(ParseError) -> (address: UInt64, space: IOSpace) {
    let fields = text.split(separator: ":", omittingEmptySubsequences: false)
    guard fields.count <= 2 else { throw ParseError(text: text, reason: "too many fields, expected ADDR[:pio]") }
    let address = try number(fields[0], whole: text)
    return (address, try kind(fields.count == 2 ? fields[1] : nil, whole: text))
  }

  private static func kind(_ field: Substring?, whole: String) throws(ParseError) -> IOSpace {
    guard let field else { return .mmio }
    guard field == "pio" else { throw ParseError(text: whole, reason: "the kind '\(field)' is not 'pio'") }
    return .pio
  }
}
