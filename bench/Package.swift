// swift-tools-version: 6.1
// Micro-benchmarks of cmmio's hot paths, with ordo-one/benchmark. A package of its
// own so the main build and CI do not pay for the benchmark framework.
//
//   cd bench && swift package benchmark
import Foundation
import PackageDescription

/// The main package is `..`; SwiftPM names a path dependency after its folder.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
  name: "cmmio-benchmarks",
  dependencies: [
    .package(path: ".."),
    .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
  ],
  targets: [
    .executableTarget(
      name: "CMMIOBenchmarks",
      dependencies: [
        .product(name: "Benchmark", package: "benchmark"),
        .product(name: "KVM", package: root),
        .product(name: "Parsing", package: root),
        .product(name: "Reporting", package: root),
        .product(name: "BenchReporting", package: root),
        .product(name: "Benchmarking", package: root),
      ],
      path: "Benchmarks/CMMIOBenchmarks",
      plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
  ],
  swiftLanguageModes: [.v6]
)
