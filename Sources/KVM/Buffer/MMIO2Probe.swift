/// Whether the running kernel has the proposed v2 coalesced MMIO API, found by
/// trying it rather than by its capability number.
///
/// The third posting numbers `KVM_CAP_COALESCED_MMIO2` 239, which mainline gave
/// to `KVM_CAP_ARM_WRITABLE_IMP_ID_REGS`: a yes from `KVM_CHECK_EXTENSION(239)`
/// means nothing here. Instead `KVM_CREATE_COALESCED_MMIO_BUFFER` (0xAED6) is
/// called on a VM fd: `ENOTTY` or `EINVAL` means absent; a new fd means present
/// only if `/proc/self/fd/N` reads `anon_inode:coalesced_mmio_buf`.
public struct MMIO2Probe: Sendable, Equatable {
  /// The file a real v2 buffer fd links to.
  public static let anonInodeName = "anon_inode:coalesced_mmio_buf"

  public enum Outcome: Sendable, Equatable {
    /// The kernel refused the ioctl: the API is absent.
    case absent(SystemCallError)
    /// A buffer fd came back and is what the posting describes.
    case present
    /// An fd came back but it is something else (closed at once).
    case unexpectedFile(target: String)
  }

  public var outcome: Outcome

  /// Whether the v2 API is there.
  public var supported: Bool { outcome == .present }

  /// What was tried, in one phrase.
  public static let attempt = "KVM_CREATE_COALESCED_MMIO_BUFFER (0xAED6) on a VM fd"

  /// What came back, in one phrase.
  public var answer: String {
    switch outcome {
    case .absent(let error): "\(error.errnoName) (\(error.errnoText))"
    case .present: "a buffer fd (\(Self.anonInodeName))"
    case .unexpectedFile(let target): "an fd that is \(target), not \(Self.anonInodeName)"
    }
  }

  /// The errno name the kernel answered with, if it refused.
  public var errnoName: String? {
    if case .absent(let error) = outcome { return error.errnoName }
    return nil
  }

  /// Runs the probe on `vm` through `CoalescedBuffer.create` (the same ioctl and
  /// `/proc/self/fd` check `create-buffer` makes), closing any buffer it gets. Every
  /// refusal, `ENOTTY`/`EINVAL` or another errno, reports as absent with its errno.
  public static func run(on vm: VirtualMachine) -> MMIO2Probe {
    do {
      try CoalescedBuffer.create(KernelBufferOperations(vm: vm)).close()
      return MMIO2Probe(outcome: .present)
    } catch {
      switch error {
      case .absent(let refusal), .failed(let refusal): return MMIO2Probe(outcome: .absent(refusal))
      case .notABuffer(let target): return MMIO2Probe(outcome: .unexpectedFile(target: target))
      }
    }
  }
}
