import Platform

/// Where a report goes, and the one policy for every file cmmio writes (`--output`,
/// `--plot`, `--save`):
///
/// - `-` (and `/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N`) is written straight to
///   that descriptor;
/// - a symbolic link is followed to its target, which the rules below then apply to;
/// - a character device, a FIFO or a socket is opened and written straight through,
///   never replaced (`/dev/null`, `/dev/full`, a pipe);
/// - a regular file or a new path is replaced atomically: a temporary file in the same
///   folder, fsync, then rename, so a reader never sees half a report and a failed
///   write leaves nothing; an existing file keeps its mode (and, as root, its owner);
/// - a directory or a block device is refused.
///
/// `resolve` applies these rules before any work starts, so a path that cannot be
/// written is reported before anything is measured.
public enum OutputSink: Sendable, Equatable {
  case standardOutput
  case file(String)

  public init(path: String?) {
    self = path.map { $0 == "-" ? .standardOutput : .file($0) } ?? .standardOutput
  }

  /// Why a report could not be written (exit status 1 at the command line).
  public struct WriteError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var step: String
    public var code: Int32
    public init(path: String, step: String, code: Int32) {
      self.path = path
      self.step = step
      self.code = code
    }
    public var description: String {
      let text = strerror(code).map { String(cString: $0) } ?? "errno \(code)"
      return "Cannot write the report to \(path): \(step) failed with \(text)."
    }
  }

  /// Writes `text` in full or throws, leaving no partial file.
  public func write(_ text: String) throws(WriteError) {
    let target = try OutputTarget.resolve(self)
    try OutputTarget.writeSet([(target, text)])
  }
}

/// One destination, resolved by `OutputSink`'s policy.
public struct OutputTarget: Sendable, Equatable {
  public enum Kind: Sendable, Equatable {
    /// An open descriptor of this process (`-` is 1).
    case descriptor(Int32)
    /// A character device, FIFO or socket at this path: opened and written straight through.
    case stream(String)
    /// A regular file or a new name in `folder`: replaced atomically with `mode` (and
    /// `owner`, for an existing file).
    case atomic(folder: String, name: String, mode: mode_t, owner: (uid: uid_t, gid: gid_t)?)

    public static func == (lhs: Kind, rhs: Kind) -> Bool {
      switch (lhs, rhs) {
      case (.descriptor(let a), .descriptor(let b)): a == b
      case (.stream(let a), .stream(let b)): a == b
      case (.atomic(let f1, let n1, let m1, let o1), .atomic(let f2, let n2, let m2, let o2)):
        f1 == f2 && n1 == n2 && m1 == m2 && o1?.uid == o2?.uid && o1?.gid == o2?.gid
      default: false
      }
    }
  }

  /// The path as given, for messages.
  public var given: String
  public var kind: Kind
  /// What makes two targets the same file: device and inode of the file, or of the
  /// folder plus the name for a path that does not exist yet.
  public var identity: String
  /// A character device (/dev/null, a terminal): written straight through, and
  /// harmless to name twice.
  public var isCharacterDevice = false

  /// The most symbolic links followed before giving up (`ELOOP`), as the kernel's 40.
  static let maximumLinks = 40

  /// Applies the policy to `sink` now: follows links, checks the folder or device can
  /// be written. Throws what would make the final write fail.
  public static func resolve(_ sink: OutputSink) throws(OutputSink.WriteError) -> OutputTarget {
    switch sink {
    case .standardOutput: return try descriptorTarget(1, given: "standard output")
    case .file(let path): return try resolve(path: path)
    }
  }

  /// `resolve` for a path given on the command line (`-` is standard output).
  public static func resolve(path given: String) throws(OutputSink.WriteError) -> OutputTarget {
    if given == "-" { return try descriptorTarget(1, given: "standard output") }
    guard !given.isEmpty else { throw OutputSink.WriteError(path: given, step: "naming the file", code: ENOENT) }
    var path = given
    for _ in 0...maximumLinks {
      if let fd = descriptorAlias(path) { return try descriptorTarget(fd, given: given) }
      var info = stat()
      if lstat(path, &info) != 0 {
        let code = errno
        guard code == ENOENT else { throw OutputSink.WriteError(path: given, step: "looking at it", code: code) }
        return try newFile(path, given: given)
      }
      switch info.st_mode & S_IFMT {
      case S_IFLNK:
        guard let target = linkTarget(path) else {
          throw OutputSink.WriteError(path: given, step: "reading the symbolic link", code: errno)
        }
        // A link inside /proc (a magic link such as /proc/PID/fd/N) names no path to follow.
        if path.hasPrefix("/proc/") { return try streamTarget(path, given: given) }
        path = target.hasPrefix("/") ? target : split(path).folder + "/" + target
      case S_IFDIR:
        throw OutputSink.WriteError(path: given, step: "opening it", code: EISDIR)
      case S_IFBLK:
        // Writing a report onto a disk would destroy it: refuse.
        throw OutputSink.WriteError(path: given, step: "opening it (a block device)", code: EPERM)
      case S_IFCHR, S_IFIFO, S_IFSOCK:
        return try streamTarget(path, given: given)
      default:
        let (folder, name) = split(path)
        try checkFolder(folder, given: given)
        let owner = geteuid() == 0 ? (uid: info.st_uid, gid: info.st_gid) : nil
        return OutputTarget(
          given: given, kind: .atomic(folder: folder, name: name, mode: info.st_mode & 0o7777, owner: owner),
          identity: "file \(info.st_dev):\(info.st_ino)")
      }
    }
    throw OutputSink.WriteError(path: given, step: "following its symbolic links", code: ELOOP)
  }

