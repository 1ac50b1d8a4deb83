// swift-tools-version: 6.1
import PackageDescription

/// Layers, each depending only on the ones below it:
/// Platform (libc) → C shims (CKVM, CNuma) → KVM → Guest → Exerciser, Benchmarking → BenchReporting
/// → cmmio (CLI), with Reporting (JSON, tables, atomic files) and Parsing (zone and probe text)
/// beside them. KVM is the only Swift target that imports CKVM or CNuma.
let package = Package(
  name: "cmmio",
  products: [
    .executable(name: "cmmio", targets: ["cmmio"]),
    .library(name: "KVM", targets: ["KVM"]),
    .library(name: "Parsing", targets: ["Parsing"]),
    .library(name: "Reporting", targets: ["Reporting"]),
    .library(name: "Benchmarking", targets: ["Benchmarking"]),
    .library(name: "BenchReporting", targets: ["BenchReporting"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    // Tests only: property-based checks of the parsers and the ring arithmetic.
    .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
  ],
  targets: [
    // The C library's names for every Swift target (glibc), one write-all loop, and how
    // numbers are written (hex, compact decimal).
    .target(name: "Platform"),

    // C shims: non-variadic ioctl wrappers, request numbers, constants newer than the 6.1 headers.
    .target(name: "CKVM"),
    // The executable's ELF constructor: signal dispositions set before main().
    .target(name: "CMMIOEntry", dependencies: ["CKVM"]),
    .systemLibrary(name: "CNuma", pkgConfig: "numa", providers: [.apt(["libnuma-dev"])]),

    // The KVM layer: device, VM, vCPU (KVM_RUN and its exits), zones, ring, v2 buffer,
    // ioeventfd, stats, and the host (CPUs, NUMA, pinning, signals and kicks). Its API
    // speaks Swift types and throws typed errors; wording for the command line is cmmio's.
    .target(name: "KVM", dependencies: ["CKVM", "CNuma", "Platform"]),

    // The text forms of zones and probes (ADDR:SIZE[:pio], ADDR[:pio]), kept out of KVM.
    .target(name: "Parsing", dependencies: ["KVM"]),

    // Guests: a real-mode x86 encoder, programs with listings, the machine that runs
    // them and the runner that accounts for every write.
    .target(name: "Guest", dependencies: ["KVM", "Platform"]),

    // The exerciser: zones and probes, the v2 buffer flow, kernel conformance checks.
    .target(name: "Exerciser", dependencies: ["KVM", "Guest", "Platform"]),

    // The benchmark: configuration, workloads, drain strategies, pinning, statistics, results.
    .target(
      name: "Benchmarking",
      dependencies: ["KVM", "Guest", "Platform", .product(name: "Histogram", package: "hdrhistogram-swift")]
    ),

    // Reports: JSON, tables, CSV, markdown, atomic output files. Foundation-free.
    .target(name: "Reporting", dependencies: ["Platform"]),

    // The bench report: JSON, CSV, markdown, table and SVG plot of a BenchReport, and the
    // host object every report carries. A library so its renderers can be tested.
    .target(name: "BenchReporting", dependencies: ["Benchmarking", "Reporting", "KVM", "Platform"]),

    // `BuildInfo` for the command line: the git commit it was built from (scripts/build-info.sh).
    .plugin(name: "BuildInfo", capability: .buildTool()),

    // The command line: one file per subcommand, plus reporters.
    .executableTarget(
      name: "cmmio",
      dependencies: [
        "CMMIOEntry",
        "Platform",
        "KVM",
        "Parsing",
        "Guest",
        "Exerciser",
        "Benchmarking",
        "Reporting",
        "BenchReporting",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      plugins: ["BuildInfo"]
    ),

    // What the test targets share: the KVM availability gate, running the built binary.
    .target(name: "CMMIOTestSupport", dependencies: ["KVM"], path: "Tests/Support"),
    // KVMTests also runs guests (ring corruption through the runner, EINTR, soak).
    .testTarget(name: "KVMTests", dependencies: ["KVM", "Guest", "CMMIOTestSupport"]),
    .testTarget(name: "GuestTests", dependencies: ["Guest", "KVM", "CMMIOTestSupport"]),
    // Depends on the executable so that `swift test` builds the binary it runs.
    .testTarget(
      name: "CLITests",
      dependencies: [
        "cmmio", "CMMIOTestSupport", "Reporting", "KVM", "Guest", "Benchmarking",
        .product(name: "PropertyBased", package: "swift-property-based"),
      ]
    ),
    // Depends on the executable so that `swift test` builds the binary `verify`'s tests run.
    .testTarget(
      name: "ExerciserTests", dependencies: ["Exerciser", "Guest", "KVM", "Platform", "CMMIOTestSupport", "cmmio"]),
    // Depends on the executable for the bench engine's tests of the built binary (SIGINT, exit statuses).
    .testTarget(name: "BenchmarkTests", dependencies: ["Benchmarking", "Guest", "KVM", "CMMIOTestSupport", "cmmio"]),
    .testTarget(name: "ReportingTests", dependencies: ["Reporting"]),
    .testTarget(name: "BenchReportingTests", dependencies: ["BenchReporting", "Benchmarking", "Reporting", "KVM"]),
    .testTarget(
      name: "PropertyTests",
      dependencies: ["KVM", "Parsing", .product(name: "PropertyBased", package: "swift-property-based")]
    ),
  ],
  swiftLanguageModes: [.v6]
)
