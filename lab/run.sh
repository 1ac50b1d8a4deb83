#!/usr/bin/env bash
# The kernel lab: runs cmmio and the kernel's own coalesced_io_test natively
# (the "host" column) and in real kernels booted under QEMU/TCG with nested SVM,
# then prints the matrix kernel x check and checks each kernel's expectations.
# See lab/README.md (the kernel directory format) and docs/lab.md (how it works).
set -euo pipefail

LAB_DIR=$(cd "$(dirname "$0")" && pwd)
REPO_DIR=$(dirname "$LAB_DIR")
CACHE=${CMMIO_LAB_CACHE:-/var/cache/cmmio-lab}
SELFTEST_TREE=linux-source-6.12
PACKAGES=(qemu-system-x86 busybox-static cpio xz-utils gcc make libc6-dev
  bc flex bison libelf-dev libssl-dev python3 kmod)

usage() {
  cat <<'EOF'
usage: lab/run.sh [--cmmio PATH] [--out DIR] [--bzimage FILE]... [--deb FILE]... [KERNEL...]
  KERNEL   a directory name under lab/kernels/, or a path to a kernel directory
           (default: every directory under lab/kernels/); the host always runs
  --cmmio PATH    use this cmmio binary instead of building one (scripts/build-release.sh)
  --out DIR       write the results there (default: $CMMIO_LAB_CACHE/runs/<UTC time>)
  --bzimage FILE  also boot this kernel image (KVM and KVM_AMD built in; no expectations)
  --deb FILE      also boot this kernel .deb (modules loaded from it; no expectations)
  --no-host       do not run the command list on the host (for experiments)
EOF
}

