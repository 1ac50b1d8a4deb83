#!/usr/bin/env bash
# Checks `--format openmetrics` of check-cap, verify and bench against the real consumers:
# 1. the official parser, prometheus-client's OpenMetrics parser
#    (prometheus_client.openmetrics.parser.text_string_to_metric_families), which must
#    accept each output and reject the same text without its `# EOF` (so it can fail);
# 2. a real prometheus-node-exporter (Debian's package) on a free loopback port with its
#    textfile collector pointed at the three reports, unchanged: its /metrics must report
#    no textfile scrape error and every cmmio sample with the same labels and value.
# Installs what it lacks (apt: python3-venv, prometheus-node-exporter; pip: prometheus-client
# into a venv in ${CMMIO_LAB_CACHE:-/var/cache/cmmio-lab}, outside the clone). No stdin needed.
#   scripts/openmetrics-check.sh [CMMIO_BINARY]   (default: the README's release build)
set -euo pipefail
cd "$(dirname "$0")/.."
name=openmetrics-check.sh
cmmio=${1:-}
if [ -z "$cmmio" ]; then cmmio=$(scripts/build-release.sh); fi
[ -x "$cmmio" ] || { echo "$name: $cmmio is not an executable cmmio" >&2; exit 64; }

cache=${CMMIO_LAB_CACHE:-/var/cache/cmmio-lab}
venv=$cache/openmetrics-venv
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo -n"
need=()
python3 -c "import ensurepip, venv" 2>/dev/null || need+=(python3-venv)
command -v prometheus-node-exporter >/dev/null || need+=(prometheus-node-exporter)
if [ ${#need[@]} -gt 0 ]; then
  echo "$name: installing ${need[*]}" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null >/dev/null
fi
if ! "$venv/bin/python" -c "import prometheus_client" 2>/dev/null; then
  echo "$name: installing prometheus-client into $venv" >&2
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check prometheus-client </dev/null
fi
python=$venv/bin/python

work=$(mktemp -d /tmp/cmmio-openmetrics.XXXXXX)
exporter=""
cleanup() {
  if [ -n "$exporter" ]; then kill "$exporter" 2>/dev/null || true; wait "$exporter" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/textfile"

# The three reports, as a fleet would write them for the textfile collector.
"$cmmio" check-cap --format openmetrics --output "$work/textfile/cmmio-check-cap.prom"
"$cmmio" verify --format openmetrics --output "$work/textfile/cmmio-verify.prom"
"$cmmio" bench --modes ram,plain,coalesced --ring-sizes 1,max --writes 2000 --runs 3 --warmup 0 --no-progress \
  --format openmetrics --output "$work/textfile/cmmio-bench.prom"

# 1. The official OpenMetrics parser.
"$python" - "$work/textfile" <<'PY'
import sys, pathlib
from prometheus_client.openmetrics.parser import text_string_to_metric_families

folder = pathlib.Path(sys.argv[1])
required = {
    "cmmio-check-cap.prom": ["cmmio_check_cap_feature_supported", "cmmio_check_cap_report_timestamp_seconds"],
    "cmmio-verify.prom": ["cmmio_verify_check_passed", "cmmio_verify_passed"],
    "cmmio-bench.prom": ["cmmio_bench_writes_per_second", "cmmio_bench_write_time_nanoseconds",
                         "cmmio_bench_speedup_vs_plain_ratio", "cmmio_bench_warnings"],
}
for file, names in required.items():
    text = (folder / file).read_text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in names:
        assert name in families and families[name].samples, f"{file}: no samples of {name}"
    assert all(f.type == "gauge" for f in families.values()), f"{file}: a family is not a gauge"
    samples = sum(len(f.samples) for f in families.values())
    # The same text without its terminator must be refused, or this check proves nothing.
    try:
        list(text_string_to_metric_families(text.replace("# EOF\n", "")))
    except ValueError:
        pass
    else:
        raise SystemExit(f"{file}: the parser accepted the text without # EOF")
    print(f"openmetrics parser: {file}: {len(families)} families, {samples} samples, valid")
bench = {f.name: f for f in text_string_to_metric_families((folder / "cmmio-bench.prom").read_text())}
for sample in bench["cmmio_bench_writes_per_second"].samples:
    missing = {"mode", "space", "ring_size", "drain", "cpu", "kernel_release", "backend"} - sample.labels.keys()
    assert not missing, f"writes_per_second lacks labels {missing}"
PY

# 2. A real node_exporter reading the files unchanged.
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prometheus-node-exporter --web.listen-address="127.0.0.1:$port" --collector.disable-defaults --collector.textfile \
  --collector.textfile.directory="$work/textfile" >"$work/exporter.log" 2>&1 </dev/null &
exporter=$!
"$python" - "$port" "$work/textfile" "$work/exporter.log" <<'PY'
import sys, time, pathlib, urllib.request
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as prometheus_text

port, folder, log = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
url = f"http://127.0.0.1:{port}/metrics"
for attempt in range(100):
    try:
        body = urllib.request.urlopen(url, timeout=2).read().decode()
        break
    except OSError:
        time.sleep(0.1)
else:
    raise SystemExit(f"node_exporter never answered on {url}: {log.read_text()[-500:]}")
scraped = {}
for family in prometheus_text(body):
    for sample in family.samples:
        scraped[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
errors = [v for (name, _), v in scraped.items() if name == "node_textfile_scrape_error"]
assert errors == [0.0], f"node_textfile_scrape_error is {errors}: {log.read_text()[-500:]}"
for file in sorted(folder.iterdir()):
    count = 0
    for family in openmetrics(file.read_text()):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key in scraped, f"{file.name}: {key} is not in node_exporter's /metrics"
            assert scraped[key] == sample.value, f"{key}: {scraped[key]} scraped, {sample.value} in the file"
            count += 1
    mtime = [v for (name, labels), v in scraped.items()
             if name == "node_textfile_mtime_seconds" and dict(labels).get("file", "").endswith(file.name)]
    assert mtime, f"node_exporter did not read {file.name}"
    print(f"node_exporter: {file.name}: all {count} samples scraped back with their labels and values")
PY
echo "$name: passed"
