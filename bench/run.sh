#!/usr/bin/env bash
# Builds gcorr, generates the benchmark data if missing, installs the other contenders if missing,
# then runs bench/bench.py (extra arguments are passed on to it, e.g. --runs 3 --no-jq).
set -euo pipefail
cd "$(dirname "$0")/.."

data=bench/data
events=$data/events-1m.ndjson

cargo build --release --bin gcorr --example gendump

mkdir -p "$data"
if [[ ! -s $events || ! -s ${events%.ndjson}.stats ]]; then
    echo "generating $events (1,000,000 records, ~1.1 GB)..." >&2
    target/release/examples/gendump --events 1000000 --seed 1 >"$events.tmp" 2>"${events%.ndjson}.stats"
    mv "$events.tmp" "$events"
    cat "${events%.ndjson}.stats" >&2
fi
if [[ ! -s $events.gz || $events.gz -ot $events ]]; then
    echo "compressing $events.gz..." >&2
    gzip -c "$events" >"$events.gz.tmp"
    mv "$events.gz.tmp" "$events.gz"
fi

apt_install() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "bench: $1 is missing; install it (apt-get install $1)" >&2
        return 1
    fi
    apt-get update -qq && apt-get install -y -qq "$1" >/dev/null
}
python3 -c 'import duckdb' 2>/dev/null || python3 -m pip install --quiet duckdb
command -v jq >/dev/null || apt_install jq
[[ -x /usr/bin/time ]] || apt_install time

exec python3 bench/bench.py --data "$events" "$@"
