import Guest
import KVM
import Platform

/// Where the engine is, for a progress line: sent before each run starts.
public struct BenchProgress: Sendable {
  public var caseIndex: Int
  public var caseCount: Int
  public var label: String
  /// 1-based, counting warm-up runs first.
  public var run: Int
  public var warmup: Int
  public var runs: Int
  /// Runs finished so far over all cases, and runs in all.
  public var runsDone: Int
  public var runsTotal: Int
  /// Nanoseconds since the engine started.
  public var elapsedNs: UInt64

  /// Whether this run is a discarded warm-up run.
  public var isWarmup: Bool { run <= warmup }
}

/// What the engine measured, and why it stopped if it did not finish.
public struct BenchOutcome: Sendable {
  public var results: [BenchResult]
  /// SIGINT or SIGTERM ended it early (the signal number).
  public var interruptedBy: Int32?
  /// A run failed (an ioctl, an unexpected exit, a timeout): what was measured before is kept.
  public var failure: BenchFailure?

  public init(results: [BenchResult], interruptedBy: Int32? = nil, failure: BenchFailure? = nil) {
    self.results = results
    self.interruptedBy = interruptedBy
    self.failure = failure
  }
}

/// Runs every case of a plan: `--warmup` discarded runs, then `--runs` kept ones.
///
/// Each case gets its own VM: RAM on `--numa-node` if asked, one copy of the loop per
/// vCPU, the zone (ring modes), one vCPU thread each (pinned if asked) and, for the
/// `thread` drain, a drainer thread. Each run resets the vCPUs to the loop's start,
/// starts every thread from one barrier, and measures wall time from the first vCPU's
/// start to the last vCPU's `hlt`, the exits, each `KVM_RUN`'s round trip, the vCPUs'
/// binary stats before and after, and every write.
public final class BenchEngine {
  public let plan: BenchPlan
  public let device: KVMDevice
  /// Called before each run, on the calling thread.
  public var progress: ((BenchProgress) -> Void)?
  /// Tests only: added to the value the verifier expects first, to show it can fail.
  var expectationSkew: Int64 = 0
  /// Tests only: the ring cursors grant the kernel K + `ringSizeSkew` slots while the model,
  /// the checks and the report still say K. A deliberately wrong model on the real kernel (the
  /// very defect of reporting a ring size not achieved), to show the exit check fails.
  var ringSizeSkew: Int32 = 0
  /// Tests only: what the host CPU says of its TSC (`constant_tsc`, `nonstop_tsc`) in place of
  /// /proc/cpuinfo, to show the drain delay is omitted, with the reason, where they are missing.
  var clockFlagsOverride: (constant: Bool, nonstop: Bool)?
  /// Test-only, from the environment: `CMMIO_TEST_HAS_ROOM=6.12+` (or `pre-6.12`) makes the
  /// cursors model that arithmetic whatever the probe measured, so that on a real pre-6.12
  /// kernel the old textbook `first` can be run and shown to fail the exit check.
  var arithmeticOverride: HasRoomArithmetic? =
    getenv("CMMIO_TEST_HAS_ROOM").flatMap { HasRoomArithmetic(rawValue: String(cString: $0)) }

  public init(plan: BenchPlan, device: KVMDevice) {
    self.plan = plan
    self.device = device
  }

  /// The has-room arithmetic every case's cursor models: the override, else what the probe
  /// measured, else the fixed kernel's.
  private var ringArithmetic: HasRoomArithmetic { arithmeticOverride ?? plan.ringArithmetic ?? .fixed }

