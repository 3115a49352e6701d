#!/usr/bin/env bash
# MQTT adapter benchmark (a report, never a test): a mosquitto with the dynamic-security plugin
# and `sluice run` with the API, a platform source whose MQTT adapter manages that broker, and a
# plain mqtt source (the baseline: the same messages, the same broker, no platform) on free
# loopback ports. In the same run:
#   1. provisions 1,000 things through the REST API (one bulk request) and connects them to a
#      channel (one request), and reports the time until the broker holds them all (the adapter's
#      mqtt_sync_pending back to 0);
#   2. rotates one thing's key and reports the time until the broker refuses the old key;
#   3. publishes N messages of 2 values as a thing (mosquitto_pub -l, QoS 1) to
#      channels/<id>/messages, and the same N to the baseline's topic, and reports each one's
#      messages/s and samples/s into the store (from the publish's start until the source's
#      count reached them all) and the ratio adapter / baseline.
# Figures go to docs/benchmarks.md, "Device platform (issue 8)".
#
# Usage: bench/platform_mqtt.sh [path/to/sluice] [messages, default 100000] [things, default 1000]
# Needs mosquitto, mosquitto_pub, mosquitto_ctrl, curl and python3 (scripts/setup).
set -euo pipefail
[ -n "${BENCH_TRACE:-}" ] && set -x

here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build/sluice}
n=${2:-100000}
things=${3:-1000}

[ -x "$bin" ] || { echo "platform_mqtt: no sluice binary at $bin" >&2; exit 2; }
plugin=$(find /usr/lib -name mosquitto_dynamic_security.so 2>/dev/null | head -1)
[ -n "$plugin" ] || { echo "platform_mqtt: the mosquitto dynamic-security plugin is missing" >&2; exit 2; }

work=$(mktemp -d /tmp/sluice-platform-mqtt-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }

# The broker.
mport=$(free_port)
mosquitto_ctrl dynsec init "$work/dynsec.json" admin admin-secret >/dev/null
cat >"$work/mosquitto.conf" <<CONF
user root
persistence false
log_dest file $work/mosquitto.log
listener $mport 127.0.0.1
allow_anonymous false
plugin $plugin
plugin_opt_config_file $work/dynsec.json
max_queued_messages 0
CONF
mosquitto -c "$work/mosquitto.conf" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  mosquitto_ctrl -h 127.0.0.1 -p "$mport" -u admin -P admin-secret dynsec listClients >/dev/null 2>&1 && break
  sleep 0.1
done
ctrl() { mosquitto_ctrl -h 127.0.0.1 -p "$mport" -u admin -P admin-secret dynsec "$@" >/dev/null 2>&1; }
# The baseline's own broker client and the publisher of its messages.
ctrl createClient baseline -p baseline-secret
ctrl createRole baseline
ctrl addRoleACL baseline subscribePattern 'bench/#' allow
ctrl addRoleACL baseline publishClientReceive 'bench/#' allow
ctrl addRoleACL baseline publishClientSend 'bench/#' allow
ctrl addClientRole baseline baseline

# Sluice.
port=$(free_port)
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
mqtt_host = "127.0.0.1"
mqtt_port = $mport
mqtt_admin_username = "admin"
mqtt_admin_password = "admin-secret"
[[sources]]
name = "baseline"
type = "mqtt"
host = "127.0.0.1"
port = $mport
username = "baseline"
password = "baseline-secret"
protocol = "5"
clean_session = false
topic = "bench/#"
format = "json"
json_flat = true
TOML
"$bin" run -c "$work/sluice.toml" >"$work/run.out" 2>"$work/run.err" &
pids+=($!)
pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do
  curl -sf "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "platform_mqtt: sluice run exited:" >&2; cat "$work/run.err" >&2; exit 1; }
  sleep 0.1
done
token=$("$bin" token create bench --user admin -c "$work/sluice.toml" 2>/dev/null)
auth=(-H "Authorization: Bearer $token" -H "Content-Type: application/json")
detail() {  # source name -> prints its details as name=value lines
  curl -sf "${auth[@]}" "$base/api/v1/services/$1" | python3 -c '
import json, sys
s = json.load(sys.stdin)
for k, v in s.get("details", {}).items():
    print(f"{k}={v}")
for k, v in s.get("metrics", {}).items():
    print(f"metrics.{k}={v}")'
}
value() { detail "$1" | awk -F= -v k="$2" '$1 == k {print $2}'; }
wait_for() {  # source key target: waits until the integer detail reaches target
  for _ in $(seq 6000); do
    v=$(value "$1" "$2"); v=${v%% *}
    [ -n "$v" ] && [ "$v" -ge "$3" ] && return 0
    sleep 0.05
  done
  echo "platform_mqtt: $1 $2 did not reach $3" >&2; detail "$1" >&2; exit 1
}
for _ in $(seq 200); do
  [ "$(value things mqtt_connects)" = 1 ] && [ "$(curl -sf "${auth[@]}" "$base/api/v1/services/baseline" | python3 -c 'import json,sys; print(json.load(sys.stdin)["health"]["state"])')" = HEALTHY ] && break
  sleep 0.1
