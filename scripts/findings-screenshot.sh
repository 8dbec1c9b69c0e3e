#!/usr/bin/env bash
# Writes the HTML report of a generated incident hour (fixtures/make_incident.py) and saves a
# screenshot of its charts and findings to docs/findings.png (the README's findings picture).
#
# Needs Chromium: Debian's `chromium` package, or GCORR_CHROMIUM=/path/to/chromium.
# Usage: scripts/findings-screenshot.sh [OUTPUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/findings.png}
browser=${GCORR_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$browser" ]; then
  echo "findings-screenshot: no Chromium at $browser: install Debian's chromium package or set GCORR_CHROMIUM" >&2
  exit 1
fi

cargo build --release --quiet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 fixtures/make_incident.py >"$tmp/incident.ndjson"
./target/release/gcorr -q correlate "$tmp/incident.ndjson" --offline --format html -o "$tmp/report.html"

mkdir -p "$(dirname "$out")"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$tmp/profile" --hide-scrollbars --force-device-scale-factor=1 \
  --virtual-time-budget=5000 --window-size=1400,720 --screenshot="$out" \
  "file://$tmp/report.html" 2>/dev/null
echo "findings-screenshot: $out ($(wc -c <"$out") bytes)"
