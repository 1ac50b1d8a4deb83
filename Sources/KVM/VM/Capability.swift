import CKVM

/// The `KVM_CAP_*` numbers cmmio asks `KVM_CHECK_EXTENSION` about.
public enum Capability: Int32, Sendable, CaseIterable {
  /// `KVM_CAP_NR_VCPUS` (9): the recommended most vCPUs per VM.
  case recommendedVCPUs = 9
  /// `KVM_CAP_COALESCED_MMIO` (15): answers the ring's page offset in the vCPU mapping, 0 if absent.
  case coalescedMMIO = 15
  /// `KVM_CAP_IOEVENTFD` (36).
  case ioeventfd = 36
  /// `KVM_CAP_MAX_VCPUS` (66): the most vCPUs a VM may have; 0 on kernels that predate it.
  case maxVCPUs = 66
  /// `KVM_CAP_COALESCED_PIO` (162).
  case coalescedPIO = 162
  /// `KVM_CAP_BINARY_STATS_FD` (203).
  case binaryStats = 203

  /// The kernel's name for the capability.
  public var kernelName: String {
    switch self {
    case .recommendedVCPUs: "KVM_CAP_NR_VCPUS"
    case .coalescedMMIO: "KVM_CAP_COALESCED_MMIO"
    case .ioeventfd: "KVM_CAP_IOEVENTFD"
    case .maxVCPUs: "KVM_CAP_MAX_VCPUS"
    case .coalescedPIO: "KVM_CAP_COALESCED_PIO"
    case .binaryStats: "KVM_CAP_BINARY_STATS_FD"
    }
  }
}
