import Platform

/// The one place a sentence for stderr is made safe to print: whatever a user typed
/// (an argument, a path, an environment variable) may hold control characters, a
/// newline or an escape sequence that would forge a second line or recolour the
/// terminal, or be megabytes long.
public enum MessageText {
  /// A single run of non-space characters longer than this is cut in the middle.
  public static let longestWord = 160
  /// A sentence longer than this is cut at the end.
  public static let longestSentence = 1000

  /// `text` on one line: control characters escaped (`\n`, `\t`, `\r`, `\e`, `\xHH`,
  /// `\u{HHHH}`), then each over-long word and the whole sentence cut, saying how much
  /// was left out.
  public static func sanitized(_ text: String) -> String {
    var escaped = ""
    escaped.reserveCapacity(min(text.utf8.count, longestSentence * 2))
    var words: [String] = []
    var word = ""
    for scalar in text.unicodeScalars {
      if scalar == " " {
        words.append(cut(word))
        word = ""
      } else {
        word += escape(scalar)
      }
    }
    words.append(cut(word))
    escaped = words.joined(separator: " ")
    if escaped.count > longestSentence {
      escaped = String(escaped.prefix(longestSentence)) + "… (cut)"
    }
    return escaped
  }

  /// One scalar as it may be printed.
  static func escape(_ scalar: Unicode.Scalar) -> String {
    switch scalar.value {
    case 0x0A: return "\\n"
    case 0x09: return "\\t"
    case 0x0D: return "\\r"
    case 0x1B: return "\\e"
    case 0x00...0x1F, 0x7F: return "\\x" + hex(scalar.value, width: 2)
    // C1 controls, line and paragraph separators, bidirectional overrides and isolates.
    case 0x80...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069, 0x200E, 0x200F, 0xFEFF:
      return "\\u{" + hex(scalar.value, width: 4) + "}"
    default: return String(scalar)
    }
  }

  static func cut(_ word: String) -> String {
    guard word.count > longestWord else { return word }
    let keep = longestWord / 2
    return String(word.prefix(keep)) + "…(\(word.count - keep * 2) characters cut)…" + String(word.suffix(keep))
  }

  static func hex(_ value: UInt32, width: Int) -> String {
    NumberFormat.digits(value, width: width, uppercase: true)
  }
}
