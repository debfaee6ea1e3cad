#!/usr/bin/env bash
# weftctl_new_app.sh — `weftctl new-app` end to end (issue 10, docs/apps.md
# "A new app"): scaffolds app "hello", refuses the same directory again and
# a bad name, builds the scaffold with meson against weft's pkg-config file
# (the build tree's meson-uninstalled/weft-uninstalled.pc: meson's
# dependency('weft') finds it there), checks it with weft-app-check, then
# deploys it to a real node and sees it work: `weftctl apps` lists it
# loaded, `weftctl daemons` shows hello/ticker running, the node's log
# shows the listener receiving the daemon's ticks, the cache holds the
# count; undeploy stops the daemon.
# Uses only 10.238.2.0/24. Removes every namespace, veth, bridge and
# process it made on any exit; every wait is bounded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
weft_require_root

APPCHECK=$WEFT_BUILD/control/weft-app-check
sub=10.238.2
D=$WEFT_TMP/hello

# --- scaffold ----------------------------------------------------------------------

expect_status "new-app hello DIR" 0 "$WEFTCTL" new-app hello "$D"
check "meson.build, src/init.c, README.md are there" \
  test -s "$D/meson.build" -a -s "$D/src/init.c" -a -s "$D/README.md"
refused() {
  local want=$1; shift
  local rc=0
  "$WEFTCTL" "$@" >/dev/null 2>"$WEFT_TMP/refused.err" || rc=$?
  sed 's/^/     | /' "$WEFT_TMP/refused.err"
  [ $rc -eq 2 ] && grep -q "$want" "$WEFT_TMP/refused.err"
}
check "the same (non-empty) directory is refused" refused "exists and is not empty" new-app hello "$D"
check "a bad name is refused" refused "bad app name '9lives'" new-app 9lives "$WEFT_TMP/x"
check "nothing was made for the bad name" test ! -e "$WEFT_TMP/x"

# --- build against weft.pc ------------------------------------------------------------

# The build's weft-uninstalled.pc (client/meson.build's pkgconfig.generate)
# is what `meson install` installs as weft.pc, with this tree's paths.
PCDIR=$WEFT_BUILD/meson-uninstalled
check "the build made weft-uninstalled.pc" test -f "$PCDIR/weft-uninstalled.pc"
build_app() {
  PKG_CONFIG_PATH=$PCDIR meson setup "$D/build" "$D" >"$WEFT_TMP/app-setup.log" 2>&1 &&
    ninja -C "$D/build" >"$WEFT_TMP/app-build.log" 2>&1 ||
    { tail -n 20 "$WEFT_TMP/app-setup.log" "$WEFT_TMP/app-build.log" 2>/dev/null; return 1; }
}
check "the scaffold builds with meson against weft" build_app
SO=$D/build/hello.so
check "hello.so is built" test -f "$SO"
check "weft-app-check: init registers 1 listener and 1 daemon" \
  grep -q "ok: 1 listener(s), 1 daemon(s), 0 job(s)" <("$APPCHECK" "$SO" 2>&1)

# --- deploy to a real node -----------------------------------------------------------

cl_net wn "$sub"
cl_node n1 "$sub.11" --clustered
weft_wait_ready "${addr[n1]}" "${pid[n1]}"
A=${addr[n1]}
log=$WEFT_TMP/n1.log
expect_status "deploy hello.so to n1" 0 ctl "$A" deploy "$SO"
loaded() { ctl "$A" apps 2>/dev/null | grep -q '^app hello loaded '; }
check "weftctl apps: hello loaded" wait_for 20 loaded
running() { ctl "$A" daemons 2>/dev/null | grep -Eq '^hello/ticker +singleton +n1 +running'; }
check "weftctl daemons: hello/ticker running on n1" wait_for 20 running
check "the node logs the deploy" wait_for 10 grep -q "app hello deployed" "$log"
check "the listener receives the daemon's ticks" wait_for 20 grep -q "^hello received: tick 2\$" "$log"
ticks() { local v; v=$(ctl "$A" get hello ticks 2>/dev/null) && [ "$v" -ge 2 ]; }
check "the cache holds the count" ticks
expect_status "undeploy hello" 0 ctl "$A" undeploy hello
check "the daemon stops" wait_for 20 grep -q "^hello: ticker stopped\$" "$log"
gone_app() { ! ctl "$A" apps 2>/dev/null | grep -q '^app hello '; }
check "weftctl apps no longer lists it" wait_for 20 gone_app

weft_finish
