#!/usr/bin/env bash
# Render a pytest-html report in headless Chromium and save a screenshot of it,
# with every result row expanded, so the report can be looked at without a browser.
#   scripts/screenshot_report.sh report.html report.png [width] [height]
# Needs Debian's chromium (apt-get install chromium) and, for Chinese text, a CJK
# font (apt-get install fonts-wqy-zenhei).
set -euo pipefail
report=$(realpath "$1")
out=$2
width=${3:-1400}
height=${4:-3000}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# pytest-html collapses rows by default; ?collapsed=none opens them all.
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size="$width,$height" \
  --screenshot="$out" "file://$report?collapsed=none" 2>/dev/null
echo "$out"
