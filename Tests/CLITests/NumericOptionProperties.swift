import ArgumentParser
import Benchmarking
import Guest
import PropertyBased
import Testing

@testable import cmmio

/// Any 64-bit integer, biased to the ends of the range and to the small numbers
/// around each option's bounds, as well as anywhere in it.
private let anyInteger = zip(Gen<Int64>.value(in: .min ... .max), Gen.int(in: 0...5)).map { value, shape -> Int64 in
  switch shape {
  case 0: value >> 40  // about ±8 million: around every bound
  case 1: value >> 56  // -128…127: around 0 and 1
  case 2: Int64.max - (value & 0xFFFF)
  case 3: Int64.min + (value & 0xFFFF)
  default: value
  }
}

/// Decimal numbers too wide for 64 bits, either sign.
private let wideNumber = zip(Gen<UInt64>.value(in: .min ... .max), Gen.int(in: 1...30), Gen.bool).map {
  value, extra, negative in (negative ? "-" : "") + String(value) + String(repeating: "9", count: extra)
}

/// Any Double, by bit pattern: NaN, ±infinity, subnormals, ±0 and every magnitude.
private let anyDouble = Gen<UInt64>.value(in: .min ... .max).map { Double(bitPattern: $0) }

/// The outcome of parsing `arguments` as `cmmio bench`: the command, or the message.
private enum Parsed {
  case success(BenchCommand)
  case failure(String)
}

private func parseBench(_ arguments: [String]) -> Parsed {
  do { return .success(try BenchCommand.parse(arguments)) } catch {
    return .failure(BenchCommand.message(for: error))
  }
}

/// Every integer option of `bench` with the range the command line accepts.
private let integerOptions: [(name: String, range: ClosedRange<Int64>)] = [
  ("--writes", 1...Int64(UInt32.max)),
  ("--runs", 1...Int64(BenchConfiguration.maximumRuns)),
  ("--warmup", 0...Int64(BenchConfiguration.maximumRuns)),
  ("--flush-every", 1...Int64(UInt32.max)),
  ("--vcpus", 1...Int64(BenchCommand.maximumVCPUs)),
  ("--numa-node", 0...Int64(BenchConfiguration.maximumNUMANode)),
]

/// Every number a user can type into `bench` is checked before any arithmetic: over
/// the whole 64-bit range (and past it) each option either accepts a value inside its
/// documented range or refuses it with a message naming the option; nothing traps.
@Suite("Numeric options over their whole input range")
struct NumericOptionProperties {
  @Test("integer options accept exactly their range, whatever the value")
  func integers() async {
    await propertyCheck(count: 500, input: anyInteger) { value in
      for option in integerOptions {
        switch parseBench([option.name, String(value)]) {
        case .success(let command):
          #expect(option.range.contains(value), "\(option.name) \(value) was accepted")
          // The arithmetic the engine does with them cannot overflow.
          let runs = command.warmup + command.runs
          #expect(runs <= 2 * BenchConfiguration.maximumRuns)
        case .failure(let message):
          #expect(!option.range.contains(value), "\(option.name) \(value) was refused: \(message)")
          #expect(message.contains(option.name) || message.contains("invalid"), "\(message)")
        }
      }
    }
  }

  @Test("numbers wider than 64 bits are refused, never wrapped")
  func wide() async {
    await propertyCheck(count: 300, input: wideNumber) { text in
      for option in integerOptions.map(\.name) + ["--timeout"] {
        guard case .failure = parseBench([option, text]) else {
          Issue.record("\(option) \(text) was accepted")
          continue
        }
      }
    }
  }

  @Test("--timeout accepts exactly 0 < t ≤ 1000000 for any Double, and its deadline never traps")
  func timeout() async {
    await propertyCheck(count: 1000, input: anyDouble) { value in
      let valid = value > 0 && value <= BenchConfiguration.maximumTimeout
      switch parseBench(["--timeout", "\(value)"]) {
      case .success(let command):
        #expect(valid, "--timeout \(value) was accepted")
        #expect(command.timeout == value)
      case .failure(let message):
        #expect(!valid, "--timeout \(value) was refused: \(message)")
      }
      // The deadline is computed for any Double without trapping, and saturates.
      let now: UInt64 = 1_000
      let deadline = Clock.deadline(afterSeconds: value, from: now)
      #expect(deadline >= now)
      if valid { #expect(deadline < UInt64.max) }
    }
  }

  @Test("--timeout at the edges: 1e11 and 18446744073 are refused, 1000000 is accepted")
  func timeoutEdges() {
    for text in ["1e11", "18446744073", "1e300", "inf", "nan", "-1", "0", "-0", "1000000.000001"] {
      guard case .failure = parseBench(["--timeout", text]) else {
        Issue.record("--timeout \(text) was accepted")
        continue
      }
    }
    for text in ["1000000", "0.000001", "5"] {
      guard case .success = parseBench(["--timeout", text]) else {
        Issue.record("--timeout \(text) was refused")
        continue
      }
    }
    #expect(Clock.deadline(afterSeconds: .infinity, from: 5) == UInt64.max)
    #expect(Clock.deadline(afterSeconds: .nan, from: 5) == 5)
    #expect(Clock.deadline(afterSeconds: 1e11, from: 5) == UInt64.max)
    #expect(Clock.deadline(afterSeconds: 2, from: 5) == 2_000_000_005)
  }

  @Test("a negative value is reported as out of range, not as a missing value")
  func negative() async {
    await propertyCheck(count: 200, input: Gen<Int64>.value(in: .min ... -1)) { value in
      for option in integerOptions.map(\.name) + ["--timeout"] {
        guard case .failure(let message) = parseBench([option, String(value)]) else {
          Issue.record("\(option) \(value) was accepted")
          continue
        }
        #expect(!message.contains("Missing value"), "\(option) \(value): \(message)")
      }
    }
  }

  @Test("--warmup 9223372036854775807 and the largest --runs are refused before any arithmetic")
  func warmupOverflow() {
    for arguments in [["--warmup", "9223372036854775807"], ["--runs", "9223372036854775807"], ["--runs", "1000001"]] {
      guard case .failure = parseBench(arguments) else {
        Issue.record("\(arguments) was accepted")
        continue
      }
    }
  }

  @Test("create-buffer --buffers and register --width over the whole range")
  func otherCommands() async {
    await propertyCheck(count: 300, input: anyInteger) { value in
      do {
        let command = try CreateBufferCommand.parse(["--buffers", String(value)])
        #expect(command.buffers >= 1)
      } catch {
        #expect(!CreateBufferCommand.message(for: error).contains("Missing value"))
      }
      do {
        _ = try RegisterCommand.parse(["--zone", "0x100000:8", "--width", String(value)])
        #expect([1, 2, 4, 8].contains(value))
      } catch {
        #expect(![1, 2, 4, 8].contains(value), "--width \(value) was refused")
      }
    }
  }
}
