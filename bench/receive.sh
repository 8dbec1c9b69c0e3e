#!/usr/bin/env bash
# Load test of `gcorr receive` over loopback with wrk (installed with apt-get when missing):
# 64 keep-alive connections posting a real EventBridge event (1.1 KB) to /events over plain
# HTTP and over TLS, then Firehose deliveries of 500 records to /firehose. Each case runs
# RUNS times (default 3) for DURATION (default 10s); the receiver is restarted on an empty
# spool for each run. Prints one line per run and the median of each case.
#
#   bench/receive.sh                 RUNS=5 DURATION=20s bench/receive.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-18443}

if ! command -v wrk >/dev/null; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "bench: wrk is missing; install it (apt-get install wrk)" >&2
        exit 1
    fi
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --bin gcorr

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
pid=

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -addext basicConstraints=critical,CA:FALSE \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

export GCORR_RECEIVE_SECRET=bench-secret
# The longest event of the fixtures (a real EventBridge envelope, about 1.1 KB).
event=$(awk '{ print length($0), $0 }' fixtures/events.ndjson | sort -n | tail -n1 | cut -d' ' -f2-)

# A Lua script per case: the body, the headers, and the p99 on the summary.
# What every case prints when wrk is done: requests, seconds, p99 (us), non-2xx, socket errors.
report=$(cat <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.3f %d %d %d\n", summary.requests, summary.duration / 1e6,
    latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
EOF
)
cat >"$work/events.lua" <<EOF
wrk.method = "POST"
wrk.headers["x-api-key"] = "bench-secret"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[$event]==]
$report
EOF
python3 - "$event" >"$work/firehose.json" <<'EOF'
import base64, json, sys
ev = sys.argv[1].encode()
print(json.dumps({"requestId": "bench", "timestamp": 0,
                  "records": [{"data": base64.b64encode(ev).decode()}] * 500}))
EOF
cat >"$work/firehose.lua" <<EOF
wrk.method = "POST"
wrk.headers["x-amz-firehose-access-key"] = "bench-secret"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$work/firehose.json", "rb")
wrk.body = f:read("*a")
f:close()
$report
EOF

start() { # scheme, extra flags...
    rm -rf "$work/spool"
    target/release/gcorr receive -q --listen "127.0.0.1:$PORT" --out "$work/spool" "${@:2}" &
    pid=$!
    for _ in $(seq 100); do
        curl -sk "$1://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return
        sleep 0.05
    done
    echo "bench: the receiver did not start" >&2
    exit 1
}

stop() {
    kill -TERM "$pid"
    wait "$pid"
    pid=
}

# case name, scheme, path, lua, records per request, receiver flags...
bench_case() {
    local name=$1 scheme=$2 path=$3 lua=$4 per=$5
    local rates=()
    for run in $(seq "$RUNS"); do
        start "$scheme" "${@:6}"
        line=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$lua" "$scheme://127.0.0.1:$PORT$path" | grep '^RESULT')
        stop
        read -r _ requests secs p99 refused errors <<<"$line"
        # Only 2xx answers count: a 429 or 503 acknowledges nothing.
        rate=$(python3 -c "print(round(($requests - $refused) * $per / $secs))")
        rates+=("$rate")
        printf '%-10s run %d: %8d events/s acknowledged, p99 %6.1f ms, %d non-2xx, %d socket errors, load %s\n' \
            "$name" "$run" "$rate" "$(python3 -c "print($p99 / 1000)")" "$refused" "$errors" "$(cut -d' ' -f1 /proc/loadavg)"
    done
    printf '%-10s median: %d events/s\n' "$name" \
        "$(printf '%s\n' "${rates[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")"
}

echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $CONNECTIONS connections, $DURATION per run, event ${#event} bytes"
bench_case plain http /events "$work/events.lua" 1
bench_case tls https /events "$work/events.lua" 1 --tls-cert "$work/cert.pem" --tls-key "$work/key.pem"
# 64 connections x 500 records may all wait at once: room for them, or some get 429.
bench_case firehose http /firehose "$work/firehose.lua" 500 --max-inflight 65536
