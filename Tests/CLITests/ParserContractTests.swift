import CMMIOTestSupport
import Foundation
import Testing

@testable import cmmio

/// One option or flag of a subcommand, as the parser's own help dump lists it.
struct DumpedOption: Sendable, CustomTestStringConvertible {
  var command: String
  /// `--writes`.
  var name: String
  /// An option (takes a value) rather than a flag.
  var takesValue: Bool
  /// The values it takes, where they are a closed set (`ExpressibleByArgument & CaseIterable`).
  var values: [String]
  var defaultValue: String?
  var abstract: String

  var testDescription: String { "cmmio \(command) \(name)" }
}

/// One subcommand, as the parser's own help dump lists it.
struct DumpedCommand: Sendable, CustomTestStringConvertible {
  var name: String
  var discussion: String
  var options: [DumpedOption]

  var testDescription: String { "cmmio \(name)" }
}

/// The command line as the parser describes it (`cmmio --experimental-dump-help`): the
/// tests below derive their cases from it, so a new subcommand or option is covered
/// without anyone adding it to a list.
enum ParserDump {
  static let commands: [DumpedCommand] = {
    guard let run = try? CMMIOBinary.run(["--experimental-dump-help"]), run.status == 0,
      let root = run.json?["command"] as? [String: Any],
      let subcommands = root["subcommands"] as? [[String: Any]]
    else { return [] }
    return subcommands.compactMap { command -> DumpedCommand? in
      guard let name = command["commandName"] as? String, name != "help" else { return nil }
      let arguments = command["arguments"] as? [[String: Any]] ?? []
      let options = arguments.compactMap { argument -> DumpedOption? in
        guard let kind = argument["kind"] as? String, kind == "option" || kind == "flag",
          argument["shouldDisplay"] as? Bool != false,
          let preferred = argument["preferredName"] as? [String: Any],
          preferred["kind"] as? String == "long", let long = preferred["name"] as? String,
          !["help", "version"].contains(long)
        else { return nil }
        return DumpedOption(
          command: name, name: "--" + long, takesValue: kind == "option",
          values: argument["allValues"] as? [String] ?? [], defaultValue: argument["defaultValue"] as? String,
          abstract: argument["abstract"] as? String ?? "")
      }
      return DumpedCommand(name: name, discussion: command["discussion"] as? String ?? "", options: options)
    }
  }()

  static var options: [DumpedOption] { commands.flatMap(\.options) }
}

/// Malformed invocations made from the dump, one of each kind per subcommand and option:
/// an unknown option, an option without its value, a value outside an enum's set, a value
/// given to a flag. Each must be a usage error (64) in one sentence, and needs no KVM.
@Suite("Malformed invocations derived from the parser")
struct DerivedMalformedTests {
  @Test("the dump lists every subcommand")
  func dump() {
    #expect(
      Set(ParserDump.commands.map(\.name))
        == ["check-cap", "register", "unregister", "create-buffer", "verify", "bench", "compare"])
    #expect(ParserDump.options.count > 30)
  }

  /// `command` with its required arguments (compare's two files), then `rest`.
  static func invocation(_ command: String, _ rest: String...) -> Malformed {
    let files = command == "compare" ? ["a.json", "b.json"] : []
    var malformed = Malformed(64, command)
    malformed.arguments += files + rest
    return malformed
  }

  @Test("an unknown option", arguments: ParserDump.commands)
  func unknown(_ command: DumpedCommand) throws {
    try expectOneSentence(Self.invocation(command.name, "--no-such-option"), withoutKVM: true)
  }

  @Test("an option without its value", arguments: ParserDump.options.filter(\.takesValue))
  func missingValue(_ option: DumpedOption) throws {
    try expectOneSentence(Self.invocation(option.command, option.name), withoutKVM: true)
  }

  @Test(
    "a value outside the option's set names the option", arguments: ParserDump.options.filter { !$0.values.isEmpty })
  func outsideSet(_ option: DumpedOption) throws {
    let invocation = Self.invocation(option.command, option.name, "not-a-value")
    try expectOneSentence(invocation, withoutKVM: true)
    let run = try CMMIOBinary.run(invocation.arguments, environment: ["CMMIO_DEVICE": noDevice])
    #expect(run.stderr.contains(option.name), "\(run.stderr)")
    // Every value of the set appears in the sentence, so the user sees what it takes.
    for value in option.values { #expect(run.stderr.contains("'\(value)'"), "\(value): \(run.stderr)") }
  }

  @Test("a value given to a flag", arguments: ParserDump.options.filter { !$0.takesValue })
  func flagValue(_ option: DumpedOption) throws {
    try expectOneSentence(Self.invocation(option.command, option.name + "=x"), withoutKVM: true)
  }

  /// Every hand-written malformed case, with or without KVM.
  static var handWritten: [Malformed] { ParseOnlyInvocationTests.cases + MalformedInvocationTests.cases }

  @Test("the hand-written cases exercise every subcommand and every option of it")
  func coverage() {
    for command in ParserDump.commands {
      let cases = Self.handWritten.filter { $0.arguments.first == command.name }
      #expect(!cases.isEmpty, "no malformed case of \(command.name)")
      for option in command.options {
        let used = cases.contains { invocation in
          invocation.arguments.contains { $0 == option.name || $0.hasPrefix(option.name + "=") }
        }
        #expect(used, "no malformed case of \(command.name) uses \(option.name)")
      }
    }
  }
}

/// `--help` as the conventions ask: examples for every subcommand that parse as written,
/// and every option's default shown.
@Suite("Help: examples and defaults")
struct HelpConventionTests {
  /// The example lines of a subcommand's help: `cmmio NAME …` under `EXAMPLES:`.
  static func examples(_ command: DumpedCommand) -> [[String]] {
    guard let start = command.discussion.range(of: "EXAMPLES:") else { return [] }
    return command.discussion[start.upperBound...].split(separator: "\n")
      .map { $0.split(separator: " ").map(String.init) }
      .filter { $0.first == "cmmio" }
  }

  @Test("every subcommand's help has examples of itself, and each parses", arguments: ParserDump.commands)
  func examples(_ command: DumpedCommand) throws {
    let examples = Self.examples(command)
    #expect(examples.count >= 2, "\(command.name) has \(examples.count) examples")
    for example in examples {
      #expect(example.dropFirst().first == command.name, "\(example)")
      #expect(throws: Never.self, "\(example.joined(separator: " "))") {
        _ = try CMMIO.parseAsRoot(Array(example.dropFirst()))
      }
    }
  }

  @Test("every option shows its default, or says it is required", arguments: ParserDump.options.filter(\.takesValue))
  func defaults(_ option: DumpedOption) {
    let shown =
      option.defaultValue != nil || option.abstract.contains("(default: ")
      || option.abstract.contains("at least one")
    #expect(shown, "\(option.command) \(option.name): \(option.abstract)")
  }
}
