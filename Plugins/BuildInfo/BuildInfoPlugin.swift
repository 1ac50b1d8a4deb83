import Foundation
import PackagePlugin

/// Gives the cmmio target `BuildInfo` (the git commit and whether the tree was dirty)
/// by running scripts/build-info.sh before every build. A prebuild command because the
/// commit can change without any input file SwiftPM tracks changing.
@main
struct BuildInfoPlugin: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
    let output = context.pluginWorkDirectoryURL.appending(path: "BuildInfo")
    let package = context.package.directoryURL
    return [
      .prebuildCommand(
        displayName: "cmmio build info: git commit of \(package.path)",
        executable: URL(fileURLWithPath: "/bin/bash"),
        arguments: [package.appending(path: "scripts/build-info.sh").path, package.path, output.path],
        outputFilesDirectory: output)
    ]
  }
}
