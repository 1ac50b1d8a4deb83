import ArgumentParser
import BenchReporting
import Benchmarking
import Guest
import KVM
import Platform
import Reporting

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

      EXAMPLES:
        cmmio bench
        cmmio bench --ring-sizes 1,2,4,8,16,32,64,128,max --vcpu-cpus 0 --writes 100000 --plot bench.svg
        cmmio bench --modes plain,coalesced --space pio --drain thread --drain-cpus 1 --vcpu-cpus 0
        cmmio bench --runs 8 --format json --output before.json
        cmmio bench --show-guest --modes ram,plain
      """
  )

  @OptionGroup var common: CommonOptions

  @Option(help: ArgumentHelp("Modes to measure, separated by commas.", valueName: "LIST"))
  var modes = ModeList([.ram, .plain, .coalesced])

  @Option(help: ArgumentHelp("Where the guest writes: pio is port I/O.", valueName: "SPACE"))
  var space: IOSpace = .mmio

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
    help: ArgumentHelp(
      "Ring sizes K to model (1 to the usable capacity), or max, separated by commas (default: max).",
      valueName: "LIST|max"))
  var ringSizes: String?

  @Option(
    name: .customLong("flush-every"), parsing: .unconditional,
    help: ArgumentHelp(
      "Read a non-coalesced doorbell after every N writes (an exit and a drain) (default: never).", valueName: "N"))
  var flushEvery: Int?

  @Option(
    help: ArgumentHelp(
      "Who drains the ring: exit (the vCPU thread, at each exit), thread (a drainer thread), or poll (v2 only).",
      valueName: "HOW"))
  var drain: DrainStrategy = .exit

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp("vCPUs, each writing its own register through the one ring (1 to 1024).", valueName: "N"))
  var vcpus = 1

  @Option(
    name: .customLong("vcpu-cpus"),
    help: ArgumentHelp(
      "Pin vCPU threads: one result per CPU (several vCPUs: spread over the list) (default: unpinned).",
      valueName: "CPULIST"))
  var vcpuCPUs: String?

  @Option(
    name: .customLong("drain-cpus"),
    help: ArgumentHelp(
      "Pin the drainer thread (--drain thread or poll): one result per CPU (default: unpinned).",
      valueName: "CPULIST"))
  var drainCPUs: String?

  @Option(
    name: .customLong("numa-node"), parsing: .unconditional,
    help: ArgumentHelp(
      "Place guest memory on NUMA node N (0 to 1023) (default: the node of the vCPU's CPU, else the kernel's).",
      valueName: "N"))
  var numaNode: Int?

  @Flag(inversion: .prefixedNo, help: "Check every write for loss and order.")
  var verify = true

  @Option(
    help: ArgumentHelp("Also write an SVG plot of writes/s against ring size (default: none).", valueName: "FILE.svg"))
  var plot: String?

  @Option(
    help: ArgumentHelp(
      "Also write PREFIX.json, PREFIX.csv, PREFIX.md and PREFIX.svg, all from this one measurement (default: none).",
      valueName: "PREFIX"))
  var save: String?

  @Flag(inversion: .prefixedNo, help: "A progress line on stderr when it is a terminal.")
  var progress = true

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "Seconds one run may take before it is stopped (exit 1); more than 0, at most 1000000 (default: no limit).",
      valueName: "SECONDS"))
  var timeout: Double?

  @Flag(name: .customLong("show-guest"), help: "Print each mode's guest program and exit.")
  var showGuest = false

  func validate() throws {
    let (config, _) = try parsedConfiguration()
    if let plot, plot.isEmpty { throw ValidationError("--plot needs a file name, got an empty string") }
    if let save, save.isEmpty || save.hasSuffix("/") || save == "-" {
      throw ValidationError("--save needs a file-name prefix, got '\(save)'")
    }
    if let problem = Self.ignoredOption(config, ringSizes: ringSizes, showGuest: showGuest, plot: plot, save: save) {
      throw ValidationError(problem)
    }
  }

  /// An option that would do nothing in this combination: a usage error rather than
  /// silently ignored, so a run never reports a setting that was not applied. (`--drain` and
  /// `--drain-cpus` are checked with the configuration, `BenchConfiguration.check`.)
  static func ignoredOption(
    _ config: BenchConfiguration, ringSizes: String?, showGuest: Bool, plot: String?, save: String?
  ) -> String? {
    if ringSizes != nil && !config.modes.contains(where: \.usesRing) {
      return "--ring-sizes applies only to the coalesced modes, and --modes \(ModeList(config.modes)) has none"
    }
    if showGuest, plot != nil || save != nil {
      return "--show-guest prints the guest programs and measures nothing, so \(plot != nil ? "--plot" : "--save") "
        + "would write nothing"
    }
    return nil
  }

  /// The options as a configuration, checked by `BenchConfiguration.check` (every range and
  /// combination that needs no device); ring sizes other than numbers are resolved later.
  private func parsedConfiguration() throws -> (BenchConfiguration, ringSizes: [RingSizeChoice]) {
    var config = BenchConfiguration()
    config.modes = modes.modes
    config.space = space
    config.runs = runs
    config.warmup = warmup
    config.drain = drain
    config.vcpus = vcpus
    config.numaNode = numaNode
    config.verify = verify
    config.timeout = timeout
    // The two options wider than their field: in range before they are narrowed.
    do throws(BenchSetupError) {
      try BenchConfiguration.check(.writes, writes)
      if let flushEvery { try BenchConfiguration.check(.flushEvery, flushEvery) }
    } catch {
      throw ValidationError(Self.sentence(error))
    }
    config.writes = UInt32(writes)
    config.flushEvery = flushEvery.map(UInt32.init) ?? 0
    config.vcpuCPUs = try vcpuCPUs.map { text in try Self.parseCPUs(text, option: "--vcpu-cpus") }
    config.drainCPUs = try drainCPUs.map { text in try Self.parseCPUs(text, option: "--drain-cpus") }
    do { try config.check() } catch { throw ValidationError(Self.sentence(error)) }
    let sizes = try ringSizes.map(Self.parseRingSizes) ?? []
    return (config, sizes)
  }

  /// The most `--vcpus` the command line takes (the kernel's KVM_CAP_MAX_VCPUS may be lower).
  static let maximumVCPUs = BenchConfiguration.maximumVCPUs

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
      throw Self.failure(error)
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
        ? "RAM \(NumberFormat.hex(placement.base))" : "\(config.space) \(NumberFormat.hex(placement.base))"
      if config.vcpus > 1 {
        text +=
          " (vCPU i writes base + 8·i from its own copy at \(NumberFormat.hex(placement.origin(ofVCPU: 0))) + 0x40·i)"
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

  /// The flag that sets `setting`.
  static func flag(_ setting: BenchSetting) -> String {
    switch setting {
    case .modes: "--modes"
    case .space: "--space"
    case .writes: "--writes"
    case .runs: "--runs"
    case .warmup: "--warmup"
    case .ringSizes: "--ring-sizes"
    case .flushEvery: "--flush-every"
    case .drain: "--drain"
    case .vcpus: "--vcpus"
    case .vcpuCPUs: "--vcpu-cpus"
    case .drainCPUs: "--drain-cpus"
    case .numaNode: "--numa-node"
    case .timeout: "--timeout"
    }
  }

  /// The one sentence for a refused configuration, in the command line's words.
  static func sentence(_ error: BenchSetupError) -> String {
    switch error {
    case .outOfRange(.timeout, let value):
      return "--timeout must be more than 0 and at most \(Int(BenchConfiguration.maximumTimeout)) seconds, got \(value)"
    case .outOfRange(let setting, let value):
      let range = setting.range.map { "\($0.lowerBound) to \($0.upperBound)" } ?? "in range"
      let omit = setting == .flushEvery ? " (omit it for no doorbell)" : ""
      return "\(flag(setting)) must be \(range)\(omit), got \(value)"
    case .noModes:
      return "--modes needs at least one mode"
    case .vcpusAboveLimit(let requested, let limit):
      return "--vcpus \(requested) is out of range: 1 to \(limit) here (KVM_CAP_MAX_VCPUS and the guest layout)"
    case .cpusOffline(let setting, let cpus, let online):
      return "\(flag(setting)) names CPU \(CPUList(cpus)), not online here (online: \(online))"
    case .cpusNotAllowed(let setting, let cpus, let allowed):
      return "\(flag(setting)) names CPU \(CPUList(cpus)), which this process may not use (allowed: \(allowed))"
    case .needsRingMode(let setting, let value, let modes):
      return "\(flag(setting))\(value.map { " \($0)" } ?? "") applies only to the coalesced modes, and --modes "
        + "\(ModeList(modes)) has none"
    case .drainCPUsWithExitDrain:
      return "--drain-cpus applies only to --drain thread or poll: with --drain exit the vCPU threads drain"
    case .pollNeedsV2:
      return "--drain poll applies only to --modes coalesced-v2 (poll() waits on a v2 buffer fd)"
    case .numaNodeMissing(let node, let nodes):
      return "--numa-node \(node) does not exist here (nodes: \(nodes.map(String.init).joined(separator: ",")))"
    case .ringSizeOutOfRange(let size, let capacity):
      return "--ring-sizes \(size) is out of range: this kernel's ring takes 1 to \(capacity) entries"
    case .featureMissing(.coalescedMMIO):
      return "--modes coalesced needs KVM_CAP_COALESCED_MMIO, which this kernel does not offer"
    case .featureMissing(.coalescedPIO):
      return "--space pio with coalesced modes needs KVM_CAP_COALESCED_PIO, which this kernel lacks"
    case .featureMissing(.ioeventfd):
      return "--modes ioeventfd needs KVM_CAP_IOEVENTFD, which this kernel does not offer"
    case .featureMissing(.coalescedV2(let answer)):
      return "--modes coalesced-v2 needs the proposed v2 coalesced MMIO API: \(MMIO2Probe.attempt) answered \(answer)"
    case .unmodelledRing(let ring):
      return "the ring took \(ring.range) entries from an empty ring at start indexes "
        + "\(ring.starts.map(String.init).joined(separator: ", ")) (\(ring.counts.map(String.init).joined(separator: ", ")))"
        + ", which neither the 6.12+ nor the pre-6.12 has-room arithmetic predicts: cmmio cannot model a ring size here"
    case .failure(let text):
      return text
    }
  }

  /// A refused configuration as the command line's failure: its sentence and exit status.
  static func failure(_ error: BenchSetupError) -> CLIFailure {
    switch error.kind {
    case .usage: CLIFailure(.usage, sentence(error))
    case .featureMissing: CLIFailure(.featureMissing, sentence(error))
    case .failure: CLIFailure(.failure, sentence(error))
    }
  }
}