  /// Measures every case in turn. It stops early when `Interruption.signal` reports
  /// SIGINT or SIGTERM: a caller that wants that calls `Interruption.install()` (the
  /// command line does); the engine itself installs only the kick.
  public func run() -> BenchOutcome {
    Interruption.installKickHandler()
    let config = plan.configuration
    let started = Clock.monotonicNanoseconds()
    // BenchPlan.make bounds both (BenchConfiguration.maximumRuns), so this cannot overflow.
    let runsPerCase = config.warmup + config.runs
    var outcome = BenchOutcome(results: [], interruptedBy: nil, failure: nil)
    for (caseIndex, benchCase) in plan.cases.enumerated() {
      if let signal = Interruption.signal {
        outcome.interruptedBy = signal
        break
      }
      let setup: CaseSetup
      do {
        setup = try CaseSetup(
          benchCase, configuration: config, device: device, skew: expectationSkew,
          arithmetic: ringArithmetic, ringSizeSkew: ringSizeSkew)
      } catch {
        outcome.failure = error
        break
      }
      var kept = CaseTally(statCount: setup.statNames.count)
      for run in 1...runsPerCase {
        progress?(
          BenchProgress(
            caseIndex: caseIndex + 1, caseCount: plan.cases.count, label: benchCase.label, run: run,
            warmup: config.warmup, runs: config.runs, runsDone: caseIndex * runsPerCase + run - 1,
            runsTotal: plan.cases.count * runsPerCase, elapsedNs: Clock.monotonicNanoseconds() &- started))
        let measured = setup.runOnce(timeout: config.timeout, what: "run \(run) of \(benchCase.label)")
        switch measured {
        case .success(let measurement):
          if run > config.warmup { kept.add(measurement) }
        case .failure(.interrupted(let signal)):
          outcome.interruptedBy = signal
        case .failure(.failed(let failure)):
          outcome.failure = failure
        }
        if outcome.interruptedBy != nil || outcome.failure != nil { break }
      }
      if kept.runs > 0 {
        var result = setup.result(from: kept)
        if benchCase.key.mode.usesRing {
          let delay = drainDelay(of: benchCase, outcome: &outcome)
          result.drainDelay = delay
          if let share = delay.drainerCPUShare {
            result.drainerCPUShare = min(result.drainerCPUShare ?? share, share)
          }
        }
        outcome.results.append(result)
      }
      if outcome.interruptedBy != nil || outcome.failure != nil { break }
    }
    return outcome
  }
}

extension BenchEngine {
  /// The drain delay of a ring case, from a stamped run in a VM of its own (the timed runs'
  /// loop and figures stay untouched). An interruption or a failure of that run is recorded
  /// in `outcome`; the delay then says it was not measured.
  func drainDelay(of benchCase: BenchCase, outcome: inout BenchOutcome) -> DrainDelay {
    guard outcome.interruptedBy == nil && outcome.failure == nil else {
      return .omitted("not measured: the timed runs were interrupted")
    }
    let config = plan.configuration
    let stamped: CaseSetup
    do {
      stamped = try CaseSetup(
        benchCase, configuration: config, device: device, skew: expectationSkew,
        arithmetic: ringArithmetic, stamped: true)
    } catch {
      outcome.failure = error
      return .omitted("not measured: setting up the stamped run failed")
    }
    switch stamped.measureDrainDelay(
      timeout: config.timeout, warmup: config.warmup > 0, what: "the stamped run of \(benchCase.label)",
      flags: clockFlagsOverride ?? GuestClock.hostTSCFlags())
    {
    case .success(let delay):
      return delay
    case .failure(.interrupted(let signal)):
      outcome.interruptedBy = signal
      return .omitted("not measured: interrupted during the stamped run")
    case .failure(.failed(let failure)):
      outcome.failure = failure
      return .omitted("not measured: the stamped run failed")
    }
  }
}

/// Why a run did not complete.
enum RunStop: Error, Sendable {
  case interrupted(Int32)
  case failed(BenchFailure)
}

/// What one kept run measured (all vCPUs together).
struct RunMeasurement: Sendable {
  var wallNs: UInt64
  var writeExits: Int
  var readExits: Int
  var kvmRuns: Int
  var ringEntries: Int
  var verification: Verification
  /// Every drain against the cursor's grant.
  var grants: GrantTally
  /// Why the run's exits did not match the ring model, if they did not.
  var exitProblem: String?
  /// Per selected kernel counter, summed over vCPUs.
  var statDeltas: [UInt64]
  var latency: RunLatency
  var observedVCPUCPUs: [Int]
  var observedDrainCPU: Int?
  /// The thread drain's CPU time over the run's wall time (`DrainerWorker.cpuShare`).
  var drainerCPUShare: Double?

  var userspaceExits: Int { writeExits + readExits }
}

