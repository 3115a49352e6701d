#!/usr/bin/env bash
# Device platform benchmark (a report, never a test): starts `sluice run` with the API and a
# source of type "platform" on a free loopback port, then in the same run
#   1. provisions 10,000 things through the REST API (POST /api/v1/things, bulk of 1,000 each)
#      and reports the time;
#   2. runs wrk against GET /healthz (the HTTP server alone: the ceiling) and against the HTTP
#      adapter, POST /channels/{id}/messages with a thing's key and a JSON object of 2 values,
#      and reports messages/s, latency percentiles, samples/s into the store (from /metrics)
#      and the ratio adapter / healthz.
# Figures go to docs/benchmarks.md, "Device platform (issue 8)".
#
# Usage: bench/platform_http.sh [path/to/sluice] [seconds per phase, default 10]
# Needs wrk (scripts/setup installs it), curl and python3.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build/sluice}
secs=${2:-10}
threads=2
conns=32
things=10000

command -v wrk >/dev/null || { echo "platform_http: wrk is missing; run scripts/setup" >&2; exit 2; }
[ -x "$bin" ] || { echo "platform_http: no sluice binary at $bin" >&2; exit 2; }

work=$(mktemp -d /tmp/sluice-platform-bench-XXXXXX)
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
name = "things"
type = "platform"
TOML

"$bin" run -c "$work/sluice.toml" >"$work/run.out" 2>"$work/run.err" &
pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do
  curl -sf "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "platform_http: sluice run exited:" >&2; cat "$work/run.err" >&2; exit 1; }
  sleep 0.1
done
curl -sf "$base/readyz" >/dev/null || { echo "platform_http: not ready after 10 s" >&2; exit 1; }
token=$("$bin" token create bench --user admin -c "$work/sluice.toml" 2>/dev/null)
auth=(-H "Authorization: Bearer $token" -H "Content-Type: application/json")

now() { date +%s.%N; }
samples() { curl -sf "$base/metrics" | awk '/^sluice_source_samples_total/ {s += $2} END {printf "%.0f", s}'; }
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$pid/stat"; }

echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r)"
echo "binary: $bin; wrk -t$threads -c$conns -d${secs}s --latency"

# 1. Provisioning: 10,000 things in bulks of 1,000.
python3 - "$work/bulk.json" <<'PY'
import json, sys
json.dump({"things": [{"name": f"sensor-{i}", "metadata": {"line": i % 7}} for i in range(1000)]},
          open(sys.argv[1], "w"))
PY
t0=$(now)
for _ in $(seq $((things / 1000))); do
  code=$(curl -s -o "$work/made.json" -w '%{http_code}' "${auth[@]}" -X POST --data-binary @"$work/bulk.json" "$base/api/v1/things")
  [ "$code" = 201 ] || { echo "platform_http: bulk create answered $code: $(head -c 300 "$work/made.json")" >&2; exit 1; }
done
t1=$(now)
provision=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
echo "provisioned $things things (10 bulk requests of 1,000): ${provision} s, $(awk -v t="$provision" -v n="$things" 'BEGIN {printf "%.0f", n / t}') things/s"

# One channel, one connected thing for the load.
thing_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["things"][0]["id"])' "$work/made.json")
thing_key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["things"][0]["key"])' "$work/made.json")
channel=$(curl -sf "${auth[@]}" -X POST -d '{"name": "bench"}' "$base/api/v1/channels" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -sf "${auth[@]}" -X POST -d "{\"thing_ids\": [\"$thing_id\"], \"channel_ids\": [\"$channel\"]}" "$base/api/v1/connect" >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Thing $thing_key" -H "Content-Type: application/json" -X POST -d '{"temperature": 21.5, "pressure": 1.2}' "$base/channels/$channel/messages")
[ "$code" = 202 ] || { echo "platform_http: a message answered $code" >&2; exit 1; }

cat >"$work/message.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"temperature": 21.5, "pressure": 1.2}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Thing $thing_key"
LUA

run_wrk() {  # path script -> sets rps p50 p99 non2xx ingest cores
  local path=$1 script=$2 s0 t0 c0 s1 t1 c1 out
  s0=$(samples); t0=$(now); c0=$(cpu)
  out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency ${script:+-s "$script"} "$base$path")
  s1=$(samples); t1=$(now); c1=$(cpu)
  rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  non2xx=${non2xx:-0}
  ingest=$(awk -v a="$s0" -v b="$s1" -v x="$t0" -v y="$t1" 'BEGIN {printf "%.0f", (b - a) / (y - x)}')
  cores=$(awk -v a="$c0" -v b="$c1" -v x="$t0" -v y="$t1" 'BEGIN {printf "%.2f", (b - a) / (y - x)}')
}

run_wrk /healthz ""
healthz_rps=$rps
echo "GET /healthz (the server alone): $rps req/s, p50 $p50, p99 $p99, non-2xx $non2xx, sluice cores $cores"
run_wrk "/channels/$channel/messages" "$work/message.lua"
echo "POST /channels/{id}/messages (2 values each): $rps msg/s, p50 $p50, p99 $p99, non-2xx $non2xx, samples into the store $ingest/s, sluice cores $cores"
echo "ratio adapter / healthz: $(awk -v a="$rps" -v b="$healthz_rps" 'BEGIN {printf "%.2f", a / b}')"
curl -sf "${auth[@]}" "$base/api/v1/services/things" | python3 -c '
import json, sys
s = json.load(sys.stdin)
d = s.get("details", {})
if isinstance(d, list):
    d = {x["name"]: x["value"] for x in d}
print("platform source:", ", ".join(f"{k} {v}" for k, v in d.items()))'
