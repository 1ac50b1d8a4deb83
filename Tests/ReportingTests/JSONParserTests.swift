import Reporting
import Testing

@Suite("JSON reader (strict RFC 8259)")
struct JSONParserTests {
  @Test("what the writer writes reads back the same, key order and all")
  func roundTrip() throws {
    let document = JSONValue.object([
      ("schema", .string("cmmio.bench/1")),
      ("z_first", .int(-3)),
      ("big", .uint(UInt64.max)),
      ("rate", .double(105_351.25)),
      ("tiny", .double(1.5e-300)),
      ("none", .null),
      ("flags", .array([.bool(true), .bool(false), .array([]), .object([])])),
      ("text", .string("quote \" backslash \\ tab \t newline \n bell \u{07} é 漢 🙂")),
    ])
    for pretty in [true, false] {
      let parsed = try JSONValue.parse(document.rendered(pretty: pretty))
      #expect(parsed == document)
      #expect(parsed.rendered(pretty: false) == document.rendered(pretty: false))
    }
  }

  @Test("escapes and numbers as RFC 8259 writes them")
  func escapesAndNumbers() throws {
    let parsed = try JSONValue.parse(#" { "a" : "\u00e9\ud83d\ude42\/" , "b": [0, -0.5, 1E3, 2e-2, 12] } "#)
    #expect(parsed["a"]?.text == "é🙂/")
    #expect(parsed["b"]?.items?.compactMap(\.number) == [0, -0.5, 1000, 0.02, 12])
    #expect(parsed["b"]?.items?.last == .int(12))
  }

  @Test(
    "refused: anything that is not exactly one JSON document",
    arguments: [
      "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{a:1}", "{'a':1}", "[1 2]", "01", "-", "1.", ".5", "1e", "+1",
      "tru", "nul", "NaN", "Infinity", "1e999", "\"abc", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\tb\"",
      "{} {}", "[1] x", "// comment\n{}", "\u{FEFF}{}", "\"\\u12G4\"",
    ])
  func refused(_ text: String) {
    #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
  }

  @Test("deep nesting is refused with an error, not a stack overflow")
  func deepNesting() throws {
    let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
    #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
    let allowed = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
    #expect(try JSONValue.parse(allowed).items?.count == 1)
  }

  @Test("the error names the byte where the text went wrong")
  func offset() {
    #expect(throws: JSONParseError(offset: 9, reason: "expected ',' or ']'")) { try JSONValue.parse("[1, 2, 3 4]") }
  }
}
