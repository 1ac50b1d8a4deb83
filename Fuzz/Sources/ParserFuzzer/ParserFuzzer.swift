import KVM
import Parsing

/// libFuzzer's entry point: every input goes through each command-line parser
/// that takes free text from the user (`--cpus`, `ADDR:SIZE[:pio]`,
/// `ADDR[:pio]`, plain numbers). A crash, a trap or a broken invariant below is
/// a finding; a parse error is the expected answer to most inputs.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzParsers(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
  // Command-line arguments reach the parsers as Swift strings decoded the same way.
  let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
  checkCPUList(text)
  checkZone(text)
  checkProbe(text)
  checkNumber(text)
  return 0
}

/// Stops the run with a message libFuzzer records next to the input.
private func violated(_ what: String, _ text: String) -> Never {
  fatalError("invariant broken for input \(text.debugDescription): \(what)")
}

/// An accepted list is non-empty, within the ceiling, canonical after one round trip.
private func checkCPUList(_ text: String) {
  let list: CPUList
  do {
    list = try CPUList(parsing: text)
  } catch {
    if error.reason.isEmpty { violated("empty CPU list error", text) }
    return
  }
  guard let low = list.cpus.first, let high = list.cpus.last, low >= 0, high <= CPUList.maximumCPU else {
    violated("accepted CPU list out of range: \(list.cpus.first ?? -1)…\(list.cpus.last ?? -1)", text)
  }
  guard
    text.utf8.allSatisfy({
      $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ":") || (0x30...0x39).contains($0)
    })
  else { violated("accepted a character outside 0-9 , - :", text) }
  guard let again = try? CPUList(parsing: list.description), again == list else {
    violated("CPU list does not round-trip through \(list.description)", text)
  }
}

/// An accepted zone has a size of 1…2^32−1, an end within 64 bits, and round-trips.
private func checkZone(_ text: String) {
  let zone: CoalescedZone
  do {
    zone = try ZoneSpec.zone(text)
  } catch {
    if error.reason.isEmpty { violated("empty zone error", text) }
    return
  }
  guard zone.size > 0, zone.end != nil else { violated("accepted zone \(zone) is empty or overflows", text) }
  guard let again = try? ZoneSpec.zone(zone.description), again == zone else {
    violated("zone does not round-trip through \(zone.description)", text)
  }
}

/// An accepted probe names its space only with `:pio`, and round-trips.
private func checkProbe(_ text: String) {
  let probe: (address: UInt64, space: IOSpace)
  do {
    probe = try ZoneSpec.probe(text)
  } catch {
    if error.reason.isEmpty { violated("empty probe error", text) }
    return
  }
  guard (probe.space == .pio) == text.hasSuffix(":pio") else { violated("probe space \(probe.space)", text) }
  let spelt = "0x" + String(probe.address, radix: 16) + (probe.space == .pio ? ":pio" : "")
  guard let again = try? ZoneSpec.probe(spelt), again == probe else {
    violated("probe does not round-trip through \(spelt)", text)
  }
}

/// An accepted number is all ASCII digits (after an optional 0x) and equals its
/// value computed independently here, in 128-bit arithmetic.
private func checkNumber(_ text: String) {
  let value: UInt64
  do {
    value = try ZoneSpec.number(Substring(text), whole: text)
  } catch {
    if error.reason.isEmpty { violated("empty number error", text) }
    return
  }
  var bytes = Array(text.utf8)
  var radix: UInt128 = 10
  if bytes.count > 2, bytes[0] == UInt8(ascii: "0"), bytes[1] | 0x20 == UInt8(ascii: "x") {
    bytes.removeFirst(2)
    radix = 16
  }
  var expected: UInt128 = 0
  for byte in bytes {
    let digit: UInt128
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt128(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: digit = UInt128(byte - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: digit = UInt128(byte - UInt8(ascii: "A") + 10)
    default: violated("accepted a number with the byte 0x\(String(byte, radix: 16))", text)
    }
    expected = expected * radix + digit
    if expected > UInt128(UInt64.max) { violated("accepted a number past 64 bits", text) }
  }
  if UInt128(value) != expected { violated("number parsed as \(value), expected \(expected)", text) }
}