/// One case's VM, vCPUs, zone and stats files, reused by each of its runs.
final class CaseSetup {
  let benchCase: BenchCase
  let configuration: BenchConfiguration
  let placement: GuestPlacement
  let machine: GuestMachine
  let vcpus: [VCPU]
  let drain: DrainCoordinator
  /// `coalesced-v2`: the buffer whose ring the zone writes to (closed with the setup).
  let buffer: CoalescedBuffer?
  /// `ioeventfd`: the eventfd every vCPU's register signals (closed with the setup).
  let eventCounter: EventCounter?
  /// Per vCPU, when the kernel offers `KVM_GET_STATS_FD`.
  let stats: [StatsFile]
  /// Indexes (into the stats descriptors) of the counters reported: cumulative single values.
  let statIndexes: [Int]
  let statNames: [String]
  /// The kernel's has-room arithmetic the cursor models.
  let arithmetic: HasRoomArithmetic
  /// One vCPU draining at its own exits with no doorbell: exits per write are exactly 1/(K + 1).
  let exactPromise: Bool
  /// The drain delay's run: the guest stamps each write with its TSC, the drain times each entry.
  let stamped: Bool

  init(
    _ benchCase: BenchCase, configuration: BenchConfiguration, device: KVMDevice, skew: Int64,
    arithmetic: HasRoomArithmetic, ringSizeSkew: Int32 = 0, stamped: Bool = false
  ) throws(BenchFailure) {
    self.stamped = stamped
    self.benchCase = benchCase
    self.configuration = configuration
    self.arithmetic = arithmetic
    let exactFill = benchCase.key.drain == .exit && benchCase.key.vcpus == 1
    exactPromise = exactFill && configuration.flushEvery == 0
    let key = benchCase.key
    placement = GuestPlacement(
      mode: key.mode, space: key.space, vcpus: key.vcpus, writes: configuration.writes,
      flushEvery: configuration.flushEvery, stamped: stamped)
    do {
      machine = try GuestMachine(device: device)
      if let node = configuration.numaNode {
        // Before anything touches the pages, so they are allocated on the node.
        Host.placeMemory(machine.memory.mapping.base, length: machine.memory.size, onNode: node)
      }
      var created: [VCPU] = []
      for index in 0..<key.vcpus {
        machine.load(placement.program(ofVCPU: index))
        created.append(try machine.addVCPU(entry: placement.origin(ofVCPU: index)))
      }
      vcpus = created
      if key.mode == .coalesced { try machine.vm.register(placement.zone) }
      if key.mode == .ioeventfd {
        // One binding per vCPU register, of the write's length, without datamatch: every
        // value signals the one eventfd, and no value reaches userspace.
        let counter = try EventCounter()
        for index in 0..<key.vcpus {
          let binding = IoeventBinding(
            address: placement.register(ofVCPU: index), length: GuestWorkload.writeLength, space: key.space)
          try machine.vm.registerIoeventfd(binding, counter: counter)
        }
        eventCounter = counter
      } else {
        eventCounter = nil
      }
    } catch {
      throw .system(error)
    }
    buffer = key.mode == .coalescedV2 ? try Self.v2Buffer(on: machine.vm, zone: placement.zone) : nil
    let ring = key.mode == .coalescedV2 ? buffer?.ring : key.mode == .coalesced ? vcpus.first?.ring : nil
    let firstValue = UInt64(Int64(configuration.writes) + skew)
    drain = DrainCoordinator(
      ring: ring, ringSize: key.ringSize, arithmetic: arithmetic,
      exactFill: exactFill, solo: key.vcpus == 1 && !benchCase.hasDrainer, ringSizeSkew: ringSizeSkew,
      base: placement.base,
      stride: GuestPlacement.registerStride, vcpus: key.vcpus, space: key.space, firstValue: firstValue,
      expectsWrites: key.mode != .ram && key.mode != .ioeventfd, enabled: configuration.verify, stamped: stamped)
    let files = vcpus.compactMap { try? $0.statistics() }
    stats = files.count == vcpus.count ? files : []
    let descriptors = stats.first?.descriptors ?? []
    statIndexes = descriptors.indices.filter { descriptors[$0].type == 0 && descriptors[$0].count == 1 }
    statNames = statIndexes.map { descriptors[$0].name }
  }

