import KVM
import Platform

/// The up-front check for memory: the Swift runtime ends the process with a stack trace
/// when an allocation fails, so before any work cmmio reserves (and at once releases)
/// the address space the subcommand will need. Under a too-low `RLIMIT_AS` (`ulimit -v`)
/// or with no memory to commit, that fails with `ENOMEM` and one sentence, exit 1.
enum MemoryCheck {
  /// Address space every subcommand needs beyond what it already has mapped: the
  /// guest's 64 KiB, the vCPU mapping, reports and the allocator's arenas, with room.
  static let baseBytes = 64 << 20
  /// Per thread the bench engine starts (a vCPU or the drainer): its stack and
  /// its latency histogram, with room.
  static let perThreadBytes = 12 << 20

  /// Throws exit status 1 unless `bytes` more of address space can be mapped now.
  static func require(_ bytes: Int, for what: String) throws(CLIFailure) {
    let mapped = mmap(nil, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    if let mapped, mapped != MAP_FAILED {
      munmap(mapped, bytes)
      return
    }
    let code = errno
    var limit = rlimit()
    var sentence =
      "\(what) needs about \(bytes >> 20) MiB more address space than this process can map "
      + "(mmap: \(Errno.name(code)))"
    if getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max {
      sentence += "; its address-space limit (ulimit -v) is \(limit.rlim_cur >> 10) KiB: raise it"
    } else {
      sentence += "; free memory or raise the memory limits"
    }
    throw CLIFailure(.failure, sentence)
  }
}
