/// A set of CPU (or node) numbers in the `taskset -c` / numactl grammar: `0`, `0,2`, `1-3`, `0-3,8`,
/// and `taskset -c`'s stride form `A-B:S` (every S-th CPU from A up to B: `0-10:2`).
public struct CPUList: Hashable, Sendable, CustomStringConvertible {
  /// The numbers, ascending, without duplicates.
  public let cpus: [Int]

  public init(_ cpus: [Int]) {
    self.cpus = Array(Set(cpus)).sorted()
  }

  /// Why a CPU list was rejected.
  public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "invalid CPU list '\(text)': \(reason)" }
  }

  /// The largest CPU number accepted (the kernel's `CONFIG_NR_CPUS` ceiling is far lower).
  public static let maximumCPU = 65_535

  /// Parses `0,2,4-7,8-15:4`. Rejects empty input, empty items, reversed ranges (`3-1`),
  /// a stride that is 0, empty or not after a range (`5:2`), signs, spaces and numbers
  /// above `maximumCPU`.
  public init(parsing text: String) throws(ParseError) {
    guard !text.isEmpty else { throw ParseError(text: text, reason: "it is empty") }
    var result: [Int] = []
    for item in text.split(separator: ",", omittingEmptySubsequences: false) {
      guard !item.isEmpty else { throw ParseError(text: text, reason: "it has an empty item") }
      let parts = item.split(separator: ":", omittingEmptySubsequences: false)
      guard parts.count <= 2 else { throw ParseError(text: text, reason: "'\(item)' is not N, N-M or N-M:S") }
      let bounds = parts[0].split(separator: "-", omittingEmptySubsequences: false)
      guard bounds.count <= 2 else { throw ParseError(text: text, reason: "'\(item)' is not N, N-M or N-M:S") }
      if parts.count == 2, bounds.count != 2 {
        throw ParseError(text: text, reason: "'\(item)' has a stride without a range (N-M:S)")
      }
      var numbers: [Int] = []
      for bound in bounds + parts.dropFirst() {
        guard !bound.isEmpty, bound.allSatisfy({ $0.isASCII && $0.isNumber }) else {
          throw ParseError(text: text, reason: "'\(item)' is not N, N-M or N-M:S with decimal numbers")
        }
        // Leading zeros are harmless (`007`); only the significant digits can overflow.
        let digits = bound.drop { $0 == "0" }
        guard digits.count <= 6, let value = digits.isEmpty ? 0 : Int(digits), value <= Self.maximumCPU else {
          throw ParseError(text: text, reason: "'\(bound)' is above \(Self.maximumCPU)")
        }
        numbers.append(value)
      }
      if numbers.count >= 2 {
        guard numbers[0] <= numbers[1] else {
          throw ParseError(text: text, reason: "the range '\(item)' is reversed")
        }
        let step = numbers.count == 3 ? numbers[2] : 1
        guard step > 0 else { throw ParseError(text: text, reason: "the stride of '\(item)' is 0") }
        result.append(contentsOf: stride(from: numbers[0], through: numbers[1], by: step))
      } else {
        result.append(numbers[0])
      }
    }
    self.init(result)
  }

  /// The canonical form: ascending, ranges collapsed (`0-3,8`).
  public var description: String {
    var parts: [String] = []
    var i = 0
    while i < cpus.count {
      var j = i
      while j + 1 < cpus.count && cpus[j + 1] == cpus[j] + 1 { j += 1 }
      parts.append(i == j ? "\(cpus[i])" : "\(cpus[i])-\(cpus[j])")
      i = j + 1
    }
    return parts.joined(separator: ",")
  }
}
