#!/usr/bin/env bash
# Render a pytest-html report in headless Chromium and save a screenshot of the
# whole page: every result row and every collapsed section (prompt, reasoning)
# opened, the full height of the page, and wide enough that no column is cut off,
# so the report can be looked at without a browser:
#   scripts/screenshot_report.sh report.html report.png [width]
# width is the narrowest the page is laid out at (default 1600); a page that
# needs more gets more. Needs Debian's chromium (apt-get install chromium) and,
# for Chinese text, a CJK font (apt-get install fonts-wqy-zenhei).
set -euo pipefail
report=$(realpath "$1")
out=$(realpath -m "$2")
width=${3:-1600}
work=$(mktemp -d)
# beside the report, so that its assets/ (when not self-contained) are found
page="$(dirname "$report")/.screenshot-$$.html"
trap 'rm -rf "$work" "$page"' EXIT
if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
  echo "note: no CJK font is installed, so Chinese text shows as boxes (apt-get install fonts-wqy-zenhei)" >&2
fi

chrome() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/profile" --hide-scrollbars --virtual-time-budget=10000 "$@" 2>/dev/null
}

# Open the collapsed sections (prompt, reasoning) and unclip the log boxes with a
# style rule; once pytest-html has drawn the rows, a script writes the page's size
# into the page, where the first pass reads it.
sed 's#</head>#<style>details::details-content{content-visibility:visible!important;display:block!important}.logwrapper{max-height:none!important}.logexpander{display:none!important}</style></head>#' \
  "$report" |
  sed 's#</body>#<script>window.addEventListener("load",()=>setTimeout(()=>{document.querySelectorAll("details").forEach(d=>d.open=true);const e=document.documentElement;document.body.setAttribute("data-page-size",e.scrollWidth+"x"+e.scrollHeight)},500))</script></body>#' \
  > "$page"
# pytest-html collapses rows by default; ?collapsed=none opens them all.
url="file://$page?collapsed=none"
size=$(chrome --window-size="$width,1000" --dump-dom "$url" | grep -o 'data-page-size="[0-9]*x[0-9]*"' | grep -o '[0-9]*x[0-9]*' || true)
if [ -z "$size" ]; then
  echo "could not measure $report in chromium" >&2
  exit 1
fi
page_width=${size%x*}
page_height=${size#*x}
[ "$page_width" -gt "$width" ] && width=$page_width
chrome --window-size="$width,$page_height" --screenshot="$out" "$url"
echo "$out (${width}x${page_height})"