done

echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r)"
echo "mosquitto $(mosquitto -h 2>/dev/null | awk 'NR == 1 {print $3}'), $n messages per run"

# 1. Provisioning into the broker.
python3 - "$work/bulk.json" "$things" <<'PY'
import json, sys
json.dump({"things": [{"name": f"device-{i}"} for i in range(int(sys.argv[2]))]}, open(sys.argv[1], "w"))
PY
channel=$(curl -sf "${auth[@]}" -X POST -d '{"name": "bench"}' "$base/api/v1/channels" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
t0=$(now)
curl -sf "${auth[@]}" -X POST --data-binary @"$work/bulk.json" "$base/api/v1/things" >"$work/made.json"
python3 - "$work/made.json" "$channel" "$work/connect.json" <<'PY'
import json, sys
made = json.load(open(sys.argv[1]))["things"]
json.dump({"thing_ids": [t["id"] for t in made], "channel_ids": [sys.argv[2]]}, open(sys.argv[3], "w"))
PY
curl -sf "${auth[@]}" -X POST --data-binary @"$work/connect.json" "$base/api/v1/connect" >/dev/null
t1=$(now)
wait_for things mqtt_synced "$things"
while [ "$(value things mqtt_sync_pending)" != 0 ]; do sleep 0.05; done
t2=$(now)
echo "provisioned $things things and connected them (REST): $(elapsed "$t0" "$t1") s; in the broker after $(elapsed "$t0" "$t2") s"

thing_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["things"][0]["id"])' "$work/made.json")
thing_key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["things"][0]["key"])' "$work/made.json")

# 2. A key rotation until the broker refuses the old key.
mosquitto_sub -h 127.0.0.1 -p "$mport" -u "$thing_id" -P "$thing_key" -t "channels/$channel/messages" -C 1 -W 5 >/dev/null 2>&1 || true
t0=$(now)
curl -sf "${auth[@]}" -X POST "$base/api/v1/things/$thing_id/key" >"$work/rotated.json"
for _ in $(seq 1000); do
  mosquitto_pub -h 127.0.0.1 -p "$mport" -u "$thing_id" -P "$thing_key" -t "channels/$channel/messages" -m '{}' >/dev/null 2>&1 || break
done
t1=$(now)
echo "key rotation until the broker refuses the old key (REST call included, mosquitto_pub probes): $(elapsed "$t0" "$t1") s"
thing_key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' "$work/rotated.json")

# 3. Messages through the adapter and through the baseline.
python3 -c 'import sys; sys.stdout.write("{\"temperature\": 21.5, \"pressure\": 1.2}\n" * int(sys.argv[1]))' "$n" >"$work/messages.txt"
split -l 20000 -d -a 3 "$work/messages.txt" "$work/part-"
run() {  # label source counter user password topic
  local before t0 t1 s
  before=$(value "$2" "$3"); before=${before:-0}
  t0=$(now)
  # In parts of 20,000: mosquitto 2.0.11 drops one mosquitto_pub -l connection ("out of memory")
  # after about 35,000 QoS 1 messages.
  for part in "$work"/part-*; do
    mosquitto_pub -h 127.0.0.1 -p "$mport" -u "$4" -P "$5" -V 5 -q 1 -M 100 -t "$6" -l <"$part"
  done
  wait_for "$2" "$3" $((before + 2 * n))
  t1=$(now)
  s=$(elapsed "$t0" "$t1")
  rate=$(awk -v n="$n" -v s="$s" 'BEGIN {printf "%.0f", n / s}')
  echo "$1: $n messages in $s s: $rate msg/s, $(awk -v n="$n" -v s="$s" 'BEGIN {printf "%.0f", 2 * n / s}') samples/s into the store"
}
run "MQTT adapter (channels/<id>/messages, as a thing)" things metrics.samples "$thing_id" "$thing_key" "channels/$channel/messages"
adapter=$rate
run "baseline (plain mqtt source, json_flat)" baseline metrics.samples baseline baseline-secret "bench/x"
echo "ratio adapter / baseline: $(awk -v a="$adapter" -v b="$rate" 'BEGIN {printf "%.2f", a / b}')"
echo "platform source: $(detail things | grep -v '^metrics' | tr '\n' ' ')"
