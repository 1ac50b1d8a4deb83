import KVM
import Testing

/// Whether /dev/kvm can be used here. Tests that need it are skipped only when it
/// cannot, and the skip says why.
public enum KVMAvailability {
  public static let failure: String? = {
    do {
      _ = try KVMDevice()
      return nil
    } catch {
      return "\(error)"
    }
  }()

  public static var usable: Bool { failure == nil }

  public static var reason: Comment { Comment(rawValue: "skipped: /dev/kvm is not usable here: \(failure ?? "")") }
}
