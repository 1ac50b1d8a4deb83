// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "cmmio-fuzz",
  dependencies: [.package(name: "cmmio", path: "..")],
  targets: [
    .executableTarget(
      name: "ParserFuzzer",
      dependencies: [.product(name: "KVM", package: "cmmio"), .product(name: "Parsing", package: "cmmio")]
    )
  ],
  swiftLanguageModes: [.v6]
)
