import Guest
import KVM

extension Conformance {
  /// Observation: real guests on the real kernel, turned into the plain values
  /// `Judge` rules on. Nothing here decides pass or fail.
  public enum Gather {
    /// `KVM_RUN` calls one trace may make before the guest is declared stuck.
    static let exitLimit = 4096

    /// The sweep of the kernel selftest, one VM for the space: for each start index
    /// the ring is reset to `first = last = start` (no vCPU runs), an 8-byte zone is
    /// registered, and a loop writing capacity + 1 times is started from the top.
    /// At its first exit the ring is read without draining; then it is drained, the
    /// zone unregistered, and the guest run to `hlt`.
    public static func ringSweep(_ device: KVMDevice, space: IOSpace) throws -> RingSweep {
      let machine = try GuestMachine(device: device)
      try requireCoalescing(machine.vm, space: space)
      let capacity = CoalescedRing.capacity(pageSize: Host.pageSize)
      let address = deviceAddress(space)
      let zone = CoalescedZone(address: address, size: 8, space: space)
      let workload = GuestWorkload(target: .device(space, address), writes: capacity + 1)
      let program = workload.program()
      machine.load(program)
      let vcpu = try machine.addVCPU(entry: program.origin)
      guard let ring = vcpu.ring, ring.capacity == capacity else {
        throw Unavailable("the vCPU mapping has no coalesced ring page of \(capacity) entries")
      }
      let writes = (0..<workload.writes).map {
        ExpectedWrite(
          space: space, address: address, length: GuestWorkload.writeLength, data: workload.data(ofWrite: $0))
      }
      var starts: [RingFillObservation] = []
      starts.reserveCapacity(Int(capacity))
      for start in 0..<capacity {
        try machine.restart(vcpu, with: program)
        ring.reset(to: start)
        try machine.vm.register(zone)
        let exit = try runToExit(vcpu)
        let snapshot = try RingSnapshot(ring)
        // Drain (the entries are in the snapshot), so a zone left registered would coalesce again.
        ring.storeFirst(snapshot.last)
        let unregister = Outcome { () throws(SystemCallError) in try machine.vm.unregister(zone) }
        var after: [Event] = []
        if case .writeExit = exit { after = try trace(vcpu, ring: ring) }
        starts.append(
          RingFillObservation(
            startIndex: start, exit: exit, ring: snapshot, unregister: unregister, afterUnregister: after))
      }
      return RingSweep(space: space, capacity: capacity, writes: writes, starts: starts)
    }

    /// Registers the plan's zones on a new VM and runs its program to `hlt`.
    public static func probes(_ device: KVMDevice, _ plan: ProbePlan) throws -> ProbeObservation {
      let machine = try GuestMachine(device: device)
      for space in Set(plan.zones.map(\.space)) { try requireCoalescing(machine.vm, space: space) }
      let registrations = plan.zones.map { zone in
        (zone, Outcome { () throws(SystemCallError) in try machine.vm.register(zone) })
      }
      machine.load(plan.program)
      let vcpu = try machine.addVCPU(entry: plan.program.origin)
      guard let ring = vcpu.ring else { throw Unavailable("the vCPU mapping has no coalesced ring page") }
      ring.reset(to: 0)
      return ProbeObservation(registrations: registrations, events: try trace(vcpu, ring: ring))
    }

    /// Registers the space's unregister zone, probes its ends, unregisters the
    /// range `relation` describes, and probes again.
    public static func unregister(_ device: KVMDevice, space: IOSpace, relation: RangeRelation) throws
      -> UnregisterObservation
    {
      let machine = try GuestMachine(device: device)
      try requireCoalescing(machine.vm, space: space)
      let zone = unregisterZone(space)
      let range = relation.range(for: zone)
      let probes = unregisterProbes(zone)
      var program = GuestProgram()
      for probe in probes { program.write(probe.space, address: probe.address, length: probe.length, data: probe.data) }
      program.halt()
      machine.load(program)
      let vcpu = try machine.addVCPU(entry: program.origin)
      guard let ring = vcpu.ring else { throw Unavailable("the vCPU mapping has no coalesced ring page") }
      ring.reset(to: 0)
      let register = Outcome { () throws(SystemCallError) in try machine.vm.register(zone) }
      let before = try trace(vcpu, ring: ring)
      let unregister = Outcome { () throws(SystemCallError) in try machine.vm.unregister(range) }
      try machine.restart(vcpu, with: program)
      let after = try trace(vcpu, ring: ring)
      return UnregisterObservation(
        relation: relation, zone: zone, range: range, probes: probes, register: register, before: before,
        unregister: unregister, after: after)
    }

    /// `KVM_REGISTER_COALESCED_MMIO` of an 8-byte zone with each `pio` value in `flags`.
    public static func pioFlags(_ device: KVMDevice, flags: [UInt32] = Conformance.pioFlags) throws
      -> PIOFlagObservation
    {
      let vm = try device.createVM()
      let attempts = flags.enumerated().map { index, flag in
        // A distinct address each time, so an accepted zone cannot collide with the next attempt.
        let address = GuestLayout.mmioDevice + UInt64(index) * 0x10
        return (
          flag, Outcome { () throws(SystemCallError) in try vm.registerRaw(address: address, size: 8, pioFlag: flag) }
        )
      }
      return PIOFlagObservation(attempts: attempts)
    }

    /// Runs the guest until it halts, draining the ring before each exit so the
    /// coalesced writes appear before the access that exited, as userspace must.
    public static func trace(_ vcpu: VCPU, ring: CoalescedRing) throws -> [Event] {
      var events: [Event] = []
      for _ in 0..<exitLimit {
        let exit = try runToExit(vcpu)
        let snapshot = try RingSnapshot(ring)
        events += snapshot.entries.map { .coalesced($0) }
        ring.storeFirst(snapshot.last)
        events.append(exit)
        switch exit {
        case .halt, .unexpected: return events
        default: continue
        }
      }
      throw Unavailable("the guest did not halt within \(exitLimit) exits")
    }

    /// `KVM_RUN` until it returns an exit. An `EINTR` is retried unless SIGINT or
    /// SIGTERM arrived (`Interruption`), which stops the observation with `Interrupted`.
    ///
    /// Reads are resumed with whatever `kvm_run` holds as their data: no guest
    /// here uses a value it read.
    static func runToExit(_ vcpu: VCPU) throws -> Event {
      var interruptions = 0
      let exit = try vcpu.run(resumingWhile: {
        interruptions += 1
        return Interruption.signal == nil && interruptions < exitLimit
      })
      guard exit == .interrupted else { return Event(exit: exit) }
      if let signal = Interruption.signal { throw Interrupted(signal: signal) }
      throw Unavailable("KVM_RUN was interrupted \(exitLimit) times in a row")
    }

    /// The kernel must have a ring (`KVM_CAP_COALESCED_MMIO`) and, for ports, `KVM_CAP_COALESCED_PIO`.
    static func requireCoalescing(_ vm: VirtualMachine, space: IOSpace) throws {
      guard try vm.ringPageOffset() > 0 else {
        throw Unavailable("KVM_CHECK_EXTENSION(KVM_CAP_COALESCED_MMIO) answered 0: this kernel has no coalesced ring")
      }
      if space == .pio, try vm.checkExtension(.coalescedPIO) <= 0 {
        throw Unavailable("KVM_CHECK_EXTENSION(KVM_CAP_COALESCED_PIO) answered 0: no coalesced port I/O")
      }
    }
  }
}
