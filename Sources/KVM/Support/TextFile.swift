import Platform

/// Small, Foundation-free file reads for /proc and /sys (keeps start-up fast).
public enum TextFile {
  /// The whole file as text, or nil if it cannot be read.
  public static func read(_ path: String, limit: Int = 1 << 20) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while bytes.count < limit {
      let got = chunk.withUnsafeMutableBytes { Platform.read(fd, $0.baseAddress, $0.count) }
      if got < 0 {
        if errno == EINTR { continue }
        return nil
      }
      if got == 0 { break }
      bytes.append(contentsOf: chunk[0..<got])
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Whether `path` exists (any kind of file).
  public static func exists(_ path: String) -> Bool {
    access(path, F_OK) == 0
  }

  /// The target of a symbolic link, such as `/proc/self/fd/N`.
  public static func linkTarget(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink(path, &buffer, buffer.count - 1)
    guard count >= 0 else { return nil }
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}
