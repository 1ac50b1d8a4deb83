#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Where a report goes: stdout, or a file written atomically (a temporary file
/// in the same folder, fsync, then rename), so a reader never sees half a report
/// and a failed write leaves nothing behind.
public enum OutputSink: Sendable, Equatable {
  case standardOutput
  case file(String)

  /// Why the report could not be written.
  public struct WriteError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var step: String
    public var code: Int32
    public var description: String {
      let text = strerror(code).map { String(cString: $0) } ?? "errno \(code)"
      return "Cannot write the report to \(path): \(step) failed with \(text)."
    }
  }

  public init(path: String?) {
    self = path.map { .file($0) } ?? .standardOutput
  }

  /// Writes `text` in full or throws, leaving no partial file.
  public func write(_ text: String) throws(WriteError) {
    switch self {
    case .standardOutput:
      var bytes = Array(text.utf8)
      try Self.writeAll(1, &bytes, path: "standard output")
    case .file(let path):
      try Self.writeAtomically(text, to: path)
    }
  }

  private static func writeAtomically(_ text: String, to path: String) throws(WriteError) {
    let slash = path.lastIndex(of: "/")
    let folder = slash.map { String(path[..<$0]) } ?? "."
    let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
    guard !name.isEmpty else { throw WriteError(path: path, step: "naming the file", code: EISDIR) }
    var info = stat()
    if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
      throw WriteError(path: path, step: "opening it", code: EISDIR)
    }
    var template = Array(((folder.isEmpty ? "/" : folder) + "/." + name + ".tmp.XXXXXX").utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else { throw WriteError(path: path, step: "creating a temporary file", code: errno) }
    let temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    do throws(WriteError) {
      var bytes = Array(text.utf8)
      try writeAll(fd, &bytes, path: path)
      guard fsync(fd) == 0 else { throw WriteError(path: path, step: "fsync", code: errno) }
      fchmod(fd, 0o644)
      close(fd)
      guard rename(temporary, path) == 0 else { throw WriteError(path: path, step: "rename", code: errno) }
    } catch {
      close(fd)
      unlink(temporary)
      throw error
    }
  }

  private static func writeAll(_ fd: Int32, _ bytes: inout [UInt8], path: String) throws(WriteError) {
    var done = 0
    while done < bytes.count {
      let count = bytes.count - done
      let wrote = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress!.advanced(by: done), count) }
      if wrote < 0 {
        if errno == EINTR { continue }
        throw WriteError(path: path, step: "write", code: errno)
      }
      done += wrote
    }
  }
}