say() { echo "lab: [$(printf "%4d" "$SECONDS") s] $*" >&2; }
die() { say "$*"; exit 2; }
# A usage error is one sentence on stderr, as cmmio's are; --help prints the usage.
usage_error() { echo "lab: $*; see lab/run.sh --help" >&2; exit 64; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_packages() {
  local missing=() package
  for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  # The package lists must be current: the kernels are resolved from them.
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq || die "apt-get update failed"
  if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null || die "could not install ${missing[*]}"
  fi
}

# The package a meta package (linux-image-amd64) depends on today, or the
# package itself when it is not a meta package.
resolve_package() {
  local target
  target=$(apt-cache depends --no-recommends --no-suggests "$1" 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-(image|source)-/ && !found { print $2; found = 1 }')
  echo "${target:-$1}"
}

# Downloads PACKAGE's candidate version into the cache once; prints the .deb.
fetch_deb() {
  local package=$1 version file tmp
  version=$(apt-cache policy "$package" | awk '$1 == "Candidate:" { print $2 }')
  if [ -z "$version" ] || [ "$version" = "(none)" ]; then die "no Debian package $package"; fi
  mkdir -p "$CACHE/debs"
  file="$CACHE/debs/${package}_${version//:/%3a}_$(dpkg --print-architecture).deb"
  [ -f "$file" ] || file="$CACHE/debs/${package}_${version//:/%3a}_all.deb"
  if [ ! -f "$file" ]; then
    say "downloading $package $version"
    tmp=$(mktemp -d "$CACHE/debs/.get.XXXXXX")
    (cd "$tmp" && apt-get download -q "$package=$version" >/dev/null 2>&1) ||
      { rm -rf "$tmp"; die "apt-get download $package=$version failed"; }
    mv "$tmp"/*.deb "$CACHE/debs/" && rmdir "$tmp"
    file=$(ls "$CACHE/debs/${package}_${version//:/%3a}"_*.deb)
  fi
  echo "$file"
}

# Unpacks a .deb into the cache once (dpkg -x); prints the directory.
unpack_deb() {
  local deb=$1 dir tmp
  dir="$CACHE/unpacked/$(basename "$deb" .deb)"
  if [ ! -d "$dir" ]; then
    mkdir -p "$CACHE/unpacked"
    tmp=$(mktemp -d "$CACHE/unpacked/.x.XXXXXX")
    dpkg -x "$deb" "$tmp" || { rm -rf "$tmp"; die "dpkg -x $deb failed"; }
    mv "$tmp" "$dir"
  fi
  echo "$dir"
}

# The kernel source tree of a linux-source-X package, extracted once.
source_tree() {
  local package=$1 deb unpacked tarball dir tmp
  deb=$(fetch_deb "$package")
  unpacked=$(unpack_deb "$deb")
  tarball=$(ls "$unpacked"/usr/src/linux-source-*.tar.xz)
  dir="$CACHE/src/$(basename "$deb" .deb)"
  if [ ! -d "$dir" ]; then
    say "extracting $(basename "$tarball")"
    mkdir -p "$CACHE/src"
    tmp=$(mktemp -d "$CACHE/src/.x.XXXXXX")
    tar -C "$tmp" -xf "$tarball" || { rm -rf "$tmp"; die "could not extract $tarball"; }
    mv "$tmp"/linux-source-* "$dir" && rmdir "$tmp"
  fi
  echo "$dir"
}

# The kernel's own coalesced_io_test, static, built once per source version:
# the UAPI headers (make headers), then that one test of tools/testing/selftests/kvm.
build_selftest() {
  local tree out
  tree=$(source_tree "$SELFTEST_TREE")
  out="$CACHE/selftest/$(basename "$tree")"
  if [ ! -x "$out/coalesced_io_test" ]; then
    say "building coalesced_io_test from $(basename "$tree")"
    mkdir -p "$out"
    make -s -C "$tree" headers >&2 || die "make headers failed in $tree"
    make -s -C "$tree/tools/testing/selftests/kvm" -j"$(nproc)" OUTPUT="$out/build" \
      EXTRA_CFLAGS=-static LDFLAGS=-static "$out/build/coalesced_io_test" >&2 ||
      die "building coalesced_io_test failed"
    mv "$out/build/coalesced_io_test" "$out/coalesced_io_test"
    rm -rf "$out/build"
  fi
  if readelf -l "$out/coalesced_io_test" | grep -q INTERP; then die "coalesced_io_test is not static"; fi
  echo "$out/coalesced_io_test"
}

# A kernel built from a Debian source package with the kernel directory's
# patches and config fragment, cached by a hash of all three.
build_kernel() {
  local kdir=$1 tree_package=$2 version hash out tree patch
  version=$(apt-cache policy "$tree_package" | awk '$1 == "Candidate:" { print $2 }')
  hash=$({
    echo "$tree_package $version"
    for patch in "$kdir"/*.patch; do [ -f "$patch" ] && { basename "$patch"; cat "$patch"; }; done
    cat "$kdir/kernel.config"
  } | sha256sum | cut -c1-16)
  # Named after the directory kernel.config lives in: a kernel directory whose patches and
  # kernel.config are links to another's (coalesced-mmio2-slow-tsc) shares its build.
  out="$CACHE/built/$(basename "$(dirname "$(realpath "$kdir/kernel.config")")")-$hash"
  if [ ! -f "$out/bzImage" ]; then
    say "building $(basename "$kdir")'s kernel ($tree_package $version, hash $hash); log in $out.tmp/build.log"
    local source log option
    source=$(source_tree "$tree_package")
    rm -rf "$out.tmp" && mkdir -p "$out.tmp"
    tree="$out.tmp/linux"
    log="$out.tmp/build.log"
    # Hard links: patch(1) and the build replace files rather than write into
    # them, so the cached source tree stays pristine.
    cp -al "$source" "$tree"
    for patch in "$kdir"/*.patch; do
      [ -f "$patch" ] || continue
      say "applying $(basename "$patch")"
      patch -s -p1 -d "$tree" <"$patch" >>"$log" 2>&1 ||
        die "$(basename "$patch") does not apply to $tree_package: $(tail -n 5 "$log")"
    done
    {
      make -C "$tree" tinyconfig &&
        (cd "$tree" && scripts/kconfig/merge_config.sh -m .config "$kdir/kernel.config") &&
        make -C "$tree" olddefconfig
    } >>"$log" 2>&1 || die "$(basename "$kdir"): configuring failed: $(tail -n 5 "$log")"
    for option in 64BIT BLK_DEV_INITRD DEVTMPFS SERIAL_8250_CONSOLE PROC_FS SYSFS TMPFS \
      BINFMT_ELF PRINTK TTY KVM KVM_AMD; do
      grep -q "^CONFIG_$option=y" "$tree/.config" ||
        die "$(basename "$kdir"): CONFIG_$option is not built in after merging kernel.config"
    done
    make -C "$tree" -j"$(nproc)" bzImage >>"$log" 2>&1 ||
      die "$(basename "$kdir"): the kernel build failed: $(tail -n 20 "$log")"
    cp "$tree/arch/x86/boot/bzImage" "$tree/.config" "$out.tmp/"
    rm -rf "$tree" "$out" && mv "$out.tmp" "$out"
  fi
  echo "$out/bzImage"
}

# Copies MODULE and what it depends on (modinfo's depends, recursively) from an
# unpacked kernel into DEST as plain .ko, appending them to DEST/modules.list in
# load order.
stage_module() {
  local root=$1 module=$2 dest=$3 file dep
  grep -qx "$module.ko" "$dest/modules.list" 2>/dev/null && return 0
  file=$(find "$root/lib/modules" \( -name "$module.ko" -o -name "$module.ko.xz" \
    -o -name "${module//-/_}.ko" -o -name "${module//-/_}.ko.xz" \) -print -quit)
  [ -n "$file" ] || die "module $module is not in $(basename "$root")"
  for dep in $(modinfo -F depends "$file" | tr ',' ' '); do
    stage_module "$root" "$dep" "$dest"
  done
  case $file in
  *.xz) xz -dc "$file" >"$dest/$module.ko" ;;
  *) cp "$file" "$dest/$module.ko" ;;
  esac
  echo "$module.ko" >>"$dest/modules.list"
}

# The initramfs every guest shares: busybox, /init, cmmio with its shared
# libraries (ldd), the selftest.
build_base_initramfs() {
  local cmmio=$1 selftest=$2 root=$WORK/base lib
  mkdir -p "$root"/{bin,lab/bin,proc,sys,dev,tmp}
  cp /bin/busybox "$root/bin/busybox"
  cp "$LAB_DIR/guest/init" "$root/init"
  cp "$cmmio" "$root/lab/bin/cmmio"
  cp "$selftest" "$root/lab/bin/coalesced_io_test"
  for lib in $(ldd "$cmmio" | grep -o '/[^ ]*' | sort -u); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  (cd "$root" && find . | cpio -o -H newc --quiet) >"$WORK/base.cpio"
}

# One kernel's extra initramfs: its modules, its command list, its test programs.
build_kernel_initramfs() {
  local name=$1 modules_root=$2 kdir=$3 root test module
  root=$WORK/$name/root
  mkdir -p "$root/lab/modules" "$root/lab/tests"
  : >"$root/lab/modules.list"
  if [ -n "$modules_root" ]; then
    for module in irqbypass ccp kvm kvm-amd; do
      stage_module "$modules_root" "$module" "$root/lab/modules"
    done
    mv "$root/lab/modules/modules.list" "$root/lab/modules.list"
  fi
  if [ -n "$kdir" ] && compgen -G "$kdir/tests/*.c" >/dev/null; then
    for test in "$kdir"/tests/*.c; do
      gcc -static -O2 -Wall -Wextra -Werror -o "$root/lab/tests/$(basename "$test" .c)" "$test" ||
        die "$name: $(basename "$test") does not build"
    done
  fi
  python3 "$LAB_DIR/guestrun.py" commands "${kdir:--}" "$root/lab/tests" >"$root/lab/commands.tsv"
  python3 "$LAB_DIR/guestrun.py" commands "${kdir:--}" "$root/lab/tests" --json >"$OUT/$name/commands.json"
  (cd "$root" && find . | cpio -o -H newc --quiet) >"$WORK/$name/extra.cpio"
  cat "$WORK/base.cpio" "$WORK/$name/extra.cpio" >"$WORK/$name/initramfs.cpio"
}

# Records kernel.env's variables for evaluate.py.
record_kernel_vars() {
  local env_file=$1 dest=$2
  (
    # shellcheck disable=SC1090
    [ -z "$env_file" ] || source "$env_file"
    for var in ${!LAB_@}; do printf '%s=%s\n' "$var" "${!var}"; done
  ) >"$dest"
}

boot_kernel() {
  local name=$1 image=$2 smp=$3 memory=$4 cmdline=$5
  printf '%s\n' qemu-system-x86_64 -accel tcg -cpu max -smp "$smp" -m "$memory" -nodefaults \
    -display none -no-reboot -kernel "$image" -initrd "$WORK/$name/initramfs.cpio" \
    -append "console=ttyS0 panic=-1 loglevel=4 $cmdline" >"$WORK/$name/qemu.args"
  echo "console=ttyS0 panic=-1 loglevel=4 $cmdline" >"$OUT/$name/cmdline"
  say "booting $name (-smp $smp, $cmdline)"
  python3 "$LAB_DIR/guestrun.py" boot --qemu-args "$WORK/$name/qemu.args" \
    --commands "$OUT/$name/commands.json" --out "$OUT/$name" --stall "${LAB_STALL_SECONDS:-90}"
}

# Fetches or builds one kernel directory's kernel, then boots it.
run_kernel_dir() {
  local kdir=$1 name image modules_root=""
  name=$(basename "$kdir")
  [ -f "$kdir/kernel.env" ] || die "$kdir has no kernel.env"
  mkdir -p "$OUT/$name" "$WORK/$name"
  record_kernel_vars "$kdir/kernel.env" "$OUT/$name/kernel.vars"
  (
    set -a # guestrun.py reads LAB_BASE_COMMANDS, LAB_TIMEOUT_SCALE, LAB_TEST_TIMEOUT
    # shellcheck disable=SC1091
    source "$kdir/kernel.env"
    set +a
    [[ ${LAB_TSC_EARLY_PPM:-0} =~ ^-?[0-9]{1,5}$ ]] ||
      die "$name: LAB_TSC_EARLY_PPM must be a whole number of parts per million within ±99999, not '${LAB_TSC_EARLY_PPM}'"
    case ${LAB_KERNEL_SOURCE:-} in
    deb)
      local package deb
      package=$(resolve_package "${LAB_KERNEL_PACKAGE:?$name: LAB_KERNEL_PACKAGE is not set}")
      deb=$(fetch_deb "$package")
      modules_root=$(unpack_deb "$deb")
      image=$(ls "$modules_root"/boot/vmlinuz-*)
      ;;
    deb-file)
      modules_root=$(unpack_deb "${LAB_KERNEL_DEB:?$name: LAB_KERNEL_DEB is not set}")
      image=$(ls "$modules_root"/boot/vmlinuz-*)
      ;;
    build)
      image=$(build_kernel "$kdir" "${LAB_KERNEL_TREE:?$name: LAB_KERNEL_TREE is not set}")
      ;;
    bzimage)
      image=${LAB_KERNEL_IMAGE:?$name: LAB_KERNEL_IMAGE is not set}
      ;;
    *) die "$name: LAB_KERNEL_SOURCE must be deb, deb-file, build or bzimage, not '${LAB_KERNEL_SOURCE:-}'" ;;
    esac
    say "$name: kernel $image"
    build_kernel_initramfs "$name" "$modules_root" "$kdir"
    # The guest's early TSC calibration is pinned to the host TSC's measured rate (its
    # TSC under TCG), offset by LAB_TSC_EARLY_PPM: docs/lab.md, "The guests' TSC".
    local early=$((HOST_TSC_KHZ + HOST_TSC_KHZ * ${LAB_TSC_EARLY_PPM:-0} / 1000000))
    boot_kernel "$name" "$image" "${LAB_QEMU_SMP:-1}" "${LAB_QEMU_MEMORY:-1G}" \
      "tsc_early_khz=$early ${LAB_KERNEL_CMDLINE:-}"
  )
}

run_host() {
  mkdir -p "$OUT/host" "$WORK/hostbin"
  ln -sf "$CMMIO" "$WORK/hostbin/cmmio"
  ln -sf "$SELFTEST" "$WORK/hostbin/coalesced_io_test"
  record_kernel_vars "" "$OUT/host/kernel.vars"
  python3 "$LAB_DIR/guestrun.py" commands - - --json >"$OUT/host/commands.json"
  say "running on the host ($(uname -r))"
  python3 "$LAB_DIR/guestrun.py" native --commands "$OUT/host/commands.json" \
    --path "$WORK/hostbin" --out "$OUT/host"
}

# An own kernel (--bzimage/--deb) becomes a kernel directory without expectations.
own_kernel_dir() {
  local kind=$1 file=$2 dir
  [ -f "$file" ] || usage_error "--$kind $file: no such file"
  # The package name of a .deb (before its first "_"), the file name of an image.
  dir="$WORK/own/own-$(basename "$file" .deb | cut -d_ -f1 | tr -c 'A-Za-z0-9.\n-' '_')"
  mkdir -p "$dir"
  if [ "$kind" = bzimage ]; then
    printf 'LAB_KERNEL_SOURCE=bzimage\nLAB_KERNEL_IMAGE=%q\n' "$(realpath "$file")" >"$dir/kernel.env"
  else
    printf 'LAB_KERNEL_SOURCE=deb-file\nLAB_KERNEL_DEB=%q\n' "$(realpath "$file")" >"$dir/kernel.env"
  fi
  echo "$dir"
}

main() {
  local cmmio_arg="" out_arg="" own=() names=() kernel_dirs=() arg with_host=yes
  while (($#)); do
    case $1 in
    --cmmio) (($# >= 2)) || usage_error "--cmmio needs a path"; cmmio_arg=$2; shift 2 ;;
    --out) (($# >= 2)) || usage_error "--out needs a directory"; out_arg=$2; shift 2 ;;
    --bzimage | --deb) (($# >= 2)) || usage_error "$1 needs a file"; own+=("${1#--}" "$2"); shift 2 ;;
    --no-host) with_host=no; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage_error "unknown option $1" ;;
    *) names+=("$1"); shift ;;
    esac
  done
  [ -z "$cmmio_arg" ] || [ -x "$cmmio_arg" ] || usage_error "--cmmio $cmmio_arg is not an executable"
  for arg in "${names[@]}"; do
    if [[ $arg == */* ]]; then
      [ -f "$arg/kernel.env" ] || usage_error "$arg has no kernel.env"
      kernel_dirs+=("$(realpath "$arg")")
    else
      [ -f "$LAB_DIR/kernels/$arg/kernel.env" ] || usage_error "no kernel directory lab/kernels/$arg"
      kernel_dirs+=("$LAB_DIR/kernels/$arg")
    fi
  done
  if ((${#names[@]} == 0 && ${#own[@]} == 0)); then
    for arg in "$LAB_DIR"/kernels/*/; do kernel_dirs+=("${arg%/}"); done
  fi

  local started=$SECONDS
  OUT=${out_arg:-$CACHE/runs/$(date -u +%Y%m%dT%H%M%SZ)}
  mkdir -p "$CACHE" "$OUT"
  OUT=$(realpath "$OUT")
  WORK=$(mktemp -d "$CACHE/work.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  local i
  for ((i = 0; i < ${#own[@]}; i += 2)); do kernel_dirs+=("$(own_kernel_dir "${own[i]}" "${own[i + 1]}")"); done

  install_packages
  if [ -n "$cmmio_arg" ]; then
    CMMIO=$(realpath "$cmmio_arg")
  else
    say "building cmmio (scripts/build-release.sh)"
    CMMIO=$("$REPO_DIR/scripts/build-release.sh") || die "scripts/build-release.sh failed"
  fi
  SELFTEST=$(build_selftest)
  build_base_initramfs "$CMMIO" "$SELFTEST"
  gcc -O2 -Wall -Wextra -Werror -o "$WORK/host-tsc-khz" "$LAB_DIR/host-tsc-khz.c" ||
    die "lab/host-tsc-khz.c does not build"
  HOST_TSC_KHZ=$("$WORK/host-tsc-khz") || die "the host TSC's rate could not be measured"
  say "host TSC: $HOST_TSC_KHZ kHz against CLOCK_MONOTONIC"

  local evaluated=() kdir
  if [ "$with_host" = yes ]; then
    run_host
    evaluated+=(host)
  fi
  for kdir in "${kernel_dirs[@]}"; do
    run_kernel_dir "$kdir"
    evaluated+=("$(basename "$kdir")")
  done
  say "results in $OUT ($((SECONDS - started)) s)"
  python3 "$LAB_DIR/evaluate.py" "$OUT" "${evaluated[@]}"
}

main "$@"
