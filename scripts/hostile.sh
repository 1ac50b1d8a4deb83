#!/usr/bin/env bash
# Most cases hand bash -c a script that expands $CMMIO_BIN itself.
# shellcheck disable=SC2016
# A hostile pass over the release binary: odd numbers, output paths and devices,
# signals, resource limits, an unprivileged user, control characters, claims
# without evidence and concurrent writers. Every case checks the contract: the
# documented exit status, nothing killed by a signal, and on failure exactly one
# line on stderr that starts with "cmmio: ", has no control character and is cut
# to a sensible length. Prints "N passed, N failed, N skipped" and exits 1 on any
# failure.
#
#   scripts/hostile.sh [path/to/cmmio]    (default: scripts/build-release.sh's binary)
#
# Safe as root on a real host: cases that touch /dev run in a private mount
# namespace (unshare -m) over a tmpfs /dev of their own; files go to a temporary
# folder; cgroups made here are removed on exit. Cases that need root, KVM,
# unshare or a pids cgroup are skipped with the reason where those are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

cmmio=${1:-$(scripts/build-release.sh)}
cmmio=$(realpath "$cmmio")
work=$(mktemp -d "${TMPDIR:-/tmp}/cmmio-hostile.XXXXXX")
cgroups=()
cleanup() {
  local group
  for group in "${cgroups[@]}"; do rmdir "$group" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

passed=0 failed=0 skipped=0
B=(--writes 2000 --runs 1 --warmup 0 --no-progress)

# ---- the checks every case makes -------------------------------------------

# stderr of the last case: one "cmmio: " line, printable, not too long.
one_sentence() {
  local err=$1 lines
  lines=$(grep -c '' "$err" || true)
  [[ $lines == 1 ]] || { echo "    stderr has $lines lines"; return 1; }
  grep -q '^cmmio: ' "$err" || { echo "    stderr does not start with 'cmmio: '"; return 1; }
  # Control characters other than the final newline (LC_ALL=C: bytes, and C1 as UTF-8 0xC2 0x80-0x9F).
  if LC_ALL=C tr -d '\n' <"$err" | LC_ALL=C grep -q '[[:cntrl:]]'; then
    echo "    stderr holds a control character"
    return 1
  fi
  if LC_ALL=C grep -qP '\xC2[\x80-\x9F]' "$err"; then
    echo "    stderr holds a C1 control character"
    return 1
  fi
  [[ $(wc -c <"$err") -lt 1300 ]] || { echo "    stderr is $(wc -c <"$err") bytes"; return 1; }
}

# case NAME WANT [CHECK] -- COMMAND...
# Runs COMMAND (in a fresh folder, $dir) with a 120 s limit; WANT is the exit status
# ("any-fail" for any non-zero status, "any-ok" for any status, a failure still
# needing its one sentence); CHECK is a bash expression that must hold
# afterwards ($out and $err name the captured stdout and stderr).
case_() {
  local name=$1 want=$2 check=${3:-}
  shift 3
  [[ $1 == -- ]] && shift
  dir=$(mktemp -d "$work/case.XXXXXX")
  out=$dir.out err=$dir.err
  local status=0
  if declare -F "$1" >/dev/null; then
    (cd "$dir" && "$@") </dev/null >"$out" 2>"$err" || status=$?
  else
    (cd "$dir" && exec timeout -s KILL 120 "$@") </dev/null >"$out" 2>"$err" || status=$?
  fi
  local problems=""
  if [[ $status -gt 128 && $want != "$status" ]]; then
    problems+="    killed by signal $((status - 128))"$'\n'
  elif [[ $want == any-fail && $status == 0 ]]; then
    problems+="    exit status 0, expected a failure"$'\n'
  elif [[ $want != any-fail && $want != any-ok && $want != "$status" ]]; then
    problems+="    exit status $status, expected $want"$'\n'
  fi
  if [[ $status != 0 ]] && ! msg=$(one_sentence "$err"); then problems+="$msg"$'\n'; fi
  if [[ $status == 0 && -s $err ]] && ! grep -q '^cmmio: warning: ' "$err"; then
    problems+="    success with something on stderr"$'\n'
  fi
  if [[ -n $check ]] && ! (cd "$dir" && eval "$check") >/dev/null 2>&1; then
    problems+="    check failed: $check"$'\n'
  fi
  if [[ -z $problems ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    printf 'FAIL %s\n%s    stderr: %s\n' "$name" "$problems" "$(head -c 400 "$err" | tr '\n' '|')"
  fi
}

# limited BLOCKS ARGS...: cmmio ARGS under ulimit -f BLOCKS; the limit applies to
# cmmio alone, and its stderr goes through cat, outside the limit.
limited() { bash -c "( ulimit -f $1; exec \"\$CMMIO_BIN\" ${*:2} ) 2>&1 >&3 | cat >&2; exit \${PIPESTATUS[0]}" 3>&1; }

skip() {
  skipped=$((skipped + $1))
  echo "skip $1 case(s): $2"
}

# ---- what this host offers ---------------------------------------------------

kvm=false
"$cmmio" check-cap >/dev/null 2>&1 && kvm=true
root=false
[[ $EUID == 0 ]] && root=true
namespaces=false
$root && unshare -m true 2>/dev/null && namespaces=true
pids_root=""
if $root; then
  if [[ -e /sys/fs/cgroup/pids/cgroup.procs ]]; then
    pids_root=/sys/fs/cgroup/pids
  elif grep -qw pids /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
    pids_root=/sys/fs/cgroup
  fi
fi
export CMMIO_BIN=$cmmio
unset CMMIO_DEVICE

# ---- 1. numbers: checked before any arithmetic (no KVM needed) --------------

for value in -1 -5 -9223372036854775808 9223372036854775807 18446744073709551616 \
  99999999999999999999999999 "" " 5" "5 " 0x10 1e3 ٣ ５; do
  case_ "bench --runs '$value'" 64 "" -- "$cmmio" bench --runs "$value"
done
for option in --writes --warmup --flush-every --vcpus --numa-node; do
  for value in -1 -9223372036854775808 9223372036854775807 18446744073709551616; do
    case_ "bench $option $value" 64 "" -- "$cmmio" bench "$option" "$value"
  done
done
case_ "bench --writes 4294967296" 64 "" -- "$cmmio" bench --writes 4294967296
case_ "bench --vcpus 1025" 64 "" -- "$cmmio" bench --vcpus 1025
case_ "bench --numa-node 1024" 64 "" -- "$cmmio" bench --numa-node 1024
case_ "bench --runs 1000001" 64 "" -- "$cmmio" bench --runs 1000001
case_ "bench --warmup 1000001" 64 "" -- "$cmmio" bench --warmup 1000001
for value in 1e11 18446744073 18446744074 1e300 inf -inf nan -0 0 1e-400 0x1p70 1000000.5 -1e-9; do
  case_ "bench --timeout $value" 64 "" -- "$cmmio" bench --timeout "$value"
done
case_ "--writes -5 names the range" 64 "grep -q 'got -5' \$err" -- "$cmmio" bench --writes -5
for value in 0 -1 4294967296 99999999999999999999 1,,2 max,0; do
  case_ "bench --ring-sizes $value" 64 "" -- "$cmmio" bench --ring-sizes "$value"
done
for value in 0-4294967296 99999999999 -1 1-0; do
  case_ "bench --vcpu-cpus $value" 64 "" -- "$cmmio" bench --vcpu-cpus "$value"
done
case_ "create-buffer --buffers -9223372036854775808" 64 "" -- "$cmmio" create-buffer --buffers -9223372036854775808
case_ "register --width -1" 64 "" -- "$cmmio" register --zone 0x100000:8 --width -1
case_ "register --width 18446744073709551616" 64 "" -- "$cmmio" register --zone 0x100000:8 --width 18446744073709551616

# ---- 8. user strings in messages: escaped and cut (no KVM needed) -----------

long=$(head -c 100000 /dev/zero | tr '\0' x)
case_ "device with newline and ESC" 2 "! grep -q \$'\\e' \$err" -- "$cmmio" check-cap --device $'/dev/\nkvm\e[31m'
case_ "device with CR, tab, DEL" 2 "" -- "$cmmio" check-cap --device $'/nonexistent/\r\t\x7f'
case_ "device with C1 CSI and RTL override" 2 "" -- "$cmmio" check-cap --device $'/nonexistent/\xc2\x9b31m\xe2\x80\xaeevil'
case_ "device of 100 KB" 2 "grep -q 'characters cut' \$err" -- "$cmmio" check-cap --device "/nonexistent/$long"
case_ "CMMIO_DEVICE with ESC and BEL" 2 "grep -q CMMIO_DEVICE \$err" -- env CMMIO_DEVICE=$'/nonexistent/\e]0;t\a' "$cmmio" check-cap
case_ "--format with ESC" 64 "" -- "$cmmio" check-cap --format $'json\e[2J'
case_ "--require with newline" 64 "" -- "$cmmio" check-cap --require $'coalesced-mmio\ncmmio: forged'
case_ "--modes with newline" 64 "" -- "$cmmio" bench --modes $'ram\ncmmio: forged'
case_ "--modes of 100 KB" 64 "" -- "$cmmio" bench --modes "$long"
case_ "--zone with ESC" 64 "" -- "$cmmio" register --zone $'0x1\e[1m:8'
case_ "--zone of 100 KB" 64 "" -- "$cmmio" register --zone "$long"
case_ "--probe with NUL-like junk" 64 "" -- "$cmmio" register --zone 0x100000:8 --probe $'0x100000\x01'
case_ "--space with tab" 64 "" -- "$cmmio" verify --space $'mmio\t'
case_ "--output in a missing folder with ESC" 1 "" -- "$cmmio" check-cap --device /nonexistent/kvm --output $'/nonexistent\e[31m/r'
case_ "unknown option with ESC" 64 "" -- "$cmmio" check-cap $'--\e[31mbogus'
case_ "unknown subcommand of 100 KB" 64 "" -- "$cmmio" "$long"

# ---- 9, 12. conflicting outputs and options a combination ignores -----------

case_ "--output and --plot the same" 64 "" -- "$cmmio" bench --output r.json --plot r.json
case_ "--output - and --plot -" 64 "" -- "$cmmio" bench --output - --plot -
case_ "--output x and --plot ./x" 64 "" -- "$cmmio" bench --output x --plot ./x
case_ "--plot and --save .svg" 64 "" -- "$cmmio" bench --plot run.svg --save run
case_ "--output is --save's .json" 64 "" -- "$cmmio" bench --output run.json --save run
case_ "--output through a symlink to --plot" 64 "" -- bash -c 'ln -s p.svg link && exec "$CMMIO_BIN" bench --output link --plot p.svg'
case_ "--output and --plot hard links of one file" 64 "" -- bash -c 'touch a && ln a b && exec "$CMMIO_BIN" bench --output a --plot b'
# Through a link of our own to /dev/stdout: a binary without the policy would replace
# the link, never the host's /dev/stdout.
case_ "--output - and --plot a link to /dev/stdout (a pipe)" 64 "" -- \
  bash -c 'ln -s /dev/stdout so && "$CMMIO_BIN" bench --output - --plot so | cat; exit "${PIPESTATUS[0]}"'
case_ "--ring-sizes with --modes plain" 64 "" -- "$cmmio" bench --modes plain --ring-sizes 4
case_ "--drain thread with --modes ram" 64 "" -- "$cmmio" bench --modes ram --drain thread
case_ "--drain-cpus with --drain exit" 64 "" -- "$cmmio" bench --drain-cpus 0
case_ "--drain-cpus with ram,plain" 64 "" -- "$cmmio" bench --modes ram,plain --drain thread --drain-cpus 0
case_ "--show-guest with --save" 64 "" -- "$cmmio" bench --show-guest --save g
case_ "--save ending in /" 64 "" -- "$cmmio" bench --save dir/
case_ "--save -" 64 "" -- "$cmmio" bench --save -

# ---- the cases that need KVM -------------------------------------------------

if ! $kvm; then
  skip 75 "KVM is not usable here ($("$cmmio" check-cap 2>&1 >/dev/null | head -c 200))"
else
  # 3. Output policy in a folder of our own.
  case_ "symlink followed to its target" 0 "test -L link && test -s target" -- \
    bash -c 'ln -s target link && exec "$CMMIO_BIN" check-cap --output link'
  case_ "dangling symlink creates its target" 0 "test -L link && test -s sub/t" -- \
    bash -c 'mkdir sub && ln -s sub/t link && exec "$CMMIO_BIN" check-cap --output link'
  case_ "symlink chain of 5" 0 "test -L l1 && test -s f" -- \
    bash -c 'ln -s f l5; for i in 4 3 2 1; do ln -s l$((i + 1)) l$i; done; exec "$CMMIO_BIN" check-cap --output l1'
  case_ "symlink loop" 1 "test -L a && test -L b" -- bash -c 'ln -s a b && ln -s b a && exec "$CMMIO_BIN" check-cap --output a'
  case_ "symlink to /dev/stdout" 0 "test -L out && grep -q cmmio.check-cap \$out" -- \
    bash -c 'ln -s /dev/stdout out && exec "$CMMIO_BIN" check-cap --format json --output out'
  case_ "--output -" 0 "grep -q cmmio.check-cap \$out && ! test -e ./-" -- "$cmmio" check-cap --format json --output -
  case_ "--output /proc/self/fd/1" 0 "grep -q cmmio.check-cap \$out" -- "$cmmio" check-cap --format json --output /proc/self/fd/1
  case_ "--output a FIFO with a reader" 0 "test -p fifo && grep -q cmmio.check-cap got" -- \
    bash -c 'mkfifo fifo && { cat fifo >got & } && "$CMMIO_BIN" check-cap --format json --output fifo; s=$?; wait; exit $s'
  for mode in 600 640 444 755 2755; do
    case_ "existing mode $mode kept" 0 "[[ \$(stat -c %a f) == $mode ]]" -- \
      bash -c "touch f && chmod $mode f && exec \"\$CMMIO_BIN\" check-cap --output f"
  done
  case_ "new file: 0666 less umask 077" 0 "[[ \$(stat -c %a f) == 600 ]]" -- bash -c 'umask 077 && exec "$CMMIO_BIN" check-cap --output f'
  case_ "a 255-byte name" 0 "test -s $(printf 'n%.0s' {1..255})" -- "$cmmio" check-cap --output "$(printf 'n%.0s' {1..255})"
  case_ "a 256-byte name" 1 "[[ -z \$(ls -A) ]]" -- "$cmmio" check-cap --output "$(printf 'n%.0s' {1..256})"
  case_ "a name with a newline" 0 "test -s \$'a\\nb'" -- "$cmmio" check-cap --output $'a\nb'
  case_ "--output a directory" 1 "test -d d" -- bash -c 'mkdir d && exec "$CMMIO_BIN" check-cap --output d'
  case_ "--output under a regular file" 1 "" -- bash -c 'touch f && exec "$CMMIO_BIN" check-cap --output f/r'
  case_ "--output in a missing folder" 1 "[[ -z \$(ls -A) ]]" -- "$cmmio" check-cap --output missing/r
  case_ "stdout closed" 1 "" -- bash -c 'exec "$CMMIO_BIN" check-cap >&-'
  case_ "stdout read-only" 1 "" -- bash -c 'exec "$CMMIO_BIN" check-cap 1</dev/null'
  case_ "bench --output unwritable: refused before measuring" 1 "" -- \
    timeout -s KILL 10 "$cmmio" bench --writes 4000000000 --output missing/r.json
  case_ "bench --save in a missing folder: nothing written" 1 "[[ -z \$(ls -A) ]]" -- "$cmmio" bench "${B[@]}" --save missing/run
  case_ "bench --save where .svg is a directory: nothing written" 1 "[[ \$(ls -A) == run.svg ]]" -- \
    bash -c 'mkdir run.svg && exec "$CMMIO_BIN" bench --writes 2000 --runs 1 --warmup 0 --no-progress --save run'
  case_ "bench --save under ulimit -f 4: all or nothing" 1 "[[ -z \$(ls -A) ]]" -- \
    limited 4 bench "${B[@]}" --save run --output t
  case_ "bench --save, --plot and --output as a set" 0 "[[ \$(ls -A | wc -l) == 6 ]]" -- \
    "$cmmio" bench "${B[@]}" --save run --plot p.svg --output r.txt

  # 4, 5. SIGXFSZ and SIGPIPE.
  case_ "ulimit -f 0 and --output" 1 "[[ -z \$(ls -A) ]]" -- limited 0 check-cap --output r
  case_ "ulimit -f 0 and stdout a file" 1 "" -- limited 0 check-cap ">r"
  case_ "ulimit -f 1 and a JSON bench report" 1 "[[ -z \$(ls -A) ]]" -- \
    limited 1 bench "${B[@]}" --format json --output r
  case_ "broken pipe: exit 1, one sentence" 1 "" -- \
    bash -c '"$CMMIO_BIN" check-cap | (exec 0<&-; sleep 1); exit "${PIPESTATUS[0]}"'
  case_ "broken pipe after bench" 1 "" -- \
    bash -c '"$CMMIO_BIN" bench --writes 2000 --runs 1 --warmup 0 --no-progress | (exec 0<&-; sleep 3); exit "${PIPESTATUS[0]}"'

  # 6, 7. Memory and file descriptors.
  for limit in 30000 40000 60000 90000 120000 160000; do
    case_ "bench under ulimit -v $limit" any-ok "! grep -q 'Fatal error' \$err" -- \
      bash -c "ulimit -v $limit; exec \"\$CMMIO_BIN\" bench ${B[*]}"
  done
  for files in 4 5 6 8; do
    case_ "check-cap under ulimit -n $files" any-ok "[[ \$(grep -c '' \$err) -le 1 ]]" -- \
      bash -c "ulimit -n $files; exec \"\$CMMIO_BIN\" check-cap"
  done
  case_ "bench under ulimit -n 7" any-ok "" -- bash -c "ulimit -n 7; exec \"\$CMMIO_BIN\" bench ${B[*]}"

  # 11. Signals.
  signal_case() { # NAME SIGNALS... : bench, then the signals 1.5 s in
    local name=$1
    shift
    local script='"$CMMIO_BIN" bench --writes 300000 --runs 3 --no-progress --format json --output r.json & p=$!; sleep 1.5'
    local sig
    for sig in "$@"; do script+="; kill -$sig \$p"; done
    script+='; wait $p'
    case_ "$name" 130 "grep -q '\"interrupted\": true' r.json && grep -q 'SIG$1' \$err" -- bash -c "$script"
  }
  signal_case "SIGHUP writes the partial report" HUP
  signal_case "SIGTERM writes the partial report" TERM
  signal_case "SIGINT writes the partial report" INT
  signal_case "SIGINT then SIGTERM reads SIGINT" INT TERM
  signal_case "SIGHUP then SIGINT reads SIGHUP" HUP INT
  case_ "verify: SIGHUP" 130 "grep -q SIGHUP \$err" -- \
    bash -c '"$CMMIO_BIN" verify --format json >r.json & p=$!; sleep 0.7; kill -HUP $p; wait $p'
  if command -v python3 >/dev/null && python3 -c 'import signal' 2>/dev/null; then
    for sig in SIGINT SIGHUP SIGTERM; do
      case_ "$sig pending before main" 130 "grep -q '\"interrupted\": true' \$out" -- python3 -c "
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.$sig])
os.kill(os.getpid(), signal.$sig)
os.execv(sys.argv[1], sys.argv[1:])" "$cmmio" bench --format json "${B[@]}"
    done
  else
    skip 3 "python3 is needed to exec with a signal pending"
  fi

  # 12. Claims without evidence.
  case_ "register: every default probe in RAM" 1 "grep -q 'NOTHING VERIFIED' \$out" -- "$cmmio" register --zone 0x1000:0x10
  case_ "register: every default probe above 4 GiB" 1 "" -- "$cmmio" register --zone 0x100000000:8
  case_ "unregister: every default probe in RAM" 1 "" -- "$cmmio" unregister --zone 0x0:0x10 --range 0x0:0x10
  case_ "register: JSON says not passed" 1 "grep -q '\"passed\": false' \$out" -- "$cmmio" register --zone 0x1000:0x10 --format json
  case_ "register: (1 write)" 0 "grep -q '(1 write)' \$out" -- "$cmmio" register --zone 0x100000:8 --probe 0x100000

  # Concurrency: ten writers of one file, and readers never see half a report.
  case_ "ten concurrent writers of one --output" 0 "python3 -m json.tool r.json >/dev/null || grep -q cmmio.check-cap r.json; [[ \$(ls -A) == r.json ]]" -- \
    bash -c 'for i in $(seq 10); do "$CMMIO_BIN" check-cap --format json --output r.json & done; s=0; for j in $(jobs -p); do wait $j || s=1; done; exit $s'

  # Devices, in a private mount namespace over a /dev of our own (never the host's /dev).
  if $namespaces; then
    kvm_dev="$(stat -c '%t %T' /dev/kvm)"
    read -r kvm_major kvm_minor <<<"$kvm_dev"
    private_dev() { # the script runs with a tmpfs /dev holding only what it names
      unshare -m bash -c "set -e
        mount --make-rprivate /
        mount -t tmpfs -o size=64k,mode=755 cmmio-hostile /dev
        mknod -m 666 /dev/kvm c $((16#$kvm_major)) $((16#$kvm_minor))
        mknod -m 666 /dev/full c 1 7; mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5
        mknod -m 660 /dev/cmmio-block b 7 250
        ln -s /proc/self/fd /dev/fd; ln -s /proc/self/fd/1 /dev/stdout; ln -s /proc/self/fd/2 /dev/stderr
        set +e
        $1"
    }
    case_ "/dev/full: ENOSPC, still a device" 1 "" -- private_dev '"$CMMIO_BIN" check-cap --output /dev/full; s=$?; test -c /dev/full || s=99; exit $s'
    case_ "/dev/null: written through" 0 "" -- private_dev '"$CMMIO_BIN" check-cap --output /dev/null; s=$?; test -c /dev/null || s=99; exit $s'
    case_ "/dev/zero: written through" 0 "" -- private_dev '"$CMMIO_BIN" check-cap --output /dev/zero; s=$?; test -c /dev/zero || s=99; exit $s'
    case_ "/dev/stdout: a symlink kept" 0 "grep -q cmmio.check-cap \$out" -- private_dev '"$CMMIO_BIN" check-cap --format json --output /dev/stdout; s=$?; test -L /dev/stdout || s=99; exit $s'
    case_ "/dev/fd/1" 0 "grep -q cmmio.check-cap \$out" -- private_dev '"$CMMIO_BIN" check-cap --format json --output /dev/fd/1'
    case_ "a block device is refused" 1 "" -- private_dev '"$CMMIO_BIN" check-cap --output /dev/cmmio-block; s=$?; test -b /dev/cmmio-block || s=99; exit $s'
    case_ "/dev itself" 1 "" -- private_dev '"$CMMIO_BIN" check-cap --output /dev; s=$?; test -d /dev || s=99; exit $s'
    case_ "--save into /dev/null" 64 "" -- private_dev '"$CMMIO_BIN" bench --save /dev/null --plot /dev/null.svg'
    case_ "--device /dev/null" 2 "" -- private_dev '"$CMMIO_BIN" check-cap --device /dev/null'
    case_ "--device /dev/full" 2 "" -- private_dev '"$CMMIO_BIN" check-cap --device /dev/full'
    case_ "--device a block device" 2 "" -- private_dev '"$CMMIO_BIN" check-cap --device /dev/cmmio-block'
    case_ "no /dev/kvm: remedy for the default path" 2 "grep -q 'load the kvm module' \$err" -- private_dev 'rm /dev/kvm; "$CMMIO_BIN" check-cap'
  else
    skip 12 "device cases need root and unshare -m (a private mount namespace)"
  fi

  # An unprivileged user.
  if $root && command -v setpriv >/dev/null; then
    as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    if getent group kvm >/dev/null; then kvm_check="grep -q \"'kvm' group\" \$err"; else kvm_check="! grep -q \"'kvm' group\" \$err"; fi
    case_ "nobody: EACCES with a remedy that fits this host" 2 "grep -q EACCES \$err && $kvm_check" -- \
      bash -c "cd / && exec ${as_nobody[*]} \"\$CMMIO_BIN\" check-cap"
    case_ "nobody: --output in root's folder" any-fail "" -- bash -c "cd / && exec ${as_nobody[*]} \"\$CMMIO_BIN\" check-cap --device /nonexistent --output /root/cmmio-hostile-r"
  else
    skip 2 "the unprivileged-user cases need root and setpriv"
  fi

  # 1. KVM_RUN's EAGAIN under a pids cgroup limit of 1.
  if [[ -n $pids_root ]]; then
    for command in "register --zone 0x100000:0x1000" "bench ${B[*]}" "verify" "unregister --zone 0x100000:8 --range 0x100000:8"; do
      group="$pids_root/cmmio-hostile-$$-${#cgroups[@]}"
      mkdir "$group"
      cgroups+=("$group")
      echo 1 >"$group/pids.max"
      case_ "pids.max 1: ${command%% *}" 2 "grep -q pids.max \$err && ! grep -q 'conformance checks failed' \$err" -- \
        timeout -s KILL 60 sh -c "echo \$\$ >$group/cgroup.procs && exec \"\$CMMIO_BIN\" $command"
    done
  else
    skip 4 "the pids cgroup cases need root and a pids cgroup hierarchy"
  fi
fi

total=$((passed + failed))
echo "hostile: $total cases run against $cmmio"
echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed == 0 ]]
