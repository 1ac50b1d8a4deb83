#!/usr/bin/env bash
# Installs what cmmio needs on a fresh Debian or Ubuntu machine that has Swift:
# libnuma-dev (pkg-config numa) and linux-libc-dev (<linux/kvm.h>). Idempotent:
# installs only what is missing; uses sudo when not root.
set -euo pipefail
need=()
for package in libnuma-dev linux-libc-dev; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || need+=("$package")
done
command -v pkg-config >/dev/null || need+=(pkg-config)
if ((${#need[@]})); then
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
  echo "setup: installed ${need[*]}"
fi
command -v swift >/dev/null || { echo "setup: swift is not on PATH; install a Swift 6.1+ toolchain first" >&2; exit 1; }
