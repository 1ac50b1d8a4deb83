import CKVM
import Platform

/// The KVM system fd (`/dev/kvm`): capability queries and VM creation.
///
/// The corresponding type in rust-vmm is `Kvm`.
public final class KVMDevice: @unchecked Sendable {
  /// The only API version the kernel has ever had (`KVM_API_VERSION`).
  public static let expectedAPIVersion: Int32 = 12
  /// Where the device lives unless the caller names another path.
  public static let defaultPath = "/dev/kvm"

  public let path: String
  public let descriptor: OwnedDescriptor
  /// What `KVM_GET_API_VERSION` answered (always 12 once open succeeded).
  public let apiVersion: Int32

  /// Opens the device and checks `KVM_GET_API_VERSION`, classifying each failure.
  public init(path: String = KVMDevice.defaultPath) throws(DeviceError) {
    self.path = path
    var info = stat()
    if stat(path, &info) == 0, (info.st_mode & S_IFMT) != S_IFCHR {
      throw .notADevice(path: path, kind: Self.describe(mode: info.st_mode))
    }
    let fd = open(path, O_RDWR | O_CLOEXEC)
    guard fd >= 0 else {
      let code = errno
      switch code {
      case ENOENT: throw .missing(path: path)
      case EACCES, EPERM: throw .permissionDenied(path: path)
      default: throw .openFailed(path: path, error: SystemCallError(operation: "open \(path)", code: code))
      }
    }
    descriptor = OwnedDescriptor(fd)
    do {
      apiVersion = try descriptor.ioctl("KVM_GET_API_VERSION", CKVM_GET_API_VERSION, value: 0)
    } catch {
      throw .notKVM(path: path, error: error)
    }
    guard apiVersion == Self.expectedAPIVersion else {
      throw .unexpectedAPIVersion(path: path, version: apiVersion)
    }
  }

  /// `KVM_CHECK_EXTENSION` on the system fd: 0 when absent, else a capability-specific value.
  public func checkExtension(_ capability: Capability) throws(SystemCallError) -> Int32 {
    try descriptor.ioctl("KVM_CHECK_EXTENSION", CKVM_CHECK_EXTENSION, value: UInt(capability.rawValue))
  }

  /// The most vCPUs one VM may have here: `KVM_CAP_MAX_VCPUS`, else (a kernel that
  /// answers 0 or fails) `KVM_CAP_NR_VCPUS`, else 1, as the kernel's api.rst says.
  public var maxVCPUs: Int {
    let most = (try? checkExtension(.maxVCPUs)).map(Int.init) ?? 0
    if most > 0 { return most }
    return max((try? checkExtension(.recommendedVCPUs)).map(Int.init) ?? 1, 1)
  }

  /// `KVM_GET_VCPU_MMAP_SIZE`: bytes to map from each vCPU fd (kvm_run plus the ring page and more).
  public func vcpuMmapSize() throws(SystemCallError) -> Int {
    Int(try descriptor.ioctl("KVM_GET_VCPU_MMAP_SIZE", CKVM_GET_VCPU_MMAP_SIZE, value: 0))
  }

  /// `KVM_CREATE_VM` with the default machine type.
  public func createVM() throws(SystemCallError) -> VirtualMachine {
    let fd = try descriptor.ioctl("KVM_CREATE_VM", CKVM_CREATE_VM, value: 0)
    return VirtualMachine(device: self, descriptor: OwnedDescriptor(fd))
  }

  private static func describe(mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFDIR: return "a directory"
    case S_IFREG: return "a regular file"
    case S_IFLNK: return "a symbolic link"
    case S_IFBLK: return "a block device"
    case S_IFIFO: return "a FIFO"
    case S_IFSOCK: return "a socket"
    default: return "not a character device"
    }
  }
}