  /// A v2 buffer (`KVM_CREATE_COALESCED_MMIO_BUFFER`), mapped, with `zone` registered on it
  /// (`KVM_REGISTER_COALESCED_MMIO2`): the zone's writes go to the buffer's ring.
  private static func v2Buffer(on vm: VirtualMachine, zone: CoalescedZone) throws(BenchFailure) -> CoalescedBuffer {
    let buffer: CoalescedBuffer
    do { buffer = try CoalescedBuffer.create(KernelBufferOperations(vm: vm)) } catch {
      switch error {
      case .absent(let refusal), .failed(let refusal): throw .system(refusal)
      case .notABuffer:
        throw .system(SystemCallError(operation: "KVM_CREATE_COALESCED_MMIO_BUFFER (\(error))", code: ENOTTY))
      }
    }
    do {
      try buffer.map()
      try buffer.register(zone)
    } catch {
      throw .system(error)
    }
    return buffer
  }

  /// The stamped run (`stamped`): relate the vCPUs' TSC to the host's, run once (after a
  /// discarded run if `warmup`), relate again, and turn each entry's wait into nanoseconds.
  /// The run's writes are verified whether or not the clocks could be related.
  /// The figures are omitted, with the reason, where the clocks cannot be related, the
  /// offset moved during the run, or an entry was read before its stamp by more than the
  /// relation's uncertainty.
  func measureDrainDelay(
    timeout: Double?, warmup: Bool, what: String, flags: (constant: Bool, nonstop: Bool)?
  ) -> Result<DrainDelay, RunStop> {
    if warmup {
      if case .failure(let stop) = runOnce(timeout: timeout, what: what) { return .failure(stop) }
    }
    // The run is made, and its writes verified, even where the clocks cannot be related.
    let related = GuestClock.relate(vcpus, flags: flags)
    let run: RunMeasurement
    switch runOnce(timeout: timeout, what: what, clockOffset: (try? related.get())?.offset ?? 0) {
    case .failure(let stop): return .failure(stop)
    case .success(let measured): run = measured
    }
    var measured = delay(of: run, related: related, flags: flags)
    measured.drainerCPUShare = run.drainerCPUShare
    return .success(measured)
  }

  /// The figures of the stamped run `run`, made with the relation `related` read before it.
  private func delay(
    of run: RunMeasurement, related: Result<TSCRelation, ClockRefusal>, flags: (constant: Bool, nonstop: Bool)?
  ) -> DrainDelay {
    let verification = configuration.verify ? run.verification : nil
    let before: TSCRelation
    switch related {
    case .failure(let refusal): return .omitted(refusal.reason, verification: verification)
    case .success(let relation): before = relation
    }
    guard let waits = drain.delaySnapshot() else {
      return .omitted("no ring was read", verification: verification)
    }
    let span: TSCSpan
    switch GuestClock.relate(vcpus, flags: flags).flatMap({ GuestClock.span(before: before, after: $0) }) {
    case .failure(let refusal): return .omitted(refusal.reason, verification: verification)
    case .success(let held): span = held
    }
    if waits.early > 0 && waits.earliest > UInt64(before.uncertaintyCycles) {
      let ns = Int(before.nanoseconds(cycles: Double(waits.earliest)).rounded())
      return .omitted(
        "\(waits.early) ring entries were read before their own TSC stamp, by up to \(ns) ns, more than the "
          + "relation's uncertainty of \(Int(before.uncertaintyNs.rounded())) ns: the clocks are not related as measured",
        verification: verification)
    }
    guard waits.cycles.count > 0 else {
      return .omitted("no write waited in the ring (every write exited)", verification: verification)
    }
    let cycles = waits.cycles.summary
    func ns(_ value: UInt64) -> UInt64 { UInt64(before.nanoseconds(cycles: Double(value)).rounded()) }
    return DrainDelay(
      figures: LatencySummary(
        p50: ns(cycles.p50), p90: ns(cycles.p90), p99: ns(cycles.p99), p999: ns(cycles.p999), max: ns(cycles.max)),
      reason: nil, uncertaintyNs: span.uncertaintyNs(longestNs: Double(ns(cycles.max))),
      entries: Int(waits.cycles.count), early: waits.early, tscKHz: before.khz, measuredKHz: before.measuredKHz,
      clock: DrainDelay.Clock(basis: before.basis, runKHz: span.runKHz, rateError: span.rateError),
      verification: verification, stampedNsPerWrite: Double(run.wallNs) / Double(max(writesPerRun, 1)),
      writeIntervalNs: waits.steps.count > 0 ? before.nanoseconds(cycles: Double(waits.steps.summary.p50)) : nil)
  }

