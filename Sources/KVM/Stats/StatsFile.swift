import Platform

/// The binary statistics file of a VM or vCPU (`KVM_GET_STATS_FD`).
///
/// Layout (Documentation/virt/kvm/api.rst, "KVM_GET_STATS_FD"): a
/// `struct kvm_stats_header` { flags, name_size, num_desc, id_offset,
/// desc_offset, data_offset }, then `num_desc` descriptors of
/// `struct kvm_stats_desc` { flags, exponent, size, offset, bucket_size,
/// name[name_size] }, then the data block of `__u64` values. Descriptors are
/// read once; each `snapshot()` is one `pread` of the data block.
public final class StatsFile: @unchecked Sendable {
  /// One counter's descriptor.
  public struct Descriptor: Sendable, Equatable {
    public var name: String
    /// `KVM_STATS_TYPE_*` (bits 0–3 of flags): 0 cumulative, 1 instant, 2 peak, …
    public var type: UInt32
    /// `KVM_STATS_UNIT_*` (bits 4–7): 0 none, 1 bytes, 2 seconds, 3 cycles, 4 boolean.
    public var unit: UInt32
    /// Number of `__u64` values (1 for plain counters, more for histograms).
    public var count: Int
    /// Offset of the first value from the start of the data block.
    public var offset: Int
  }

  public let descriptor: OwnedDescriptor
  /// The file's id string, such as `kvm-1234/vcpu-0`.
  public let identifier: String
  public let descriptors: [Descriptor]
  private let dataOffset: Int
  private let dataSize: Int
  private let index: [String: Int]

  init(descriptor: OwnedDescriptor) throws(SystemCallError) {
    self.descriptor = descriptor
    let fd = descriptor.rawValue
    let header = try Self.read(fd, offset: 0, count: 24, what: "read KVM stats header")
    func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
      UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }
    let nameSize = Int(u32(header, 4))
    let count = Int(u32(header, 8))
    let idOffset = Int(u32(header, 12))
    let descOffset = Int(u32(header, 16))
    dataOffset = Int(u32(header, 20))

    let id = try Self.read(fd, offset: idOffset, count: nameSize, what: "read KVM stats id")
    identifier = String(decoding: id.prefix { $0 != 0 }, as: UTF8.self)

    let descSize = 16 + nameSize
    let raw = try Self.read(fd, offset: descOffset, count: descSize * count, what: "read KVM stats descriptors")
    var list: [Descriptor] = []
    var lookup: [String: Int] = [:]
    var end = 0
    for i in 0..<count {
      let base = i * descSize
      let flags = u32(raw, base)
      let size = Int(UInt16(raw[base + 6]) | UInt16(raw[base + 7]) << 8)
      let offset = Int(u32(raw, base + 8))
      let name = String(decoding: raw[(base + 16)..<(base + descSize)].prefix { $0 != 0 }, as: UTF8.self)
      lookup[name] = list.count
      list.append(Descriptor(name: name, type: flags & 0xF, unit: (flags >> 4) & 0xF, count: size, offset: offset))
      end = max(end, offset + size * 8)
    }
    descriptors = list
    index = lookup
    dataSize = end
  }

  /// The names of every counter, in the kernel's order.
  public var names: [String] { descriptors.map(\.name) }

  /// Reads every counter's first value now (one `pread` of the data block).
  public func snapshot() throws(SystemCallError) -> StatsSnapshot {
    let data = try Self.read(descriptor.rawValue, offset: dataOffset, count: dataSize, what: "read KVM stats data")
    var values: [UInt64] = []
    values.reserveCapacity(descriptors.count)
    for desc in descriptors {
      let value = data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: desc.offset, as: UInt64.self) }
      values.append(UInt64(littleEndian: value))
    }
    return StatsSnapshot(index: index, values: values)
  }

  private static func read(_ fd: Int32, offset: Int, count: Int, what: String) throws(SystemCallError) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    var done = 0
    while done < count {
      let got = bytes.withUnsafeMutableBytes { buffer in
        pread(fd, buffer.baseAddress!.advanced(by: done), count - done, off_t(offset + done))
      }
      if got < 0 {
        if errno == EINTR { continue }
        throw SystemCallError(operation: what, code: errno)
      }
      if got == 0 { throw SystemCallError(operation: what + " (short file)", code: EIO) }
      done += got
    }
    return bytes
  }
}

/// The counters' values at one moment.
public struct StatsSnapshot: Sendable {
  let index: [String: Int]
  public let values: [UInt64]

  /// The named counter's value, or nil if this kernel does not expose it.
  public subscript(name: String) -> UInt64? {
    index[name].map { values[$0] }
  }

  /// `self − earlier` for every counter (wrapping, as counters are unsigned).
  public func delta(since earlier: StatsSnapshot) -> [String: UInt64] {
    var result: [String: UInt64] = [:]
    for (name, i) in index where i < earlier.values.count {
      result[name] = values[i] &- earlier.values[i]
    }
    return result
  }
}
