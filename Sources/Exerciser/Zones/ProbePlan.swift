import Guest
import KVM
import Platform

/// One guest write target: an MMIO address or a port.
public struct Probe: Hashable, Sendable, CustomStringConvertible {
  public var address: UInt64
  public var space: IOSpace

  public init(address: UInt64, space: IOSpace = .mmio) {
    self.address = address
    self.space = space
  }

  /// `0x…` or `0x…:pio`, the form `ZoneSpec.probe` reads.
  public var description: String {
    NumberFormat.hex(address) + (space == .pio ? ":pio" : "")
  }
}

/// A default probe that was left out, with why.
public struct SkippedProbe: Hashable, Sendable {
  public var probe: Probe
  public var reason: String
}

/// Which probes a zone session writes and what data each write carries.
public enum ProbePlan {
  /// Why a write of `width` bytes at `probe` cannot reach a device from a cmmio guest, or nil
  /// when it can: MMIO must lie above guest RAM and below 4 GiB (what an unreal-mode store
  /// addresses), a port write must end at or below port 0x10000.
  public static func unreachability(of probe: Probe, width: UInt32) -> String? {
    let length = UInt64(width)
    let write = (width == 8 ? "an " : "a ") + "\(width)-byte"
    switch probe.space {
    case .mmio:
      if probe.address < UInt64(GuestLayout.ramSize) {
        return "it is inside guest RAM (0x0-\(NumberFormat.hex(GuestLayout.ramSize - 1))), where a store never "
          + "reaches a device"
      }
      guard probe.address <= 0x1_0000_0000 - length else {
        return "\(write) write there does not end at or below 4 GiB, the most a real-mode guest store addresses"
      }
    case .pio:
      guard probe.address <= 0x1_0000 - length else {
        return "\(write) port write there does not end at or below port 0x10000"
      }
    }
    // Defer to the guest layer's own rule too, now that the sum cannot overflow.
    return GuestLayout.isReachable(probe.address, length: length, space: probe.space)
      ? nil : "the guest cannot write there"
  }

  /// The default probes of `zones`, in order: for each zone the first `width` bytes, the last
  /// `width` bytes and the `width` bytes just past it. Exact repeats are written once; probes
  /// no guest write can reach are left out and listed with why.
  public static func defaults(for zones: [CoalescedZone], width: UInt32) -> (
    probes: [Probe], skipped: [SkippedProbe]
  ) {
    var probes: [Probe] = []
    var skipped: [SkippedProbe] = []
    var seen = Set<Probe>()
    func add(_ address: UInt64, _ space: IOSpace) {
      let probe = Probe(address: address, space: space)
      guard seen.insert(probe).inserted else { return }
      if let why = unreachability(of: probe, width: width) {
        skipped.append(SkippedProbe(probe: probe, reason: why))
      } else {
        probes.append(probe)
      }
    }
    // `end` exists: the parser refuses zones whose end would pass 2^64.
    for zone in zones {
      guard let end = zone.end else { continue }
      add(zone.address, zone.space)
      if UInt64(zone.size) >= UInt64(width) { add(end - UInt64(width), zone.space) }
      add(end, zone.space)
    }
    return (probes, skipped)
  }

  /// The data probe `index` (from 0) writes: byte 0 is 1…255, repeating only after 255 probes,
  /// and each further byte differs from byte 0, so every byte of a wider write is checked.
  public static func data(forProbe index: Int, width: UInt32) -> UInt64 {
    let base = UInt64(index % 255 + 1)
    var value: UInt64 = 0
    for byte in 0..<UInt64(width) {
      value |= ((base &+ byte &* 0x21) & 0xFF) << (byte * 8)
    }
    return value
  }

  /// The writes for `probes`, in order: `width` bytes each, distinct data.
  public static func writes(for probes: [Probe], width: UInt32) -> [ExpectedWrite] {
    probes.enumerated().map { index, probe in
      ExpectedWrite(
        space: probe.space, address: probe.address, length: width, data: data(forProbe: index, width: width))
    }
  }
}
