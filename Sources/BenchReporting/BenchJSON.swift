import Benchmarking
import KVM
import Reporting

/// The `cmmio bench` JSON document (docs/cli.md, schema `cmmio.bench/1`).
///
/// Additions to the documented keys: `host.ring_capacity`, `samples` in each summary
/// (the kept runs' values in run order), `results[].exits_per_sec`,
/// `results[].observed_vcpu_cpus` and `observed_drain_cpu` (where the threads really
/// ran), `comparisons[].ratio_to_floor`, `cost_models` and `headline`; `ring` (what the
/// probe measured of the ring and the has-room arithmetic it shows) and `results[].exit_check`
/// (exits per write against the ring model, the size achieved where it is not K). Figures
/// that were not measured are `null`, never a made-up number.
public func benchJSON(_ report: BenchReport) -> JSONValue {
  var host = report.host.reportJSON
  if case .object(var members) = host {
    members.append(("ring_capacity", .integer(report.ringCapacity)))
    host = .object(members)
  }
  return .object([
    ("schema", .string("cmmio.bench/1")),
    ("host", host),
    ("provenance", report.provenance?.reportJSON ?? .null),
    ("config", configurationJSON(report.configuration, ringCapacity: report.ringCapacity)),
    ("ring", ringJSON(report.ring)),
    ("results", .array(report.results.map(resultJSON))),
    (
      "comparisons",
      .array(
        report.comparisons.map { comparison in
          .object(
            keyMembers(comparison.key) + [
              ("speedup_vs_plain", .double(comparison.speedupVsPlain)),
              ("ratio_to_floor", comparison.ratioToFloor.map { .double($0) } ?? .null),
            ])
        })
    ),
    (
      "cost_models",
      .array(
        report.costModels.map { model in
          var configuration = keyMembers(model.key)
          configuration.removeAll { $0.0 == "ring_size" }
          return .object([
            ("configuration", .object(configuration)),
            ("coalesced_ns", .double(model.coalescedNs)),
            ("exit_ns", .double(model.exitNs)),
            ("round_trip_ns", .double(model.roundTripNs)),
            ("r_squared", .double(model.rSquared)),
            ("points", .integer(model.points)),
          ])
        })
    ),
    ("warnings", warningsJSON(report)),
    ("headline", .string(benchHeadline(report))),
    ("interrupted", .bool(report.interrupted)),
  ])
}

/// Every option of the invocation. An empty ring-size list means the full ring, so it
/// is written as the measured capacity: what was actually asked of the kernel.
func configurationJSON(_ configuration: BenchConfiguration, ringCapacity: Int) -> JSONValue {
  var ringSizes = configuration.ringSizes.map { JSONValue.integer($0) }
  if ringSizes.isEmpty, ringCapacity > 0 { ringSizes = [.integer(ringCapacity)] }
  func cpus(_ list: CPUList?) -> JSONValue { list.map { .array($0.cpus.map { .integer($0) }) } ?? .null }
  return .object([
    ("modes", .array(configuration.modes.map { .string($0.rawValue) })),
    ("space", .string(configuration.space.rawValue)),
    ("writes", .integer(configuration.writes)),
    ("runs", .integer(configuration.runs)),
    ("warmup", .integer(configuration.warmup)),
    ("ring_sizes", .array(ringSizes)),
    ("flush_every", .integer(configuration.flushEvery)),
    ("drain", .string(configuration.drain.rawValue)),
    ("vcpus", .integer(configuration.vcpus)),
    ("vcpu_cpus", cpus(configuration.vcpuCPUs)),
    ("drain_cpus", cpus(configuration.drainCPUs)),
    ("numa_node", configuration.numaNode.map { .integer($0) } ?? .null),
    ("verify", .bool(configuration.verify)),
    ("timeout", configuration.timeout.map { .double($0) } ?? .null),
  ])
}

/// The configuration of one result. `ring_size` and `drain` are null for `ram` and
/// `plain`, which have no ring.
func keyMembers(_ key: CaseKey) -> [(String, JSONValue)] {
  [
    ("mode", .string(key.mode.rawValue)),
    ("space", .string(key.space.rawValue)),
    ("ring_size", key.ringSize.map { .integer($0) } ?? .null),
    ("flush_every", .integer(key.flushEvery)),
    ("drain", key.mode.usesRing ? .string(key.drain.rawValue) : .null),
    ("vcpus", .integer(key.vcpus)),
    ("vcpu_cpu", key.vcpuCPU.map { .integer($0) } ?? .null),
    ("drain_cpu", key.drainCPU.map { .integer($0) } ?? .null),
    ("numa_node", key.numaNode.map { .integer($0) } ?? .null),
  ]
}