  /// Writes each text to its target as a set: every atomic file is written to its
  /// temporary name first, then the streams, and only then are the temporary files
  /// renamed; a failure before the renames leaves none of the set's files behind.
  public static func writeSet(_ items: [(OutputTarget, String)]) throws(OutputSink.WriteError) {
    var temporaries: [(path: String, final: String, given: String)] = []
    do throws(OutputSink.WriteError) {
      for (target, text) in items {
        guard case .atomic(let folder, let name, let mode, let owner) = target.kind else { continue }
        temporaries.append(
          try writeTemporary(text, folder: folder, name: name, mode: mode, owner: owner, given: target.given))
      }
      for (target, text) in items {
        switch target.kind {
        case .descriptor(let fd): try writeAll(fd, text, path: target.given)
        case .stream(let path): try writeStream(text, to: path, given: target.given)
        case .atomic: continue
        }
      }
      while let next = temporaries.first {
        guard rename(next.path, next.final) == 0 else {
          throw OutputSink.WriteError(path: next.given, step: "rename", code: errno)
        }
        temporaries.removeFirst()
      }
    } catch {
      for temporary in temporaries { unlink(temporary.path) }
      throw error
    }
  }

  // MARK: - Resolving

  /// `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`: the descriptor N.
  static func descriptorAlias(_ path: String) -> Int32? {
    switch path {
    case "/dev/stdin": return 0
    case "/dev/stdout": return 1
    case "/dev/stderr": return 2
    default: break
    }
    for prefix in ["/dev/fd/", "/proc/self/fd/"] where path.hasPrefix(prefix) {
      let digits = path.dropFirst(prefix.count)
      guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
      return Int32(digits)
    }
    return nil
  }

