import KVM
import Parsing
import PropertyBased
import Testing

/// Addresses biased to both ends of the 64-bit range as well as anywhere in it.
private let address = zip(Gen<UInt64>.value(in: .min ... .max), Gen.int(in: 0...3)).map { value, shape -> UInt64 in
  switch shape {
  case 0: value >> 32
  case 1: UInt64.max - (value >> 40)
  default: value
  }
}

/// Sizes the kernel's `__u32 size` can hold, without 0.
private let size = Gen<UInt32>.value(in: 1...UInt32.max)

/// A valid zone: any size, any address that leaves `address + size` within 64 bits.
private let validZone = zip(address, size, Gen<IOSpace>.case).map { address, size, space in
  CoalescedZone(address: min(address, UInt64.max - UInt64(size)), size: size, space: space)
}

/// Whether `ZoneSpec.zone` refuses `text` with a message naming it.
private func zoneRejects(_ text: String) -> Bool {
  do {
    _ = try ZoneSpec.zone(text)
    return false
  } catch {
    return !error.reason.isEmpty && error.text == text
  }
}

/// Whether `ZoneSpec.probe` refuses `text` with a message naming it.
private func probeRejects(_ text: String) -> Bool {
  do {
    _ = try ZoneSpec.probe(text)
    return false
  } catch {
    return !error.reason.isEmpty && error.text == text
  }
}

/// `value` in decimal or hex, the hex prefix and digits in either case, with leading zeros.
private func spell(_ value: UInt64, style: Int) -> String {
  let zeros = String(repeating: "0", count: style / 4 % 3)
  switch style % 4 {
  case 0: return zeros + String(value)
  case 1: return "0x" + zeros + String(value, radix: 16)
  case 2: return "0X" + zeros + String(value, radix: 16, uppercase: true)
  default: return "0x" + zeros + String(value, radix: 16, uppercase: true)
  }
}

/// Characters that are not decimal or hex digits in ASCII: Latin-1 and other scripts' digits.
private let nonDigit = zip(Gen<UInt8>.value(in: 0...255), Gen.int(in: 0...9)).map { byte, pick -> Character in
  let exotic: [Character] = ["\u{FF11}", "\u{FF21}", "\u{0663}", "\u{00B3}", "\u{2212}", "\u{3000}", "\u{00BD}"]
  let character = Character(UnicodeScalar(byte))
  if pick < 3 || character.isASCII && character.isHexDigit { return exotic[(Int(byte) + pick) % exotic.count] }
  return character
}

@Suite("ZoneSpec properties")
struct ZoneSpecProperties {
  @Test("any 64-bit number parses back from decimal and hex, in any case, with leading zeros")
  func numberRoundTrip() async {
    await propertyCheck(count: 300, input: Gen<UInt64>.value(in: .min ... .max), Gen.int(in: 0...11)) { value, style in
      let text = spell(value, style: style)
      let parsed = try ZoneSpec.number(Substring(text), whole: text)
      #expect(parsed == value)
    }
  }

  @Test("numbers past 64 bits are rejected, in decimal and hex")
  func numberOverflow() async {
    let wide = Gen<UInt128>.value(in: (UInt128(UInt64.max) + 1)...UInt128.max)
    await propertyCheck(count: 300, input: wide) { value in
      for text in [String(value), "0x" + String(value, radix: 16)] {
        #expect(throws: ZoneSpec.ParseError.self) { try ZoneSpec.number(Substring(text), whole: text) }
        #expect(zoneRejects(text + ":1"))
        #expect(zoneRejects("0:" + text))
        #expect(probeRejects(text))
        #expect(probeRejects(text + ":pio"))
      }
    }
  }

  @Test("a character other than an ASCII digit anywhere in a number is rejected")
  func numberJunk() async {
    await propertyCheck(count: 300, input: Gen<UInt64>.value(in: .min ... .max), Gen.int(in: 0...40), nonDigit) {
      value, offset, junk in
      for base in [String(value), "0x" + String(value, radix: 16)] {
        var text = base
        // After the 0x prefix, so that a junk "x" cannot turn into a valid prefix.
        let skip = base.hasPrefix("0x") ? 2 : 0
        let at = skip + offset % (text.count - skip + 1)
        text.insert(junk, at: text.index(text.startIndex, offsetBy: at))
        #expect(throws: ZoneSpec.ParseError.self, "\(text)") { try ZoneSpec.number(Substring(text), whole: text) }
        #expect(probeRejects(text))
      }
    }
    // Fullwidth digits and letters (U+FF10…, U+FF21…) were once taken as hex digits.
    let regressions = ["\u{FF11}", "0x\u{FF21}", "1\u{FF10}", "0x1\u{FF46}"]
    for text in ["", "0x", "0X", "x1", "-1", "+1", " 1", "1 ", "1_000", "0x-1", "0b1", "1e3"] + regressions {
      #expect(throws: ZoneSpec.ParseError.self, "\(text)") { try ZoneSpec.number(Substring(text), whole: text) }
    }
  }

