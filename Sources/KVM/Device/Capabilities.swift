/// What the running kernel offers for coalesced I/O: the model behind `cmmio check-cap`.
public struct Capabilities: Sendable, Equatable {
  public var apiVersion: Int32
  public var host: Host
  /// `KVM_CHECK_EXTENSION(KVM_CAP_COALESCED_MMIO)` on the VM fd: the ring's page offset, 0 if absent.
  public var ringPageOffset: Int
  /// `KVM_COALESCED_MMIO_MAX` for this page size.
  public var ringEntries: Int
  public var coalescedPIO: Bool
  public var binaryStats: Bool
  public var ioeventfd: Bool
  public var mmio2: MMIO2Probe

  public var coalescedMMIO: Bool { ringPageOffset > 0 }
  /// One slot always stays empty.
  public var usableEntries: Int { coalescedMMIO ? ringEntries - 1 : 0 }

  /// The features a caller can require, each under a stable name (the raw value).
  public enum Feature: String, Sendable, CaseIterable {
    case coalescedMMIO = "coalesced-mmio"
    case coalescedPIO = "coalesced-pio"
    case coalescedMMIO2 = "coalesced-mmio2"
    case binaryStats = "binary-stats"
    case ioeventfd = "ioeventfd"
  }

  public func supports(_ feature: Feature) -> Bool {
    switch feature {
    case .coalescedMMIO: coalescedMMIO
    case .coalescedPIO: coalescedPIO
    case .coalescedMMIO2: mmio2.supported
    case .binaryStats: binaryStats
    case .ioeventfd: ioeventfd
    }
  }

  /// Creates a VM on `device` and asks it (capabilities can differ per VM type).
  public static func probe(_ device: KVMDevice) throws(SystemCallError) -> Capabilities {
    let vm = try device.createVM()
    return Capabilities(
      apiVersion: device.apiVersion,
      host: Host.current(),
      ringPageOffset: try vm.ringPageOffset(),
      ringEntries: Int(CoalescedRing.capacity(pageSize: Host.pageSize)),
      coalescedPIO: try vm.checkExtension(.coalescedPIO) > 0,
      binaryStats: try vm.checkExtension(.binaryStats) > 0,
      ioeventfd: try vm.checkExtension(.ioeventfd) > 0,
      mmio2: MMIO2Probe.run(on: vm))
  }
}
