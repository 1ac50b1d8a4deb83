import ArgumentParser
import BenchReporting
import Benchmarking
import Guest
import KVM
import Reporting

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// `cmmio bench`: coalesced writes against plain exits, across ring sizes, drains and CPUs.
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure coalesced MMIO/PIO writes against plain exits and the RAM floor.",
    discussion: """
      Each combination of mode, ring size, vCPU CPU and drainer CPU is one result: --warmup \
      discarded runs, then --runs kept ones of --writes writes per vCPU. A run's time is the \
      KVM_RUN loop's wall time only. Every write is checked (ring entries and exits, per vCPU, \
      in order) unless --no-verify. SIGINT or SIGTERM stops at the next exit, writes what was \
      measured marked "interrupted": true and exits 130. Exit 1 if a write was lost or out of \
      order (after the report), or a run failed or passed --timeout.
      """
  )

  @OptionGroup var common: CommonOptions

  @Option(help: ArgumentHelp("Modes to measure: ram, plain, coalesced, coalesced-v2, ioeventfd.", valueName: "LIST"))
  var modes = "ram,plain,coalesced"

  @Option(help: ArgumentHelp("Where the guest writes: mmio or pio (port I/O).", valueName: "SPACE"))
  var space = "mmio"

  // Numeric options take their value unconditionally, so `--writes -5` is reported as
  // the out-of-range number it is rather than as a missing value.
  @Option(parsing: .unconditional, help: ArgumentHelp("Writes per run, per vCPU (1 to 4294967295).", valueName: "N"))
  var writes = 20_000

  @Option(parsing: .unconditional, help: ArgumentHelp("Runs kept per result (1 to 1000000).", valueName: "R"))
  var runs = 5

  @Option(parsing: .unconditional, help: ArgumentHelp("Runs discarded before them (0 to 1000000).", valueName: "W"))
  var warmup = 1

  @Option(
    name: .customLong("ring-sizes"),
    help: ArgumentHelp("Ring sizes K to model (1 to the usable capacity), or max.", valueName: "LIST|max"))
  var ringSizes: String?

  @Option(
    name: .customLong("flush-every"), parsing: .unconditional,
    help: ArgumentHelp("Read a non-coalesced doorbell after every N writes (an exit and a drain).", valueName: "N"))
  var flushEvery: Int?

  @Option(help: ArgumentHelp("Who drains the ring: exit (the vCPU thread), thread, or poll (v2).", valueName: "HOW"))
  var drain = "exit"

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp("vCPUs, each writing its own register through the one ring (1 to 1024).", valueName: "N"))
  var vcpus = 1

  @Option(
    name: .customLong("vcpu-cpus"),
    help: ArgumentHelp(
      "Pin vCPU threads: one result per CPU (several vCPUs: spread over the list).", valueName: "CPULIST"))
  var vcpuCPUs: String?

  @Option(
    name: .customLong("drain-cpus"),
    help: ArgumentHelp("Pin the drainer thread (--drain thread): one result per CPU.", valueName: "CPULIST"))
  var drainCPUs: String?

  @Option(
    name: .customLong("numa-node"), parsing: .unconditional,
    help: ArgumentHelp("Place guest memory on NUMA node N (0 to 1023).", valueName: "N"))
  var numaNode: Int?

  @Flag(inversion: .prefixedNo, help: "Check every write for loss and order.")
  var verify = true

  @Option(help: ArgumentHelp("Also write an SVG plot of writes/s against ring size.", valueName: "FILE.svg"))
  var plot: String?

  @Option(
    help: ArgumentHelp(
      "Also write PREFIX.json, PREFIX.csv, PREFIX.md and PREFIX.svg, all from this one measurement.",
      valueName: "PREFIX"))
  var save: String?

  @Flag(inversion: .prefixedNo, help: "A progress line on stderr when it is a terminal.")
  var progress = true

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp("Seconds one run may take before it is stopped (exit 1); at most 1000000.", valueName: "SECONDS")
  )
  var timeout: Double?

  @Flag(name: .customLong("show-guest"), help: "Print each mode's guest program and exit.")
  var showGuest = false

  func validate() throws {
    let (config, _) = try parsedConfiguration()
    if let plot, plot.isEmpty { throw ValidationError("--plot needs a file name, got an empty string") }
    if let save, save.isEmpty || save.hasSuffix("/") || save == "-" {
      throw ValidationError("--save needs a file-name prefix, got '\(save)'")
    }
    if let problem = Self.ignoredOption(
      config, ringSizes: ringSizes, drain: drain, showGuest: showGuest,
      plot: plot, save: save)
    {
      throw ValidationError(problem)
    }
  }

  /// An option that would do nothing in this combination: a usage error rather than
  /// silently ignored, so a run never reports a setting that was not applied.
  static func ignoredOption(
    _ config: BenchConfiguration, ringSizes: String?, drain: String, showGuest: Bool, plot: String?, save: String?
  ) -> String? {
    let ringModes = config.modes.filter { $0 == .coalesced || $0 == .coalescedV2 }
    let modes = config.modes.map(\.rawValue).joined(separator: ",")
    if ringSizes != nil && ringModes.isEmpty {
      return "--ring-sizes applies only to the coalesced modes, and --modes \(modes) has none"
    }
    if drain != "exit" && ringModes.isEmpty {
      return "--drain \(drain) applies only to the coalesced modes, and --modes \(modes) has none"
    }
    if config.drainCPUs != nil {
      if ringModes.isEmpty {
        return "--drain-cpus applies only to the coalesced modes, and --modes \(modes) has none"
      }
      if config.drain == .exit {
        return "--drain-cpus applies only to --drain thread or poll: with --drain exit the vCPU threads drain"
      }
    }
    if showGuest, plot != nil || save != nil {
      return "--show-guest prints the guest programs and measures nothing, so \(plot != nil ? "--plot" : "--save") "
        + "would write nothing"
    }
    return nil
  }

  /// The options as a configuration; ring sizes other than numbers are resolved later.
  private func parsedConfiguration() throws -> (BenchConfiguration, ringSizes: [RingSizeChoice]) {
    var config = BenchConfiguration()
    config.modes = try Self.parseModes(modes)
    guard let parsedSpace = IOSpace(rawValue: space) else {
      throw ValidationError("--space must be mmio or pio, got '\(space)'")
    }
    config.space = parsedSpace
    guard writes >= 1 && writes <= Int(UInt32.max) else {
      throw ValidationError("--writes must be 1 to 4294967295, got \(writes)")
    }
    config.writes = UInt32(writes)
    let most = BenchConfiguration.maximumRuns
    guard runs >= 1 && runs <= most else { throw ValidationError("--runs must be 1 to \(most), got \(runs)") }
    config.runs = runs
    guard warmup >= 0 && warmup <= most else {
      throw ValidationError("--warmup must be 0 to \(most), got \(warmup)")
    }
    config.warmup = warmup
    if let flushEvery {
      guard flushEvery >= 1 && flushEvery <= Int(UInt32.max) else {
        throw ValidationError("--flush-every must be 1 to 4294967295 (omit it for no doorbell), got \(flushEvery)")
      }
      config.flushEvery = UInt32(flushEvery)
    }
    guard let parsedDrain = DrainStrategy(rawValue: drain) else {
      throw ValidationError("--drain must be exit, thread or poll, got '\(drain)'")
    }
    config.drain = parsedDrain
    guard vcpus >= 1 && vcpus <= Self.maximumVCPUs else {
      throw ValidationError("--vcpus must be 1 to \(Self.maximumVCPUs), got \(vcpus)")
    }
    config.vcpus = vcpus
    config.vcpuCPUs = try vcpuCPUs.map { text in try Self.parseCPUs(text, option: "--vcpu-cpus") }
    config.drainCPUs = try drainCPUs.map { text in try Self.parseCPUs(text, option: "--drain-cpus") }
    if let numaNode, !(0...BenchConfiguration.maximumNUMANode).contains(numaNode) {
      throw ValidationError("--numa-node must be 0 to \(BenchConfiguration.maximumNUMANode), got \(numaNode)")
    }
    config.numaNode = numaNode
    config.verify = verify
    if let timeout, !(timeout > 0 && timeout <= BenchConfiguration.maximumTimeout) {
      throw ValidationError(
        "--timeout must be more than 0 and at most \(Int(BenchConfiguration.maximumTimeout)) seconds, got \(timeout)")
    }
    config.timeout = timeout
    let sizes = try ringSizes.map(Self.parseRingSizes) ?? []
    return (config, sizes)
  }

  /// The most `--vcpus` the command line takes (the kernel's KVM_CAP_MAX_VCPUS may be lower).
  static let maximumVCPUs = 1024

  func run() throws {
    var (config, sizes) = try parsedConfiguration()
    // Every file this run writes is checked before anything is measured.
    var extra: [(option: String, path: String?)] = [("--plot", plot)]
    if let save { extra += Self.saveSuffixes.map { ("--save \($0)", save + $0) } }
    let outputs = try common.outputs(extra)
    let threads = config.vcpus + (config.drain == .exit ? 0 : 1)
    try MemoryCheck.require(MemoryCheck.baseBytes + threads * MemoryCheck.perThreadBytes, for: "bench")
    if showGuest {
      try outputs.emit(Self.guestListings(config))
      return
    }
    // SIGINT/SIGTERM only record the signal (the root command installed the handlers, see
    // `Interruption`), so a blocked KVM_RUN returns EINTR and the engine stops at the next exit.
    let device = try common.openDevice()
    // Read before the first run, so the load average is the host's, not cmmio's.
    let provenance = Provenance.now()
    let host = Host.current()
    let ring: RingFill?
    do { ring = try RingCapacityProbe.measure(device) } catch {
      guard Interruption.signal != nil else { throw CLIFailure.from(error) }
      // Interrupted before anything was measured: still a report, marked so.
      let report = BenchReport(
        host: host, ringCapacity: 0, configuration: config, results: [], comparisons: [], costModels: [],
        interrupted: true, provenance: provenance)
      try outputs.emit(renderBench(report, format: common.format))
      throw CLIFailure(.interrupted, "interrupted before the first run: the report is empty")
    }
    let capacity = ring?.usable ?? 0
    config.ringSizes = try Self.resolve(sizes, capacity: capacity)
    let plan: BenchPlan
    do { plan = try BenchPlan.make(config, device: device, host: host, ring: ring) } catch {
      switch error {
      case .usage(let text): throw CLIFailure(.usage, text)
      case .featureMissing(let text): throw CLIFailure(.featureMissing, text)
      case .failure(let text): throw CLIFailure(.failure, text)
      }
    }

    let line = ProgressLine(requested: progress)
    let engine = BenchEngine(plan: plan, device: device)
    engine.progress = { line.show($0) }
    let outcome =
      Interruption.signal.map { BenchOutcome(results: [], interruptedBy: $0) } ?? engine.run()
    line.clear()
    if let failure = outcome.failure { throw CLIFailure.from(failure) }

    let (comparisons, costModels) = analyze(results: outcome.results)
    let report = BenchReport(
      host: host, ringCapacity: capacity, ring: ring, configuration: plan.configuration, results: outcome.results,
      comparisons: comparisons, costModels: costModels, interrupted: outcome.interruptedBy != nil,
      provenance: provenance)
    // The report, the plot and the --save set are written as one set: all or none of the files.
    var files = [(option: "--output", text: renderBench(report, format: common.format))]
    if plot != nil { files.append(("--plot", renderBenchSVG(report))) }
    if save != nil {
      files += [
        ("--save .json", renderBench(report, format: .json)), ("--save .csv", renderBench(report, format: .csv)),
        ("--save .md", renderBench(report, format: .markdown)), ("--save .svg", renderBenchSVG(report)),
      ]
    }
    try outputs.write(files)
    if let signal = outcome.interruptedBy {
      let count = outcome.results.count
      throw CLIFailure(
        .interrupted,
        "\(Interrupted(signal: signal)): the report holds the \(count) result\(count == 1 ? "" : "s") measured")
    }
    let failed = outcome.results.filter { !$0.passed }
    if let first = failed.first {
      var what: [String] = []
      if let check = first.verification, !check.clean {
        if check.lost != 0 || check.outOfOrder != 0 {
          what.append("lost \(check.lost) writes and saw \(check.outOfOrder) out of order")
        }
        if let problem = check.eventfdProblem { what.append(problem) }
      }
      if let problem = first.exitCheck?.problem { what.append("its exits did not match the ring model: " + problem) }
      throw CLIFailure(
        .failure,
        "verification failed for \(failed.count) result(s): the first, \(Self.describe(first.key)), "
          + what.joined(separator: "; "))
    }
  }

  /// The files `--save PREFIX` writes.
  static let saveSuffixes = [".json", ".csv", ".md", ".svg"]

  // MARK: - Parsing

  /// `--ring-sizes` items before the ring's capacity is known.
  enum RingSizeChoice: Equatable {
    case size(UInt32)
    case max
  }

  static func parseModes(_ text: String) throws -> [BenchMode] {
    var modes: [BenchMode] = []
    for item in text.split(separator: ",", omittingEmptySubsequences: false) {
      guard let mode = BenchMode(rawValue: String(item)) else {
        throw ValidationError("--modes takes ram, plain, coalesced, coalesced-v2 and ioeventfd, not '\(item)'")
      }
      if !modes.contains(mode) { modes.append(mode) }
    }
    return modes
  }

  static func parseRingSizes(_ text: String) throws -> [RingSizeChoice] {
    var sizes: [RingSizeChoice] = []
    for item in text.split(separator: ",", omittingEmptySubsequences: false) {
      let choice: RingSizeChoice
      if item == "max" {
        choice = .max
      } else {
        guard !item.isEmpty, item.allSatisfy({ $0.isASCII && $0.isNumber }), item.count <= 10, let value = UInt32(item),
          value >= 1
        else {
          throw ValidationError("--ring-sizes takes numbers from 1 or 'max', separated by commas, not '\(item)'")
        }
        choice = .size(value)
      }
      if !sizes.contains(choice) { sizes.append(choice) }
    }
    return sizes
  }

  static func parseCPUs(_ text: String, option: String) throws -> CPUList {
    do { return try CPUList(parsing: text) } catch { throw ValidationError("\(option): \(error.description)") }
  }

  /// Numbers and `max` as ring sizes for a ring of `capacity` usable entries (exit 64 if beyond it).
  static func resolve(_ sizes: [RingSizeChoice], capacity: Int) throws(CLIFailure) -> [UInt32] {
    var resolved: [UInt32] = []
    for choice in sizes {
      switch choice {
      case .max:
        if capacity > 0 && !resolved.contains(UInt32(capacity)) { resolved.append(UInt32(capacity)) }
      case .size(let size):
        guard capacity == 0 || Int(size) <= capacity else {
          throw CLIFailure(
            .usage, "--ring-sizes \(size) is out of range: this kernel's ring takes 1 to \(capacity) entries")
        }
        if !resolved.contains(size) { resolved.append(size) }
      }
    }
    return resolved
  }

  /// `--show-guest`: vCPU 0's loop for each mode (vCPU i differs only in its register and origin).
  static func guestListings(_ config: BenchConfiguration) -> String {
    var text = ""
    for mode in config.modes {
      let placement = GuestPlacement(
        mode: mode, space: config.space, vcpus: config.vcpus, writes: config.writes, flushEvery: config.flushEvery)
      let program = placement.program(ofVCPU: 0)
      text += "# \(mode.rawValue) \(config.space): \(config.writes) writes to "
      text +=
        mode == .ram
        ? "RAM 0x\(String(placement.base, radix: 16))" : "\(config.space) 0x\(String(placement.base, radix: 16))"
      if config.vcpus > 1 {
        text +=
          " (vCPU i writes base + 8·i from its own copy at 0x\(String(placement.origin(ofVCPU: 0), radix: 16)) + 0x40·i)"
      }
      text += "\n# bytes: \(program.hex)\n" + program.listing + "\n"
    }
    return text
  }

  static func describe(_ key: CaseKey) -> String {
    var text = "\(key.mode.rawValue) \(key.space)"
    if let size = key.ringSize { text += " at ring size \(size)" }
    if let cpu = key.vcpuCPU { text += " on CPU \(cpu)" }
    return text
  }
}
