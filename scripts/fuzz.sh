#!/usr/bin/env bash
# Runs gcorr's fuzz targets (fuzz/fuzz_targets) with libFuzzer, seeded from the fixtures.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 600 s, every target, all in parallel
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain the sanitizer flags
# are unlocked with RUSTC_BOOTSTRAP=1. Crashes land in fuzz/artifacts/<target>/; minimise one
# with `cargo fuzz tmin <target> <file>` and keep it as a unit test beside the code it broke.
# Not part of CI: a run takes minutes per target.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(framing record)
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
triple=$(rustc -vV | sed -n "s/^host: //p")

seed() { # seed TARGET: whole fixture files for framing, single records for record
    local dir=corpus/$1
    mkdir -p "$dir"
    local f
    find ../fixtures -type f ! -name '*.md' | sort | while read -r f; do
        if [ "$1" = framing ]; then
            head -c 65536 "$f" > "$dir/seed-$(basename "$f")"
        else
            split -l 1 -a 4 "$f" "$dir/seed-$(basename "$f")-"
        fi
    done
}

fuzz() { # fuzz TARGET: one libFuzzer run, its summary on stdout
    seed "$1"
    mkdir -p "artifacts/$1"
    "target/$triple/release/$1" "corpus/$1" -artifact_prefix="artifacts/$1/" \
        -dict=gcorr.dict -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -max_total_time="$seconds" -print_final_stats=1 > "artifacts/$1.log" 2>&1 || true
    echo "== $1: $(ls "corpus/$1" | wc -l) corpus entries, $(ls "artifacts/$1" | wc -l) crash files"
    grep -E '^(stat::|==[0-9]+==|SUMMARY|Done)' "artifacts/$1.log" | tail -n 20
}

# One target per core, all at once.
echo "fuzzing ${targets[*]} for ${seconds} s each"
for t in "${targets[@]}"; do
    fuzz "$t" &
done
wait