/// The probe's fills and what they show; null without a ring.
func ringJSON(_ ring: RingFill?) -> JSONValue {
  guard let ring else { return .null }
  let arithmetic = ring.arithmetic
  return .object([
    ("slots", .integer(ring.slots)),
    ("usable", .integer(ring.usable)),
    (
      "fills",
      .array(zip(ring.starts, ring.counts).map { .object([("start_index", .integer($0)), ("entries", .integer($1))]) })
    ),
    ("has_room_arithmetic", arithmetic.map { .string($0.rawValue) } ?? .null),
    ("half_ring_bug", arithmetic.map { .bool($0 == .pre612) } ?? .null),
    ("fix_commit", arithmetic == .pre612 ? .string(HasRoomArithmetic.fixCommit) : .null),
    (
      "largest_exact_ring_size",
      arithmetic.map { .integer(RingGrantTable.shared($0, slots: ring.slots).largestExactEverywhere) } ?? .null
    ),
    ("summary", .string(ring.summary)),
  ])
}

/// Exits per write against the ring model (`ExitCheck`); null for `ram`.
func exitCheckJSON(_ result: BenchResult) -> JSONValue {
  guard let check = result.exitCheck else { return .null }
  return .object([
    ("promise", .string(check.promise.rawValue)),
    ("model_exits_per_write", .double(check.modelExitsPerWrite)),
    ("has_room_arithmetic", check.arithmetic.map { .string($0.rawValue) } ?? .null),
    ("exact_ring_size", .bool(check.isExact(ringSize: result.key.ringSize))),
    ("achieved_ring_size", check.achievedRingSize.map { .double($0) } ?? .null),
    ("least_grant", check.leastGrant.map { .integer($0) } ?? .null),
    ("greatest_grant", check.greatestGrant.map { .integer($0) } ?? .null),
    ("drains", .integer(check.drains)),
    ("broken_grants", .integer(check.brokenGrants)),
    ("passed", .bool(check.passed)),
    ("problem", check.problem.map { .string($0) } ?? .null),
  ])
}

func summaryJSON(_ summary: Summary) -> JSONValue {
  .object([
    ("mean", .double(summary.mean)),
    ("stddev", .double(summary.stddev)),
    ("median", .double(summary.median)),
    ("min", .double(summary.min)),
    ("max", .double(summary.max)),
    ("samples", .array(summary.samples.map { .double($0) })),
  ])
}

func resultJSON(_ result: BenchResult) -> JSONValue {
  let latency = result.kvmRunNs
  let verification: JSONValue =
    result.verification.map {
      .object(
        [
          ("entries", .integer($0.entries)),
          ("lost", .integer($0.lost)),
          ("out_of_order", .integer($0.outOfOrder)),
        ] + ($0.eventfdCount.map { [("eventfd_count", .integer($0))] } ?? []))
    } ?? .null
  return .object(
    keyMembers(result.key) + [
      ("writes", .integer(result.writes)),
      ("runs", .integer(result.runs)),
      ("writes_per_sec", summaryJSON(result.writesPerSec)),
      ("ns_per_write", summaryJSON(result.nsPerWrite)),
      ("userspace_exits_per_write", .double(result.userspaceExitsPerWrite)),
      ("exits_per_sec", .double(result.exitsPerSec)),
      (
        "kvm_run_ns",
        .object(percentileJSON(latency))
      ),
      ("kernel_stats", .object(result.kernelStats.map { ($0.name, .double($0.value)) })),
      ("verification", verification),
      ("exit_check", exitCheckJSON(result)),
      ("observed_vcpu_cpus", .array(result.observedVCPUCPUs.map { .integer($0) })),
      ("observed_drain_cpu", result.observedDrainCPU.map { .integer($0) } ?? .null),
      ("drainer_cpu_share", result.drainerCPUShare.map { .double($0) } ?? .null),
      ("drain_delay_ns", drainDelayJSON(result.drainDelay)),
      ("drain_delay_reason", drainDelayReason(result)),
      ("drain_delay_verification", drainDelayVerificationJSON(result.drainDelay)),
    ])
}

/// `p50`, `p90`, `p99`, `p999` and `max` of a latency summary, in ns: the keys of
/// `kvm_run_ns` and of `drain_delay_ns` alike.
func percentileJSON(_ summary: LatencySummary) -> [(String, JSONValue)] {
  zip(LatencySummary.keys, summary.values).map { ($0, .integer($1)) }
}
