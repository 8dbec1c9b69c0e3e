#!/usr/bin/env bash
# The fault soak: 20,000 conversations against the fake Genesys Cloud API (tests/enrich/soak.rs)
# with 5% 429 (Retry-After 1 s), 3% 503, 1% dropped connections, 20-80 ms latency and tokens
# that expire every 10 s. Takes about 20 minutes (it honours every Retry-After as a pause of all
# workers); prints the figures the README quotes.
#
#   scripts/soak.sh                                  # the full soak
#   GCORR_SOAK_CONVERSATIONS=2000 scripts/soak.sh    # a shorter one
#   (also GCORR_SOAK_CONCURRENCY, default 16, and GCORR_SOAK_TOKEN_LIFETIME_S, default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --test cli -- --ignored --exact enrich::soak::soak_faults_under_load --nocapture
