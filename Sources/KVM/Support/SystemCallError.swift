import Platform

/// A system call or ioctl that failed, with the kernel's errno.
///
/// The message names what was attempted and what came back, as in
/// "KVM_CREATE_VM failed: ENOTTY (Inappropriate ioctl for device)".
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What was attempted: the ioctl's kernel name (`KVM_RUN`) or the call (`open /dev/kvm`).
  public let operation: String
  /// The errno value the kernel returned.
  public let code: Int32

  public init(operation: String, code: Int32) {
    self.operation = operation
    self.code = code
  }

  /// The symbolic name, such as `ENOTTY`.
  public var errnoName: String { Errno.name(code) }
  /// The C library's text for the errno, from strerror(3).
  public var errnoText: String { Errno.text(code) }

  public var description: String {
    let text = "\(operation) failed: \(errnoName) (\(errnoText))"
    return environmentRemedy.map { "\(text); \($0)" } ?? text
  }

  /// True when the errno says the environment, not KVM or the kernel, refused: `KVM_RUN`
  /// answers `EAGAIN` when it cannot start the VM's worker thread (a pids cgroup limit,
  /// `RLIMIT_NPROC`) and `ENOMEM` when it cannot allocate; neither is worth retrying.
  public var isEnvironmentFailure: Bool { environmentRemedy != nil }

  /// What to change, for an errno that means the environment refused.
  public var environmentRemedy: String? {
    switch code {
    case EAGAIN where operation == "KVM_RUN":
      return "the kernel could not start the VM's worker thread: raise the pids cgroup limit (pids.max) "
        + "or RLIMIT_NPROC (ulimit -u) for this process"
    case EAGAIN where operation.hasPrefix("pthread_create"):
      return "no thread could be started: raise RLIMIT_NPROC (ulimit -u), the pids cgroup limit (pids.max) "
        + "or the address-space limit (ulimit -v)"
    case ENOMEM where operation == "KVM_RUN" || operation.hasPrefix("KVM_CREATE"):
      return "the kernel could not allocate memory for this VM: raise the memory cgroup limit or free memory"
    default:
      return nil
    }
  }
}

/// Helpers that turn the C convention (-1 and `errno`) into thrown errors.
public enum Errno {
  /// The current thread's errno.
  public static var current: Int32 { errno }

  /// Runs `body` until it does not fail with `EINTR`, then throws on -1.
  ///
  /// Use only for calls that are safe to restart (open, read, most ioctls);
  /// never for `KVM_RUN`, whose `EINTR` means "stop and look at the signal".
  @discardableResult
  public static func retrying(_ operation: @autoclosure () -> String, _ body: () -> Int32) throws(SystemCallError)
    -> Int32
  {
    while true {
      let result = body()
      if result != -1 { return result }
      let code = errno
      if code == EINTR { continue }
      throw SystemCallError(operation: operation(), code: code)
    }
  }

  /// The symbolic name of an errno value (`ENOTTY`), or `E<number>` if unknown.
  public static func name(_ code: Int32) -> String {
    if code > 0, Int(code) < names.count, !names[Int(code)].isEmpty {
      return names[Int(code)]
    }
    return "E\(code)"
  }

  /// strerror(3) for `code`.
  public static func text(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text)
  }

  /// Linux errno names, indexed by value (asm-generic/errno-base.h and errno.h).
  private static let names: [String] = [
    "", "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF",
    "ECHILD", "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV",
    "ENODEV", "ENOTDIR", "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG",
    "ENOSPC", "ESPIPE", "EROFS", "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK", "ENAMETOOLONG",
    "ENOLCK", "ENOSYS", "ENOTEMPTY", "ELOOP", "", "ENOMSG", "EIDRM", "ECHRNG", "EL2NSYNC",
    "EL3HLT", "EL3RST", "ELNRNG", "EUNATCH", "ENOCSI", "EL2HLT", "EBADE", "EBADR", "EXFULL",
    "ENOANO", "EBADRQC", "EBADSLT", "", "EBFONT", "ENOSTR", "ENODATA", "ETIME", "ENOSR",
    "ENONET", "ENOPKG", "EREMOTE", "ENOLINK", "EADV", "ESRMNT", "ECOMM", "EPROTO", "EMULTIHOP",
    "EDOTDOT", "EBADMSG", "EOVERFLOW", "ENOTUNIQ", "EBADFD", "EREMCHG", "ELIBACC", "ELIBBAD",
    "ELIBSCN", "ELIBMAX", "ELIBEXEC", "EILSEQ", "ERESTART", "ESTRPIPE", "EUSERS", "ENOTSOCK",
    "EDESTADDRREQ", "EMSGSIZE", "EPROTOTYPE", "ENOPROTOOPT", "EPROTONOSUPPORT",
    "ESOCKTNOSUPPORT", "EOPNOTSUPP", "EPFNOSUPPORT", "EAFNOSUPPORT", "EADDRINUSE",
    "EADDRNOTAVAIL", "ENETDOWN", "ENETUNREACH", "ENETRESET", "ECONNABORTED", "ECONNRESET",
    "ENOBUFS", "EISCONN", "ENOTCONN", "ESHUTDOWN", "ETOOMANYREFS", "ETIMEDOUT", "ECONNREFUSED",
    "EHOSTDOWN", "EHOSTUNREACH", "EALREADY", "EINPROGRESS", "ESTALE", "EUCLEAN", "ENOTNAM",
    "ENAVAIL", "EISNAM", "EREMOTEIO", "EDQUOT", "ENOMEDIUM", "EMEDIUMTYPE", "ECANCELED",
    "ENOKEY", "EKEYEXPIRED", "EKEYREVOKED", "EKEYREJECTED", "EOWNERDEAD", "ENOTRECOVERABLE",
    "ERFKILL", "EHWPOISON",
  ]
}
