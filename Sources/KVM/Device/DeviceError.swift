/// Why the KVM device could not be used: each case is a distinct failure. `description`
/// states what happened; what to do about it is the caller's to say (the command line
/// names its own options).
public enum DeviceError: Error, Sendable, Equatable, CustomStringConvertible {
  /// open(2) gave `ENOENT`: no such path (KVM not loaded, or not exposed to this container).
  case missing(path: String)
  /// open(2) gave `EACCES` or `EPERM`.
  case permissionDenied(path: String)
  /// The path exists but is not a character device (a directory, a regular file, …).
  case notADevice(path: String, kind: String)
  /// The path opened but `KVM_GET_API_VERSION` failed: some other character device.
  case notKVM(path: String, error: SystemCallError)
  /// `KVM_GET_API_VERSION` answered something other than 12 (`KVM_API_VERSION`).
  case unexpectedAPIVersion(path: String, version: Int32)
  /// Any other failure opening the path.
  case openFailed(path: String, error: SystemCallError)

  public var description: String {
    switch self {
    case .missing(let path):
      return "Cannot open \(path): ENOENT (No such file or directory)."
    case .permissionDenied(let path):
      return "Cannot open \(path): EACCES (Permission denied)."
    case .notADevice(let path, let kind):
      return "Cannot use \(path): it is \(kind), not the KVM character device."
    case .notKVM(let path, let error):
      return "\(path) is not a KVM device: KVM_GET_API_VERSION failed with \(error.errnoName) (\(error.errnoText))."
    case .unexpectedAPIVersion(let path, let version):
      return "\(path) answered KVM_GET_API_VERSION with \(version), expected 12; this KVM is not supported."
    case .openFailed(let path, let error):
      return "Cannot open \(path): \(error.errnoName) (\(error.errnoText))."
    }
  }
}