  private static func descriptorTarget(_ fd: Int32, given: String) throws(OutputSink.WriteError) -> OutputTarget {
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw OutputSink.WriteError(path: given, step: "looking at it", code: errno) }
    let flags = fcntl(fd, F_GETFL)
    guard flags >= 0, flags & O_ACCMODE != O_RDONLY else {
      throw OutputSink.WriteError(path: given, step: "writing to descriptor \(fd)", code: EBADF)
    }
    return OutputTarget(
      given: given, kind: .descriptor(fd), identity: "file \(info.st_dev):\(info.st_ino)",
      isCharacterDevice: info.st_mode & S_IFMT == S_IFCHR)
  }

  private static func streamTarget(_ path: String, given: String) throws(OutputSink.WriteError) -> OutputTarget {
    var info = stat()
    guard stat(path, &info) == 0 else { throw OutputSink.WriteError(path: given, step: "looking at it", code: errno) }
    guard access(path, W_OK) == 0 else { throw OutputSink.WriteError(path: given, step: "opening it", code: errno) }
    return OutputTarget(
      given: given, kind: .stream(path), identity: "file \(info.st_dev):\(info.st_ino)",
      isCharacterDevice: info.st_mode & S_IFMT == S_IFCHR)
  }

  private static func newFile(_ path: String, given: String) throws(OutputSink.WriteError) -> OutputTarget {
    let (folder, name) = split(path)
    guard !name.isEmpty else { throw OutputSink.WriteError(path: given, step: "naming the file", code: EISDIR) }
    guard name.utf8.count <= Int(NAME_MAX) else {
      throw OutputSink.WriteError(path: given, step: "naming the file", code: ENAMETOOLONG)
    }
    let info = try checkFolder(folder, given: given)
    // A new file gets what open(2) would give it: 0666 less the umask.
    let mask = umask(0o022)
    umask(mask)
    return OutputTarget(
      given: given, kind: .atomic(folder: folder, name: name, mode: 0o666 & ~mask, owner: nil),
      identity: "new \(info.st_dev):\(info.st_ino)/\(name)")
  }

  @discardableResult
  private static func checkFolder(_ folder: String, given: String) throws(OutputSink.WriteError) -> stat {
    var info = stat()
    guard stat(folder, &info) == 0 else {
      throw OutputSink.WriteError(path: given, step: "looking at its folder", code: errno)
    }
    guard info.st_mode & S_IFMT == S_IFDIR else {
      throw OutputSink.WriteError(path: given, step: "looking at its folder", code: ENOTDIR)
    }
    guard access(folder, W_OK | X_OK) == 0 else {
      throw OutputSink.WriteError(path: given, step: "creating a file in its folder", code: errno)
    }
    return info
  }

  static func split(_ path: String) -> (folder: String, name: String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let folder = String(path[..<slash])
    return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
  }

  private static func linkTarget(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let count = readlink(path, &buffer, buffer.count - 1)
    guard count > 0 else { return nil }
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  // MARK: - Writing

  /// A short temporary name: `.cmmio-XXXXXX` fits beside any valid name (NAME_MAX is
  /// 255, and `.NAME.tmp.XXXXXX` would not for a 255-byte NAME).
  private static func writeTemporary(
    _ text: String, folder: String, name: String, mode: mode_t, owner: (uid: uid_t, gid: gid_t)?, given: String
  ) throws(OutputSink.WriteError) -> (path: String, final: String, given: String) {
    var template = Array((folder + "/.cmmio-XXXXXX").utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else { throw OutputSink.WriteError(path: given, step: "creating a temporary file", code: errno) }
    let temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    do throws(OutputSink.WriteError) {
      try writeAll(fd, text, path: given)
      if let owner { _ = fchown(fd, owner.uid, owner.gid) }
      guard fchmod(fd, mode) == 0 else { throw OutputSink.WriteError(path: given, step: "fchmod", code: errno) }
      guard fsync(fd) == 0 else { throw OutputSink.WriteError(path: given, step: "fsync", code: errno) }
      guard close(fd) == 0 else { throw OutputSink.WriteError(path: given, step: "close", code: errno) }
    } catch {
      close(fd)
      unlink(temporary)
      throw error
    }
    return (temporary, folder + "/" + name, given)
  }

  private static func writeStream(_ text: String, to path: String, given: String) throws(OutputSink.WriteError) {
    var fd: Int32
    repeat { fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC) } while fd < 0 && errno == EINTR
    guard fd >= 0 else { throw OutputSink.WriteError(path: given, step: "opening it", code: errno) }
    defer { close(fd) }
    try writeAll(fd, text, path: given)
  }

  /// Writes every byte or throws (`EFBIG` past `RLIMIT_FSIZE` and `EPIPE` for a closed
  /// pipe arrive here because the executable ignores SIGXFSZ and SIGPIPE).
  static func writeAll(_ fd: Int32, _ text: String, path: String) throws(OutputSink.WriteError) {
    if let code = Platform.writeAll(fd, text.utf8) {
      throw OutputSink.WriteError(path: path, step: "write", code: code)
    }
  }
}

/// The files one invocation writes, resolved and checked together before any work.
public struct OutputPlan: Sendable {
  /// Two options naming the same file (exit status 64 at the command line).
  public struct Conflict: Error, Sendable, CustomStringConvertible {
    public var first: String
    public var second: String
    public var path: String
    public var description: String {
      "\(first) and \(second) both name \(path); give each output its own file"
    }
  }

  public var targets: [String: OutputTarget] = [:]

  /// Resolves each `(option, path)`; a nil path is standard output, the report's
  /// default. Two options naming the same path, or two paths reaching the same file
  /// (other than a character device such as /dev/null, which is not clobbered by a
  /// second write), are a `Conflict`, found before any path is checked for writing.
  public static func resolve(_ outputs: [(option: String, path: String?)]) throws -> OutputPlan {
    var named: [String: String] = [:]
    for (option, path) in outputs {
      guard let path else { continue }
      if let earlier = named[path] { throw Conflict(first: earlier, second: option, path: path) }
      named[path] = option
    }
    var plan = OutputPlan()
    var seen: [(option: String, identity: String)] = []
    for (option, path) in outputs {
      let target = try OutputTarget.resolve(path.map { OutputSink.file($0) } ?? .standardOutput)
      if !target.isCharacterDevice, let earlier = seen.first(where: { $0.identity == target.identity }) {
        throw Conflict(first: earlier.option, second: option, path: target.given)
      }
      seen.append((option, target.identity))
      plan.targets[option] = target
    }
    return plan
  }
}
