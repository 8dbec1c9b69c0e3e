#!/usr/bin/env bash
# Size and load time of the `--format html` report of about 30,000 conversations (370,000
# generated records, ~12 events a conversation), written by this tree's gcorr and by another
# build (OLD, e.g. a release build of an earlier commit): prints each report's size and the
# median of RUNS loads in headless Chromium (bench/html_bench.mjs: DOM ready and every overview
# row present; then the first frame drawn). Data and reports go to DIR (default /tmp/htmlbench).
#
#   OLD=/path/to/old/gcorr bench/html.sh          RUNS=9 EVENTS=370000 OLD=... bench/html.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
EVENTS=${EVENTS:-370000}
DIR=${DIR:-/tmp/htmlbench}
OLD=${OLD:-}

if [[ ! -d tests/ux/browser/node_modules/playwright-core ]]; then
    echo "bench: playwright-core is missing; run scripts/test once (it installs it)" >&2
    exit 1
fi
cargo build --release --bin gcorr --example gendump
# Absolute: the reports are written from inside DIR.
target=$(realpath "${CARGO_TARGET_DIR:-target}")
[[ -z $OLD ]] || OLD=$(realpath "$OLD")
mkdir -p "$DIR"
data="$DIR/events-$EVENTS.ndjson"
[[ -s $data ]] || "$target/release/examples/gendump" --events "$EVENTS" --seed 1 >"$data"

reports=()
for side in new old; do
    bin="$target/release/gcorr"
    if [[ $side == old ]]; then
        [[ -n $OLD ]] || continue
        bin=$OLD
    fi
    page="$DIR/report-$side.html"
    start=$(date +%s%N)
    # From inside DIR: the events' sources name the input as the same relative path.
    (cd "$DIR" && "$bin" correlate "$(basename "$data")" --offline -q -f html -o "$page")
    echo "$side: $("$bin" --version), report written in $((($(date +%s%N) - start) / 1000000)) ms"
    reports+=("$page")
done
rows=$("$target/release/gcorr" correlate "$data" --offline -q --summary | wc -l)
node bench/html_bench.mjs --runs "$RUNS" --rows "$rows" "${reports[@]}"