  /// One run: reset, start every thread together, wait (kicking them on SIGINT, SIGTERM or
  /// the timeout), then collect.
  func runOnce(timeout: Double?, what: String, clockOffset: Int64 = 0) -> Result<RunMeasurement, RunStop> {
    do {
      for (index, vcpu) in vcpus.enumerated() {
        vcpu.setImmediateExit(false)
        try vcpu.enterUnrealMode(entry: placement.origin(ofVCPU: index))
      }
    } catch {
      return .failure(.failed(.system(error)))
    }
    if benchCase.key.mode == .ram {
      for index in 0..<vcpus.count { machine.memory.write([0, 0, 0, 0], at: placement.register(ofVCPU: index)) }
    }
    do { try drain.prepareRun(clockOffset: clockOffset) } catch { return .failure(.failed(.corruption(error))) }
    // Start the count from zero (read(2) resets an eventfd's counter).
    do { _ = try eventCounter?.take() } catch { return .failure(.failed(.system(error))) }
    let before: [StatsSnapshot]
    do { before = try stats.map { file throws(SystemCallError) in try file.snapshot() } } catch {
      return .failure(.failed(.system(error)))
    }

    let workers = vcpus.enumerated().map { VCPUWorker(vcpu: $1, index: $0, cpu: benchCase.vcpuCPUs[$0]) }
    let drainer =
      benchCase.hasDrainer
      ? DrainerWorker(cpu: benchCase.drainCPU, pollFD: configuration.drain == .poll ? buffer?.fd : nil) : nil
    let control: RunControl
    do { control = try RunControl() } catch { return .failure(.failed(.system(error))) }
    let drain = self.drain
    let vcpuCount = vcpus.count
    var threads: [BenchThread] = []
    var drainerThread: BenchThread?
    var startFailure: SystemCallError?
    do {
      for worker in workers {
        threads.append(try BenchThread { worker.run(control: control, drain: drain) })
      }
      if let drainer {
        drainerThread = try BenchThread { drainer.run(control: control, drain: drain, vcpus: vcpuCount) }
      }
    } catch {
      // Release the threads that did start; they see the stop and end without running.
      startFailure = error
      control.requestStop(.failed)
    }
    control.openGate(whenArrived: threads.count + (drainerThread == nil ? 0 : 1))
    if let startFailure {
      for thread in threads { thread.join() }
      drainerThread?.join()
      return .failure(.failed(.system(startFailure)))
    }

    supervise(control: control, threads: threads, workers: workers, timeout: timeout)
    for thread in threads { thread.join() }
    drainerThread?.join()

    switch control.stopReason {
    case .interrupted: return .failure(.interrupted(Interruption.signal ?? SIGINT))
    case .timedOut: return .failure(.failed(.timedOut(seconds: timeout ?? 0, what: what)))
    case .failed, .none: break
    }
    if let failure = workers.lazy.compactMap(\.record.failure).first ?? drainer?.failure {
      return .failure(.failed(failure))
    }
    let signalled: UInt64?
    do { signalled = try eventCounter?.take() } catch { return .failure(.failed(.system(error))) }
    return .success(collect(workers: workers, drainer: drainer, before: before, signalled: signalled))
  }

  /// The coordinating thread: sleeps until every vCPU thread ended; on a signal or the
  /// deadline, stops the run and kicks each vCPU out of `KVM_RUN` (again every 100 ms
  /// until it leaves).
  private func supervise(control: RunControl, threads: [BenchThread], workers: [VCPUWorker], timeout: Double?) {
    let deadline = timeout.map { Clock.deadline(afterSeconds: $0) }
    while control.finishedVCPUs < workers.count {
      if Interruption.signal != nil { control.requestStop(.interrupted) }
      var wait: Int32 = 100
      if let deadline {
        let now = Clock.monotonicNanoseconds()
        if now >= deadline {
          control.requestStop(.timedOut)
        } else {
          wait = Int32(min(100, (deadline - now) / 1_000_000 + 1))
        }
      }
      if control.stopReason != .none {
        for (worker, thread) in zip(workers, threads) {
          worker.vcpu.setImmediateExit(true)
          thread.kick()
        }
      }
      control.sleep(milliseconds: wait)
    }
  }

