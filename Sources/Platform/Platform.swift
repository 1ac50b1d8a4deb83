// The C library's names for every Swift target, in one place. cmmio builds against
// glibc only: it drives Linux's KVM ioctls, and no Musl build has ever been made or
// tested (an untested `#elseif canImport(Musl)` branch here would only pretend).
#if canImport(Glibc)
  @_exported import Glibc
#else
  #error("cmmio builds only against glibc (Linux)")
#endif

/// Writes every byte of `bytes` to `fd`, retrying `write(2)`'s `EINTR` (a signal
/// such as the SIGUSR1 kick or a recorded SIGINT) and short writes. Returns nil when
/// all were written, else the errno that stopped it (`EIO` for a write of 0 bytes).
public func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>) -> Int32? {
  var buffer = Array(bytes)
  var done = 0
  while done < buffer.count {
    let count = buffer.count - done
    let wrote = buffer.withUnsafeMutableBytes { write(fd, $0.baseAddress!.advanced(by: done), count) }
    if wrote < 0 {
      if errno == EINTR { continue }
      return errno
    }
    if wrote == 0 { return EIO }
    done += wrote
  }
  return nil
}
