#!/usr/bin/env bash
# Renders zoorepro's HTML reports in a real browser (headless Chromium from Debian's packages, installed with
# apt when missing) and checks each page: it loads without a console message, and its charts are in the rendered
# DOM (at least one <svg class="chart-...">). With --screenshot DIR it also writes DIR/<page>.png.
#
# Usage: scripts/report/check_html.sh [--screenshot DIR] [--width PX] FILE.html...
# Exit 0: every page passed; 1: a page failed a check; 2: no browser or bad arguments.
set -euo pipefail
shots=""; width=1000; files=()
while [ $# -gt 0 ]; do
  case "$1" in
    --screenshot) shots="$2"; shift ;;
    --width) width="$2"; shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) files+=("$1") ;;
  esac
  shift
done
[ ${#files[@]} -gt 0 ] || { sed -n '2,7p' "$0" >&2; exit 2; }
browser="${CHROMIUM:-$(command -v chromium || true)}"
if [ -z "$browser" ]; then
  [ "$(id -u)" = 0 ] || { echo "check_html.sh: no chromium (apt-get install chromium, or set CHROMIUM)" >&2; exit 2; }
  echo "check_html.sh: installing chromium (apt)" >&2
  # The browser tests run in parallel: a second install waits for the first's dpkg lock
  # rather than failing on it.
  wait_lock=(-o DPkg::Lock::Timeout=600)
  DEBIAN_FRONTEND=noninteractive apt-get "${wait_lock[@]}" install -y -q chromium >/dev/null 2>&1 \
    || { apt-get "${wait_lock[@]}" update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get "${wait_lock[@]}" install -y -q chromium >/dev/null; } \
    || { echo "check_html.sh: apt-get install chromium failed" >&2; exit 2; }
  browser=/usr/bin/chromium
fi
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
# No network, no background services: the page must stand on its own.
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$profile")
status=0
for file in "${files[@]}"; do
  [ -f "$file" ] || { echo "FAIL $file: no such file" >&2; status=1; continue; }
  url="file://$(readlink -f "$file")"
  log="$(mktemp)"
  dom="$(timeout 120 "$browser" "${flags[@]}" --enable-logging=stderr --v=0 --dump-dom "$url" 2>"$log" || true)"
  consoles="$(grep -c ':CONSOLE' "$log" || true)"
  charts="$( (grep -o '<svg[^>]*class="chart-[^"]*"' <<<"$dom" || true) | wc -l)"
  if [ -z "$dom" ]; then
    echo "FAIL $file: the browser rendered nothing ($(tail -n 2 "$log" | tr '\n' ' '))" >&2; status=1
  elif [ "$consoles" -gt 0 ]; then
    echo "FAIL $file: $consoles console message(s): $(grep ':CONSOLE' "$log" | head -n 3)" >&2; status=1
  elif [ "$charts" -eq 0 ]; then
    echo "FAIL $file: no chart in the rendered page" >&2; status=1
  else
    echo "ok   $file: rendered, $charts chart(s), no console messages"
  fi
  rm -f "$log"
  if [ -n "$shots" ]; then
    mkdir -p "$shots"
    png="$shots/$(basename "${file%.html}").png"
    timeout 120 "$browser" "${flags[@]}" --window-size="$width,1200" --screenshot="$png" "$url" >/dev/null 2>&1 || true
    [ -s "$png" ] && echo "     screenshot $png" || { echo "FAIL $file: no screenshot" >&2; status=1; }
  fi
done
exit "$status"
