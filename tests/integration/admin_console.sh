#!/usr/bin/env bash
# admin_console.sh — the admin plane's live console (docs/admin.md,
# "Console") in headless Chromium against 3 real nodes: the page at n1's
# admin address (a management network apart from the DPDK ports,
# admin_lib.sh) shows the view with 3 members alive and the segment
# picture's legend; n3 is killed with SIGKILL while the page stays open,
# and without a reload it shows the newer view with n1 and n2 alive and n3
# not. admin_console.mjs drives Debian's chromium through playwright-core
# (tests/e2e/node_modules; needs node >= 20, as sessions_browser.sh). The
# screenshot is kept: $WEFT_ARTIFACTS/admin_console.png (default
# <build>/meson-logs/e2e/admin_console.png).
# Uses only 10.236.2.0/24 (data) and 10.236.3.0/24 (management). Removes
# every namespace, veth, bridge and process it made on any exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
. "$(dirname "$0")/admin_lib.sh"
weft_require_root

. "$(dirname "$0")/e2e_lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
ART=${WEFT_ARTIFACTS:-$WEFT_BUILD/meson-logs/e2e}
SHOT=$ART/admin_console.png
check "chromium, node and playwright-core are there" e2e_prepare
[ $_failures -eq 0 ] || exit 1
mkdir -p "$ART"
rm -f "$SHOT"

check "3 nodes answer" adm_cluster ac 10.236.2 10.236.3
[ $_failures -eq 0 ] || exit 1
check "3 nodes form one view" \
  wait_view 30 "n1:alive,n2:alive,n3:alive" "${addr[n1]}" "${addr[n2]}" "${addr[n3]}"

go=$WEFT_TMP/go
out=$WEFT_TMP/e2e.out
node "$HERE/admin_console.mjs" --url "http://${admin[n1]}/" --go "$go" --gone n3 \
  --screenshot "$SHOT" --chromium "$CHROMIUM" --members 3 --max-seconds 150 >"$out" 2>&1 &
E2E_PID=$!
_pids+=("$E2E_PID")
ready() { grep -q '^READY' "$out" || { gone "$E2E_PID" && return 0; return 1; }; }
wait_for 90 ready || true
sed 's/^/     browser: /' "$out"
check "the console shows one view of n1, n2, n3 alive and the segment legend" grep -q '^READY' "$out"
grep -q '^READY' "$out" || exit 1

kill -KILL "${pid[n3]}"
touch "$go"
check "kill -9 n3: n1 and n2 drop it from their view" \
  wait_view 10 "n1:alive,n2:alive" "${addr[n1]}" "${addr[n2]}"
wait_exit "$E2E_PID" 90
sed -n '/^READY/,$p' "$out" | tail -n +2 | sed 's/^/     browser: /'
expect_eq "the browser exits 0" "0" "$EXIT_ST"
check "the open page shows the new view without n3" grep -q '^E2E PASS' "$out"
check "a screenshot is kept ($SHOT)" test -s "$SHOT"

weft_finish
