import KVM
import Testing

/// Whether /dev/kvm can be used here. Tests that need it are skipped only when it
/// cannot, and then say why.
enum KVMAvailability {
  static let failure: String? = {
    do {
      _ = try KVMDevice()
      return nil
    } catch {
      return "\(error)"
    }
  }()

  static var usable: Bool { failure == nil }

  static var reason: Comment { Comment(rawValue: "skipped: /dev/kvm is not usable here: \(failure ?? "")") }
}
