#!/usr/bin/env bash
# Writes BuildInfo.swift for the cmmio target at build time (the BuildInfo plugin runs it
# before every build): the git commit the sources were built from and whether the
# checkout had uncommitted changes. Outside a git checkout, or without git, both are nil:
# a report then says null rather than guess. No network. The file is rewritten only when
# its text changes, so an unchanged build does not recompile the target.
#   build-info.sh PACKAGE_DIR OUTPUT_DIR
set -euo pipefail
package=$1
out=$2
commit=nil
dirty=nil
# Reading the commit is safe in a checkout another user owns (root building a user's
# clone), which git otherwise refuses as of "dubious ownership": trust this one only.
here=$(cd "$package" && pwd -P)
git_here() { git -c safe.directory="$here" -C "$package" "$@"; }
if command -v git >/dev/null 2>&1 \
  && top=$(git_here rev-parse --show-toplevel 2>/dev/null) \
  && [ "$(cd "$top" && pwd -P)" = "$here" ] \
  && head=$(git_here rev-parse --verify -q HEAD 2>/dev/null); then
  commit="\"$head\""
  # Tracked files only: untracked files are not built unless they are sources, which
  # `git status` would still list (as untracked) without changing the commit's meaning.
  if changes=$(git_here status --porcelain --untracked-files=no 2>/dev/null); then
    if [ -n "$changes" ]; then dirty=true; else dirty=false; fi
  fi
fi
mkdir -p "$out"
text="// Generated at build time by scripts/build-info.sh (the BuildInfo plugin); not in the repository.
enum BuildInfo {
  /// The git commit the binary was built from; nil outside a git checkout.
  static let gitCommit: String? = $commit
  /// Whether tracked files differed from that commit at build time; nil where unknown.
  static let gitDirty: Bool? = $dirty
}"
if [ ! -f "$out/BuildInfo.swift" ] || [ "$(cat "$out/BuildInfo.swift")" != "$text" ]; then
  printf '%s\n' "$text" >"$out/BuildInfo.swift.tmp"
  mv "$out/BuildInfo.swift.tmp" "$out/BuildInfo.swift"
fi
