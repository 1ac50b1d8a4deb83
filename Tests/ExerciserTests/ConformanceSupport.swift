import Exerciser
import Guest
import KVM
import Testing

/// A ring page the test owns, written the way `coalesced_mmio_write` writes the
/// kernel's: the entry at `last`, then `last` published one further. The code under
/// test reads it through `CoalescedRing(page:pageSize:)`, as it reads the real one.
final class TestRingPage {
  let pageSize = 4096
  let page: UnsafeMutableRawPointer

  init() {
    page = .allocate(byteCount: pageSize, alignment: pageSize)
    page.initializeMemory(as: UInt8.self, repeating: 0, count: pageSize)
  }

  deinit { page.deallocate() }

  var ring: CoalescedRing { CoalescedRing(page: page, pageSize: pageSize) }
  var capacity: UInt32 { ring.capacity }

  var first: UInt32 {
    get { page.load(fromByteOffset: 0, as: UInt32.self) }
    set { page.storeBytes(of: newValue, toByteOffset: 0, as: UInt32.self) }
  }

  var last: UInt32 {
    get { page.load(fromByteOffset: 4, as: UInt32.self) }
    set { page.storeBytes(of: newValue, toByteOffset: 4, as: UInt32.self) }
  }

  /// Fills `struct kvm_coalesced_mmio` at `slot`. Bytes of `data` past `length`
  /// are left stale (0xEE), as the kernel leaves them.
  func setEntry(_ slot: UInt32, address: UInt64, length: UInt32, pio: UInt32, data: UInt64) {
    let base = page.advanced(by: 8 + Int(slot) * 24)
    base.storeBytes(of: address, toByteOffset: 0, as: UInt64.self)
    base.storeBytes(of: length, toByteOffset: 8, as: UInt32.self)
    base.storeBytes(of: pio, toByteOffset: 12, as: UInt32.self)
    let stale: UInt64 = 0xEEEE_EEEE_EEEE_EEEE
    let kept = length >= 8 ? data : (data & ((1 << (UInt64(length) * 8)) - 1)) | (stale << (UInt64(length) * 8))
    base.storeBytes(of: kept, toByteOffset: 16, as: UInt64.self)
  }

  /// The kernel's append: the entry at `last`, then `last = (last + 1) % MAX`.
  func append(_ write: ExpectedWrite) {
    setEntry(last, address: write.address, length: write.length, pio: write.space.pioFlag, data: write.data)
    last = (last + 1) % capacity
  }
}

/// How a kernel decides the ring has room for one more entry.
enum HasRoomRule: CaseIterable {
  /// Mainline since 6.12 (commit 92f6d4130497): full when `(last + 1) % MAX == first`.
  case mainline
  /// Before 6.12: `avail = (first - last - 1) % MAX` in unsigned 32-bit arithmetic,
  /// full when 0, which wraps wrongly while `last` is ahead of `first`.
  case pre612
  /// A made-up kernel that keeps two slots empty.
  case oneShort

  func hasRoom(first: UInt32, last: UInt32, capacity: UInt32) -> Bool {
    switch self {
    case .mainline: return (last + 1) % capacity != first
    case .pre612: return (first &- last &- 1) % capacity != 0
    case .oneShort: return (last + 2) % capacity != first && (last + 1) % capacity != first
    }
  }
}

/// Observations as a kernel following `rule` would produce them for the ring
/// sweep: the guest loop's writes go to the test page until the rule refuses one,
/// which exits; after unregister every later write exits.
func modelSweep(_ space: IOSpace, rule: HasRoomRule = .mainline, page: TestRingPage = TestRingPage())
  -> Conformance
  .RingSweep
{
  let capacity = page.capacity
  let writes = modelWrites(space, capacity: capacity)
  var starts: [Conformance.RingFillObservation] = []
  for start in 0..<capacity {
    starts.append(modelStart(start, writes: writes, rule: rule, page: page))
  }
  return Conformance.RingSweep(space: space, capacity: capacity, writes: writes, starts: starts)
}

/// The loop's writes: capacity + 1 four-byte writes carrying N, N − 1, …, 1.
func modelWrites(_ space: IOSpace, capacity: UInt32) -> [ExpectedWrite] {
  let workload = GuestWorkload(target: .device(space, Conformance.deviceAddress(space)), writes: capacity + 1)
  return (0..<workload.writes).map {
    ExpectedWrite(space: space, address: workload.address, length: 4, data: workload.data(ofWrite: $0))
  }
}

/// One start index under `rule`; `corrupt` may change the page after the fill,
/// before the snapshot is taken (a wrong ring).
func modelStart(
  _ start: UInt32, writes: [ExpectedWrite], rule: HasRoomRule, page: TestRingPage,
  corrupt: (TestRingPage) -> Void = { _ in }
) -> Conformance.RingFillObservation {
  page.first = start
  page.last = start
  var next = 0
  while next < writes.count, rule.hasRoom(first: page.first, last: page.last, capacity: page.capacity) {
    page.append(writes[next])
    next += 1
  }
  corrupt(page)
  let exit: Conformance.Event = next < writes.count ? .init(writes[next], .exit) : .halt
  let snapshot = try! Conformance.RingSnapshot(page.ring)
  let after = next + 1 < writes.count ? writes[(next + 1)...].map { Conformance.Event($0, .exit) } + [.halt] : [.halt]
  return Conformance.RingFillObservation(
    startIndex: start, exit: exit, ring: snapshot, unregister: .ok, afterUnregister: after)
}

/// What a conforming kernel shows for a probe plan: its expected events, every zone accepted.
func conformingObservation(_ plan: Conformance.ProbePlan) -> Conformance.ProbeObservation {
  Conformance.ProbeObservation(registrations: plan.zones.map { ($0, .ok) }, events: plan.expected)
}
