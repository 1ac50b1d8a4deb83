import KVM

extension Provenance {
  /// This invocation's provenance, read now: the build's version and commit (`BuildInfo`,
  /// generated at build time by scripts/build-info.sh), the arguments as given, the host's settings.
  static func now() -> Provenance {
    Provenance.current(
      version: CMMIO.version, gitCommit: BuildInfo.gitCommit, gitDirty: BuildInfo.gitDirty,
      commandLine: CommandLine.arguments, cpus: Host.onlineCPUs())
  }
}