  /// `signalled`: what the eventfd counted in the run (`ioeventfd`), nil otherwise.
  private func collect(
    workers: [VCPUWorker], drainer: DrainerWorker?, before: [StatsSnapshot], signalled: UInt64?
  ) -> RunMeasurement {
    if benchCase.key.mode == .ram {
      // Nothing reaches userspace in the floor: check each loop's last store, the value 1, in RAM.
      for index in 0..<vcpus.count where machine.memory.load(UInt32.self, at: placement.register(ofVCPU: index)) != 1 {
        drain.recordMismatch()
      }
    }
    let finished = drain.finishRun()
    var verification = finished.verification
    if let signalled {
      verification.eventfdCount = Int(clamping: signalled)
      verification.eventfdExpected = writesPerRun
    }
    var deltas = [UInt64](repeating: 0, count: statIndexes.count)
    if let after = try? stats.map({ file throws(SystemCallError) in try file.snapshot() }) {
      for (vcpu, snapshot) in after.enumerated() {
        for (slot, index) in statIndexes.enumerated() {
          deltas[slot] &+= snapshot.values[index] &- before[vcpu].values[index]
        }
      }
    }
    var latency = RunLatency()
    for worker in workers { latency.add(worker.record.latency) }
    let start = workers.map(\.record.start).min() ?? 0
    let end = workers.map(\.record.end).max() ?? 0
    let writeExits = workers.reduce(0) { $0 + $1.record.writeExits }
    return RunMeasurement(
      wallNs: end &- start,
      writeExits: writeExits,
      readExits: workers.reduce(0) { $0 + $1.record.readExits },
      kvmRuns: workers.reduce(0) { $0 + $1.record.kvmRuns },
      ringEntries: finished.ringEntries,
      verification: verification,
      grants: finished.grants,
      exitProblem: exitProblem(writeExits: writeExits, grants: finished.grants),
      statDeltas: deltas,
      latency: latency,
      observedVCPUCPUs: workers.map(\.record.observedCPU),
      observedDrainCPU: drainer?.observedCPU, drainerCPUShare: drainer?.cpuShare)
  }

  /// Writes per run, all vCPUs together.
  private var writesPerRun: Int { Int(configuration.writes) * benchCase.key.vcpus }

  /// The run's write exits and drains against the model (`ExitCheck`); nil when they match.
  func exitProblem(writeExits: Int, grants: GrantTally) -> String? {
    let key = benchCase.key
    let writes = writesPerRun
    switch key.mode {
    case .ram:
      return nil
    case .plain:
      return writeExits == writes ? nil : "\(writeExits) write exits for \(writes) writes, where every write exits"
    case .ioeventfd:
      guard writeExits != 0 else { return nil }
      return "\(writeExits) write exits for \(writes) writes, where KVM_IOEVENTFD completes every write in the kernel"
    case .coalesced, .coalescedV2:
      if let broken = grants.firstBroken {
        return "a drain from ring position \(broken.position) found \(broken.read) entries where the cursor had "
          + "granted \(broken.promised) (modelling the \(arithmetic.rawValue) has-room arithmetic); "
          + "\(grants.overTaken + grants.shortFills) of \(grants.drains) drains broke their grant"
      }
      let size = grants.filledCount > 0 ? Double(grants.filledSum) / Double(grants.filledCount) : Double(grants.initial)
      if exactPromise {
        let expected = Double(writes) / (size + 1)
        guard abs(Double(writeExits) - expected) <= 1 else {
          return "\(writeExits) write exits for \(writes) writes, where a ring of \(ExitCheck.sizeText(size)) gives "
            + "\(writes)/(K + 1) = \(NumberFormat.compact(expected)) within one"
        }
        return nil
      }
      let least = min(grants.filledCount > 0 ? grants.least : grants.initial, grants.initial)
      let bound = key.vcpus * (writes / (Int(least) + 1) + 1)
      guard writeExits <= bound else {
        return "\(writeExits) write exits for \(writes) writes, above the model's bound of \(bound) "
          + "(one per vCPU per \(least + 1) writes, plus one)"
      }
      return nil
    }
  }

