#!/usr/bin/env bash
# Writes the fixtures' HTML report (enriched from the fixtures' cache, offline) and saves a
# screenshot of it, one conversation expanded, to docs/report.png (the README's picture).
#
# Needs Chromium: Debian's `chromium` package, or GCORR_CHROMIUM=/path/to/chromium.
# Usage: scripts/report-screenshot.sh [OUTPUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/report.png}
browser=${GCORR_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$browser" ]; then
  echo "report-screenshot: no Chromium at $browser: install Debian's chromium package or set GCORR_CHROMIUM" >&2
  exit 1
fi

cargo build --release --quiet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
./target/release/gcorr -q correlate fixtures/events.ndjson --offline --cache-dir fixtures/cache \
  --format html -o "$tmp/report.html"

# The conversation to expand: the first with a voice → callback handoff, else the first one.
summary=$(./target/release/gcorr -q correlate fixtures/events.ndjson --offline --cache-dir fixtures/cache --summary)
line=$(grep -m1 '"from":"voice","to":"callback"' <<<"$summary" || head -n1 <<<"$summary")
open=$(sed 's/^{"conversation_id":"\([^"]*\)".*/\1/' <<<"$line")

mkdir -p "$(dirname "$out")"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$tmp/profile" --hide-scrollbars --force-device-scale-factor=1 \
  --virtual-time-budget=5000 --window-size=1400,780 --screenshot="$out" \
  "file://$tmp/report.html#open=$open" 2>/dev/null
echo "report-screenshot: $out ($(wc -c <"$out") bytes), conversation $open expanded"
