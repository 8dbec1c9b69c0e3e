#!/usr/bin/env bash
# Builds gcorr, and the baseline release (commit $GCORR_BASELINE, default fa5f844) in a worktree of
# its own, generates the benchmark data if missing, installs the other contenders if missing, then
# runs bench/bench.py (extra arguments are passed on to it, e.g. --runs 3 --no-jq).
set -euo pipefail
cd "$(dirname "$0")/.."

data=bench/data
events=$data/events-1m.ndjson
baseline=${GCORR_BASELINE:-fa5f844}

cargo build --release --bin gcorr --example gendump

# The baseline: built once per commit, beside the data, with a target directory of its own.
base_tree=$data/baseline-$baseline
base_bin=$data/baseline-$baseline-target/release/gcorr
if [[ ! -x $base_bin ]]; then
    if ! git cat-file -e "$baseline^{commit}" 2>/dev/null; then
        echo "bench: commit $baseline is not in this clone (git fetch --unshallow?)" >&2
        exit 1
    fi
    [[ -d $base_tree ]] || git worktree add --detach "$base_tree" "$baseline" >/dev/null
    echo "building the baseline $baseline in $base_tree..." >&2
    (cd "$base_tree" && CARGO_TARGET_DIR="$PWD/../baseline-$baseline-target" cargo build --release --bin gcorr)
fi

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

# A Firehose-like tree: the same records in 64 gzip objects.
tree=$data/tree-64
if [[ ! -s $tree/part-63.ndjson.gz || $tree/part-63.ndjson.gz -ot $events ]]; then
    echo "splitting $events into 64 gzip files under $tree..." >&2
    rm -rf "$tree" && mkdir -p "$tree"
    split -n l/64 -d -a 2 --additional-suffix=.ndjson "$events" "$tree/part-"
    printf '%s\0' "$tree"/part-*.ndjson | xargs -0 -n 8 -P 2 gzip
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

exec python3 bench/bench.py --data "$events" --baseline "$base_bin" --baseline-name "$baseline" \
    --tree "$tree" "$@"
