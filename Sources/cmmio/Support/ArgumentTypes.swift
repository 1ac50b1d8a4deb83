import ArgumentParser
import Benchmarking
import KVM
import Reporting

// The option values of the lower layers' enums, typed at the edge: ArgumentParser parses
// them, lists them in --help and offers them to shell completion. The lower layers do not
// import ArgumentParser, so the conformances live here.

extension OutputFormat: ExpressibleByArgument {}
extension Capabilities.Feature: ExpressibleByArgument {}
extension IOSpace: ExpressibleByArgument {}
extension BenchMode: ExpressibleByArgument {}
extension DrainStrategy: ExpressibleByArgument {}

/// `--modes`: bench modes separated by commas, each once, in the order given.
struct ModeList: ExpressibleByArgument, Equatable, CustomStringConvertible {
  var modes: [BenchMode]

  init(_ modes: [BenchMode]) {
    self.modes = modes
  }

  init?(argument: String) {
    var modes: [BenchMode] = []
    for item in argument.split(separator: ",", omittingEmptySubsequences: false) {
      guard let mode = BenchMode(rawValue: String(item)) else { return nil }
      if !modes.contains(mode) { modes.append(mode) }
    }
    self.modes = modes
  }

  var description: String { modes.map(\.rawValue).joined(separator: ",") }
  var defaultValueDescription: String { description }
  static var allValueStrings: [String] { BenchMode.allValueStrings }
  static var defaultCompletionKind: CompletionKind { BenchMode.defaultCompletionKind }
}
