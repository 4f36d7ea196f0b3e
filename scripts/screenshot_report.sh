#!/usr/bin/env bash
# Render a pytest-html report in headless Chromium and save a screenshot of it,
# with every result row and every collapsed section (prompt, reasoning) opened,
# so the report can be looked at without a browser:
#   scripts/screenshot_report.sh report.html report.png [width] [height]
# Needs Debian's chromium (apt-get install chromium) and, for Chinese text, a CJK
# font (apt-get install fonts-wqy-zenhei).
set -euo pipefail
report=$(realpath "$1")
out=$(realpath -m "$2")
width=${3:-1400}
height=${4:-3000}
work=$(mktemp -d)
# beside the report, so that its assets/ (when not self-contained) are found
page="$(dirname "$report")/.screenshot-$$.html"
trap 'rm -rf "$work" "$page"' EXIT
# Open the collapsed sections (prompt, reasoning) and unclip the log boxes with a
# style rule, leaving the page as it is.
sed 's#</head>#<style>details::details-content{content-visibility:visible!important;display:block!important}.logwrapper{max-height:none!important}</style></head>#' \
  "$report" > "$page"
# pytest-html collapses rows by default; ?collapsed=none opens them all.
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/profile" --hide-scrollbars --window-size="$width,$height" \
  --screenshot="$out" "file://$page?collapsed=none" 2>/dev/null
echo "$out"
