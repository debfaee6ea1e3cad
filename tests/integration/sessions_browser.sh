#!/usr/bin/env bash
# sessions_browser.sh — the web-sessions example in headless Chromium across
# a node failure (issue 7, "An end-to-end test in headless Chromium"). The
# cluster is sessions_web.sh's (sessions/web_lib.sh: 3 weftd nodes, a
# web-sessions instance beside each, nginx round robin over them); the
# browser side is tests/e2e/web_sessions.mjs (playwright-core driving
# Debian's /usr/bin/chromium):
#  1. it loads the page through nginx (#count 1), saves a note with the
#     form (#note shows it), reloads 4 times (#count +1 each) and prints
#     READY-FOR-FAILURE with its session id;
#  2. this script kills -9 the session's primary node (sess_owners) and the
#     app instance beside it, then creates the file the browser waits for;
#  3. the browser reloads 4 more times: every page 200, #count continues
#     +1 (no reset), the note survives, the cookie is unchanged; it saves a
#     screenshot: $WEFT_ARTIFACTS/web_sessions.png (default
#     <build>/meson-logs/e2e/web_sessions.png), kept after the test.
# Needs node + npm and chromium: installs them when missing (apt-get, as CI
# runs as root on a fresh machine), and tests/e2e's npm packages (npm ci)
# when tests/e2e/node_modules does not hold the locked playwright-core.
# Uses only 10.231.72.0/24 and a free 127.0.0.1 port. Removes every
# namespace, veth, bridge and process (nodes, apps, nginx, node, chromium)
# it made on any exit; every wait is bounded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
. "$(dirname "$0")/sessions/web_lib.sh"
weft_require_root

. "$(dirname "$0")/e2e_lib.sh"
ART=${WEFT_ARTIFACTS:-$WEFT_BUILD/meson-logs/e2e}
SHOT=$ART/web_sessions.png
sub=10.231.72
web_require

check "chromium, node and playwright-core are there" e2e_prepare
[ $_failures -eq 0 ] || exit 1
mkdir -p "$ART"
rm -f "$SHOT"

web_cluster sb "$sub"
# The default timeout (30 min): this test is about failover, not expiry.
start_apps() { for n in n1 n2 n3; do web_app "$n" 1800 || return 1; done; }
check "3 web-sessions instances answer on their nodes' IPs" start_apps
check "nginx runs the example's config with lb-config's upstream" web_nginx "${addr[n1]}"
[ $_failures -eq 0 ] || exit 1

go=$WEFT_TMP/go
out=$WEFT_TMP/e2e.out
node "$E2E_DIR/web_sessions.mjs" --url "$LB/" --go "$go" --screenshot "$SHOT" \
  --chromium "$CHROMIUM" --reloads 4 --go-timeout 120 --max-seconds 300 >"$out" 2>&1 &
E2E_PID=$!
web_track "$E2E_PID"

ready() { grep -q '^READY-FOR-FAILURE' "$out" || { gone "$E2E_PID" && return 2; return 1; }; }
e2e_ready() { ready; local r=$?; [ $r -ne 1 ]; }
wait_for 120 e2e_ready || true
sed 's/^/     browser: /' "$out"
check "the browser: count 1 on its first load, the note saved, 4 reloads +1 each; it waits for the failure" \
  grep -q '^READY-FOR-FAILURE' "$out"
grep -q '^READY-FOR-FAILURE' "$out" || exit 1
sid=$(sed -n 's/^READY-FOR-FAILURE session=\([0-9a-f]*\) .*/\1/p' "$out")

read -r primary backup <<<"$(owners_of "$sid" "${addr[n1]}")" || true
[ -n "${primary:-}" ] || { echo "     no owners for $sid: cannot go on"; exit 1; }
echo "     session $sid: primary $primary, backup ${backup:-none}"
lines=$(wc -l <"$out")
t_kill=$(now_ms)
kill -KILL "${pid[$primary]}" "${apid[$primary]}"
# the browser goes on at once: its next page meets the failover
touch "$go"
wait_exit "${pid[$primary]}" 10
wait_exit "${apid[$primary]}" 10
echo "     killed node $primary (the session's primary) and app-$primary at $t_kill"

wait_exit "$E2E_PID" 200
e2e_st=$EXIT_ST
tail -n +$((lines + 1)) "$out" | sed 's/^/     browser: /'
expect_eq "the browser test exits 0" 0 "$e2e_st"
check "after the failure the count continued and the note survived (E2E PASS)" \
  grep -q '^E2E PASS' "$out"
check "no page came from the dead app-$primary after the kill" \
  eval "! tail -n +$((lines + 1)) '$out' | grep -Eq 'from app-$primary( |\$)'"
check "the screenshot is a PNG: $SHOT" \
  eval "[ -s '$SHOT' ] && [ \"\$(head -c 8 '$SHOT' | od -An -tx1 | tr -d ' ')\" = 89504e470d0a1a0a ]"
echo "     screenshot: $SHOT"
weft_finish
