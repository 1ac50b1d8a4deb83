import ArgumentParser
import Exerciser
import KVM

/// `cmmio create-buffer`: the proposed v2 API's whole flow, on a kernel that has it.
struct CreateBufferCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "create-buffer",
    abstract: "Exercise the proposed v2 coalesced MMIO buffer API (an unmerged 2024 proposal).",
    discussion: """
      Creates N buffer fds (KVM_CREATE_COALESCED_MMIO_BUFFER), maps each, checks that a second \
      mapping gives EBUSY and that empty rings do not poll readable, registers the zones on the \
      buffers round-robin (KVM_REGISTER_COALESCED_MMIO2); with --probe, writes from a guest and \
      checks where each write landed and POLLIN; then checks ENOBUFS on an unmapped buffer, \
      closes every buffer and (with --probe) that every write now exits. On a kernel without \
      the API (every released kernel), exit 3 with what the kernel answered. The whole flow \
      runs on the project's patched 6.12 kernel (docs/v2-kernel.md).

      EXAMPLES:
        cmmio create-buffer
        cmmio create-buffer --buffers 4 --probe
        cmmio create-buffer --buffers 3 --zone 0x100000:0x1000 --zone 0x80:8:pio --probe --format json
      """
  )

  @OptionGroup var common: CommonOptions

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp("How many buffer fds to create (1-\(BufferExercise.maximumBuffers)).", valueName: "N"))
  var buffers: Int = 1

  @Option(
    name: .customLong("zone"),
    help: ArgumentHelp(
      "A zone to register, round-robin over the buffers: ADDR:SIZE[:pio]; repeatable (default: one 4 KiB MMIO "
        + "zone per buffer from 0x100000, 8 KiB apart).",
      valueName: "ADDR:SIZE[:pio]"),
    transform: parseZone)
  var zones: [CoalescedZone] = []

  @Flag(help: "Write the first, last and just-past byte of each zone from a guest and check where each landed.")
  var probe = false

  func validate() throws {
    try common.report.refuseMetrics("create-buffer")
    guard buffers >= 1, buffers <= BufferExercise.maximumBuffers else {
      throw ValidationError("--buffers must be 1-\(BufferExercise.maximumBuffers), not \(buffers)")
    }
  }

  func run() throws {
    let outputs = try common.outputs()
    let device = try common.openDevice()
    let exercise = BufferExercise(bufferCount: buffers, zones: zones, probe: probe)
    let result = try mappingFailures { try exercise.run(device: device) }
    try outputs.emit(BufferReport(devicePath: common.devicePath, result: result).rendered(common.format))
    if !result.passed {
      let failed =
        result.checks.filter { !$0.passed }.map(\.name) + (result.problems.isEmpty ? [] : ["probe accounting"])
      throw CLIFailure(.failure, "v2 buffer checks failed: \(failed.joined(separator: ", "))")
    }
  }
}
