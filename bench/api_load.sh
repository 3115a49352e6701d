#!/usr/bin/env bash
# REST API load benchmark (a report, never a test): starts `sluice run` with the simulator at full
# rate and the API on a free loopback port, creates an API token with `sluice token create`, and
# runs wrk against GET /api/v1/services (with the token, via a small Lua script) and against
# GET /metrics. Reports requests/s and latency percentiles, and the simulator's ingest rate
# (from sluice_source_samples_total on /metrics) without load, under each load, and without load
# again, all in the same run. Figures go to docs/benchmarks.md, "REST API load (issue 4)".
#
# Usage: bench/api_load.sh [path/to/sluice] [seconds per phase, default 10]
# Needs wrk (scripts/setup installs it) and curl.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build/sluice}
secs=${2:-10}
threads=2
conns=32
rate=1000000
series=1000
batch=10000  # the default 1000 paces the simulator at about 100,000 samples/s

command -v wrk >/dev/null || { echo "api_load: wrk is missing; run scripts/setup" >&2; exit 2; }
[ -x "$bin" ] || { echo "api_load: no sluice binary at $bin; build it or pass its path" >&2; exit 2; }

work=$(mktemp -d /tmp/sluice-api-load-XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/sluice.toml" <<TOML
[store]
dir = "data"
[log]
status_interval = 0
[api]
listen = "127.0.0.1:$port"
[[sources]]
name = "sim"
type = "simulator"
rate = $rate
series = $series
batch_size = $batch
TOML

"$bin" run -c "$work/sluice.toml" >"$work/run.out" 2>"$work/run.err" &
pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do
  curl -sf "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "api_load: sluice run exited:" >&2; cat "$work/run.err" >&2; exit 1; }
  sleep 0.1
done
curl -sf "$base/readyz" >/dev/null || { echo "api_load: not ready after 10 s" >&2; exit 1; }
token=$("$bin" token create api-load --user admin -c "$work/sluice.toml" 2>/dev/null)
export SLUICE_TOKEN=$token
cat >"$work/auth.lua" <<'LUA'
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SLUICE_TOKEN")
LUA
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$base/api/v1/services")
[ "$code" = 200 ] || { echo "api_load: GET /api/v1/services with the token answered $code" >&2; exit 1; }

# Samples ingested so far (the sum over sources) and a monotonic time in seconds.
samples() { curl -sf "$base/metrics" | awk '/^sluice_source_samples_total/ {s += $2} END {printf "%.0f", s}'; }
now() { date +%s.%N; }
# CPU seconds used by `sluice run` so far (user + system).
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$pid/stat"; }
# Cores used over a phase.
cores_of() { awk -v a="$1" -v b="$2" -v t0="$3" -v t1="$4" 'BEGIN {printf "%.2f", (b - a) / (t1 - t0)}'; }
# Ingest rate over a phase: samples/s between two readings.
rate_of() { awk -v a="$1" -v b="$2" -v t0="$3" -v t1="$4" 'BEGIN {printf "%.0f", (b - a) / (t1 - t0)}'; }

# Sets idle_ingest and idle_cores.
idle_phase() {
  local s0 t0 c0 s1 t1 c1
  s0=$(samples); t0=$(now); c0=$(cpu)
  sleep "$secs"
  s1=$(samples); t1=$(now); c1=$(cpu)
  idle_ingest=$(rate_of "$s0" "$s1" "$t0" "$t1")
  idle_cores=$(cores_of "$c0" "$c1" "$t0" "$t1")
}

# Runs wrk against a path; sets wrk_rps, wrk_p50, wrk_p99, wrk_non2xx, load_ingest, load_cores.
load_phase() {
  local path=$1 script=$2 s0 t0 c0 s1 t1 c1 out
  s0=$(samples); t0=$(now); c0=$(cpu)
  out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency ${script:+-s "$script"} "$base$path")
  s1=$(samples); t1=$(now); c1=$(cpu)
  echo "$out" >"$work/wrk$(echo "$path" | tr '/' '_').txt"
  wrk_rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
  wrk_p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  wrk_p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  wrk_requests=$(echo "$out" | awk '/requests in/ {print $1}')
  wrk_non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  wrk_non2xx=${wrk_non2xx:-0}
  load_ingest=$(rate_of "$s0" "$s1" "$t0" "$t1")
  load_cores=$(cores_of "$c0" "$c1" "$t0" "$t1")
}

echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r)"
echo "binary: $bin"
echo "simulator: rate $rate samples/s requested, $series series, batch_size $batch; wrk -t$threads -c$conns -d${secs}s --latency"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
idle_phase
idle1=$idle_ingest idle1_cores=$idle_cores
load_phase /api/v1/services "$work/auth.lua"
svc_rps=$wrk_rps svc_p50=$wrk_p50 svc_p99=$wrk_p99 svc_n=$wrk_requests svc_bad=$wrk_non2xx svc_ingest=$load_ingest svc_cores=$load_cores
load_phase /metrics ""
met_rps=$wrk_rps met_p50=$wrk_p50 met_p99=$wrk_p99 met_n=$wrk_requests met_bad=$wrk_non2xx met_ingest=$load_ingest met_cores=$load_cores
idle_phase
idle2=$idle_ingest idle2_cores=$idle_cores
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| phase (${secs} s each, in this order) | requests/s | p50 | p99 | requests (non-2xx) | simulator ingest, samples/s | sluice CPU, cores |"
echo "|---|---|---|---|---|---|---|"
echo "| no API load | | | | | $idle1 | $idle1_cores |"
echo "| GET /api/v1/services (bearer token) | $svc_rps | $svc_p50 | $svc_p99 | $svc_n ($svc_bad) | $svc_ingest | $svc_cores |"
echo "| GET /metrics | $met_rps | $met_p50 | $met_p99 | $met_n ($met_bad) | $met_ingest | $met_cores |"
echo "| no API load again | | | | | $idle2 | $idle2_cores |"