  @Test("any valid zone survives CoalescedZone.description → ZoneSpec.zone unchanged")
  func zoneRoundTrip() async {
    await propertyCheck(count: 500, input: validZone) { zone in
      let parsed = try ZoneSpec.zone(zone.description)
      #expect(parsed == zone)
    }
  }

  @Test("zones spelt in decimal or hex, mixed, parse to the same zone")
  func zoneSpellings() async {
    await propertyCheck(count: 300, input: validZone, Gen.int(in: 0...11), Gen.int(in: 0...11)) { zone, a, b in
      let text = spell(zone.address, style: a) + ":" + spell(UInt64(zone.size), style: b)
      let parsed = try ZoneSpec.zone(zone.space == .pio ? text + ":pio" : text)
      #expect(parsed == zone)
    }
  }

  @Test("a size of 0 is rejected, however it is spelt")
  func zeroSize() async {
    await propertyCheck(input: address, Gen.int(in: 0...11), Gen.bool) { address, style, pio in
      #expect(zoneRejects("\(address):\(spell(0, style: style))" + (pio ? ":pio" : "")))
    }
  }

  @Test("a size of 2^32 or more is rejected")
  func wideSize() async {
    await propertyCheck(
      input: address, Gen<UInt64>.value(in: (UInt64(UInt32.max) + 1)...UInt64.max), Gen.int(in: 0...11)
    ) {
      address, size, style in
      #expect(zoneRejects("0x\(String(address, radix: 16)):\(spell(size, style: style))"))
    }
  }

  @Test("ADDR + SIZE past 2^64 − 1 is rejected; up to it is accepted")
  func addressOverflow() async {
    await propertyCheck(count: 300, input: size, Gen<UInt64>.value(in: 0...UInt64(UInt32.max))) { size, over in
      // The first address whose end overflows, and anything above it.
      let first = UInt64.max - UInt64(size) + 1
      let (address, wrapped) = first.addingReportingOverflow(over)
      guard !wrapped else { return }
      #expect(zoneRejects("0x\(String(address, radix: 16)):\(size)"))
      #expect(zoneRejects("0x\(String(address, radix: 16)):\(size):pio"))
      let last = first - 1
      let parsed = try ZoneSpec.zone("\(last):\(size)")
      #expect(parsed == CoalescedZone(address: last, size: size))
    }
  }

  @Test("a kind other than exactly 'pio' is rejected, in zones and probes")
  func otherKinds() async {
    let word = Gen.letterOrNumber.string(of: 0...6)
    await propertyCheck(count: 300, input: validZone, word) { zone, kind in
      let base = "0x\(String(zone.address, radix: 16)):\(zone.size)"
      for kind in [kind, kind.uppercased(), "mmio", "PIO", "Pio", " pio", "pio ", "pio\0", ""] where kind != "pio" {
        #expect(zoneRejects(base + ":" + kind), "\(kind)")
        #expect(probeRejects("\(zone.address):" + kind), "\(kind)")
      }
    }
  }

  @Test("extra fields are rejected, in zones and probes")
  func extraFields() async {
    let field = Gen.letterOrNumber.string(of: 0...6)
    await propertyCheck(count: 300, input: validZone, field.array(of: 1...3)) { zone, extra in
      let tail = ":" + extra.joined(separator: ":")
      #expect(zoneRejects(zone.description + (zone.space == .pio ? "" : ":pio") + tail))
      #expect(probeRejects("\(zone.address):pio" + tail))
    }
  }

  @Test("empty values and missing fields are rejected")
  func emptyValues() {
    for text in ["", ":", "::", ":::", "0", "0x10", "0x10:", ":0x10", "0x10::pio", ":1:pio", "0x10:1:"] {
      #expect(zoneRejects(text), "\(text)")
    }
    for text in ["", ":", ":pio", "0x10:", "::"] {
      #expect(probeRejects(text), "\(text)")
    }
  }

  @Test("any address probes back, with and without ':pio'")
  func probeRoundTrip() async {
    await propertyCheck(count: 300, input: Gen<UInt64>.value(in: .min ... .max), Gen.int(in: 0...11)) { value, style in
      let text = spell(value, style: style)
      let mmio = try ZoneSpec.probe(text)
      #expect(mmio.address == value && mmio.space == .mmio)
      let pio = try ZoneSpec.probe(text + ":pio")
      #expect(pio.address == value && pio.space == .pio)
    }
  }
}