  /// The exit check over the kept runs.
  func exitCheck(from tally: CaseTally) -> ExitCheck? {
    let key = benchCase.key
    let writes = Double(writesPerRun)
    switch key.mode {
    case .ram:
      return nil
    case .plain:
      return ExitCheck(
        promise: .exact, modelExitsPerWrite: 1, arithmetic: nil, achievedRingSize: nil, leastGrant: nil,
        greatestGrant: nil, drains: 0, brokenGrants: 0, problem: tally.exitProblem)
    case .ioeventfd:
      // No write reaches userspace; the halt is not a write exit.
      return ExitCheck(
        promise: .exact, modelExitsPerWrite: 0, arithmetic: nil, achievedRingSize: nil, leastGrant: nil,
        greatestGrant: nil, drains: 0, brokenGrants: 0, problem: tally.exitProblem)
    case .coalesced, .coalescedV2:
      let grants = tally.grants
      let size = grants.filledCount > 0 ? Double(grants.filledSum) / Double(grants.filledCount) : Double(grants.initial)
      let least = grants.filledCount > 0 ? min(grants.least, grants.initial) : grants.initial
      let greatest = max(grants.greatest, grants.initial)
      let bound = Double(key.vcpus * (writesPerRun / (Int(least) + 1) + 1)) / writes
      return ExitCheck(
        promise: exactPromise ? .exact : .atMost, modelExitsPerWrite: exactPromise ? 1 / (size + 1) : bound,
        arithmetic: arithmetic, achievedRingSize: size, leastGrant: least, greatestGrant: greatest,
        drains: grants.drains, brokenGrants: grants.overTaken + grants.shortFills, problem: tally.exitProblem)
    }
  }

  /// The result over the kept runs.
  func result(from tally: CaseTally) -> BenchResult {
    let writes = Int(configuration.writes) * benchCase.key.vcpus
    let seconds = tally.wallNs.map { max(Double($0), 1) / 1e9 }
    let writesPerSec = seconds.map { Double(writes) / $0 }
    let nsPerWrite = seconds.map { $0 * 1e9 / Double(writes) }
    let runs = Double(tally.runs)
    let kernelStats = statNames.enumerated().map { slot, name in (name: name, value: tally.statSums[slot] / runs) }
    return BenchResult(
      key: benchCase.key, writes: writes, runs: tally.runs, writesPerSec: Summary(samples: writesPerSec),
      nsPerWrite: Summary(samples: nsPerWrite),
      userspaceExitsPerWrite: Double(tally.userspaceExits) / (Double(writes) * runs),
      exitsPerSec: tally.exitsPerSecSum / runs, kvmRunNs: tally.latency.summary, kernelStats: kernelStats,
      verification: configuration.verify ? tally.verification : nil, exitCheck: exitCheck(from: tally),
      observedVCPUCPUs: tally.observedVCPUCPUs,
      observedDrainCPU: tally.observedDrainCPU, drainerCPUShare: tally.leastDrainerCPUShare)
  }
}

/// The kept runs of one case, folded as they come: a few words per run (its wall time), so
/// even millions of runs cost little memory; round trips merge into one histogram.
struct CaseTally {
  private(set) var runs = 0
  private(set) var wallNs: [UInt64] = []
  private(set) var userspaceExits = 0
  private(set) var exitsPerSecSum = 0.0
  private(set) var statSums: [Double]
  private(set) var latency = RunLatency()
  private(set) var verification = Verification(entries: 0, lost: 0, outOfOrder: 0)
  /// Every drain of every kept run against its grant, folded.
  private(set) var grants = GrantTally(initial: nil)
  /// The first kept run's exit problem, naming the run.
  private(set) var exitProblem: String?
  /// From the last kept run.
  private(set) var observedVCPUCPUs: [Int] = []
  private(set) var observedDrainCPU: Int?
  /// The least share of its CPU the thread drain had in any kept run.
  private(set) var leastDrainerCPUShare: Double?

  init(statCount: Int) { statSums = Array(repeating: 0, count: statCount) }

  mutating func add(_ run: RunMeasurement) {
    runs += 1
    wallNs.append(run.wallNs)
    userspaceExits += run.userspaceExits
    exitsPerSecSum += Double(run.userspaceExits) / (max(Double(run.wallNs), 1) / 1e9)
    for slot in statSums.indices where slot < run.statDeltas.count { statSums[slot] += Double(run.statDeltas[slot]) }
    latency.add(run.latency)
    verification = verification.adding(run.verification)
    observedVCPUCPUs = run.observedVCPUCPUs
    observedDrainCPU = run.observedDrainCPU
    if let share = run.drainerCPUShare { leastDrainerCPUShare = min(leastDrainerCPUShare ?? share, share) }
    if exitProblem == nil, let problem = run.exitProblem { exitProblem = "run \(runs): " + problem }
    grants.merge(run.grants)
  }
}
