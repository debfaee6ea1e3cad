#!/usr/bin/env bash
# tests/install/install_test.sh BUILD_DIR — `meson install --destdir` of a
# built tree into a temporary folder, then checks what a user gets:
#   - weftd, weftctl, weft-perf, weft-app-check; libweft shared and static;
#     include/weft/{weft,wire,app}.h; weft.pc; the man pages weftd(8) and
#     weftctl(1) (roff, with their sections); weftd@.service; example.conf;
#   - a tiny client built with `pkg-config --cflags --libs weft` (the .pc
#     found through PKG_CONFIG_PATH + PKG_CONFIG_SYSROOT_DIR in the DESTDIR)
#     links the installed libweft (ldd says so), runs, and prints what
#     libweft computes (status names, a session id round trip, a key made
#     and checked through libsodium); the same client linked statically
#     against libweft.a with `pkg-config --static`; an app source compiles
#     against weft/app.h;
#   - the installed weftd reads the example config (`--config FILE --help`
#     parses every line first: exit 0), and refuses a bad one with exit 2;
#   - the unit: a strict check of its keys and paths, and
#     `systemd-analyze verify` (when installed) with no complaint at all.
# No root, no network; about 10 s. The temporary folder is removed on exit.
set -euo pipefail
build=$(cd "$1" && pwd)
tmp=$(mktemp -d /tmp/weft-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
fail() { echo "FAIL: $*" >&2; exit 1; }

meson install -C "$build" --no-rebuild --destdir "$dest" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "meson install --destdir"; }

# Where meson put things (prefix, libdir, ...) and how the tree was built.
opt() {
  meson introspect "$build" --buildoptions |
    python3 -c 'import json,sys; print({o["name"]: o["value"] for o in json.load(sys.stdin)}[sys.argv[1]])' "$1"
}
abs() { case $1 in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }
prefix=$(opt prefix)
bindir=$(abs "$(opt bindir)")
libdir=$(abs "$(opt libdir)")
incdir=$(abs "$(opt includedir)")
mandir=$(abs "$(opt mandir)")
sysconfdir=$(abs "$(opt sysconfdir)")
unitdir=$(opt systemdunitdir)
[ -n "$unitdir" ] || unitdir=$prefix/lib/systemd/system
sanitize=$(opt b_sanitize)

for f in "$bindir"/weftd "$bindir"/weftctl "$bindir"/weft-perf "$bindir"/weft-app-check; do
  [ -x "$dest$f" ] || fail "$f not installed (executable)"
done
for f in "$libdir"/libweft.so "$libdir"/libweft.a "$libdir"/pkgconfig/weft.pc \
         "$incdir"/weft/weft.h "$incdir"/weft/wire.h "$incdir"/weft/app.h \
         "$mandir"/man8/weftd.8 "$mandir"/man1/weftctl.1 \
         "$unitdir"/weftd@.service "$sysconfdir"/weft/example.conf; do
  [ -s "$dest$f" ] || fail "$f not installed"
done
echo "installed: weftd weftctl weft-perf weft-app-check libweft.so libweft.a weft.pc headers man pages unit example.conf"

# Man pages: roff made by scdoc, with the sections they promise.
grep -q '^\.TH "weftd" "8"' "$dest$mandir/man8/weftd.8" || fail "weftd.8 is not a section-8 page"
grep -q '^\.TH "weftctl" "1"' "$dest$mandir/man1/weftctl.1" || fail "weftctl.1 is not a section-1 page"
for s in NAME SYNOPSIS OPTIONS "CONFIG FILE" "EXIT STATUS"; do
  grep -q "^\.SH $s" "$dest$mandir/man8/weftd.8" || fail "weftd.8 has no $s section"
done
for s in NAME SYNOPSIS COMMANDS "EXIT STATUS"; do
  grep -q "^\.SH $s" "$dest$mandir/man1/weftctl.1" || fail "weftctl.1 has no $s section"
done

# A tiny client built against weft.pc in the DESTDIR.
export PKG_CONFIG_PATH=$dest$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
cflags=$(pkg-config --cflags weft)
libs=$(pkg-config --libs weft)
case " $cflags " in *" -I$dest$incdir "*) ;; *) fail "pkg-config --cflags weft: '$cflags'" ;; esac
case " $libs " in *" -L$dest$libdir "*"-lweft "*) ;; *) fail "pkg-config --libs weft: '$libs'" ;; esac
[ "$(pkg-config --modversion weft)" = "$(meson introspect "$build" --projectinfo |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')" ] || fail "weft.pc version"
san=()
[ "$sanitize" = none ] || san=("-fsanitize=$sanitize")
cat >"$tmp/client.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <weft/weft.h>

int main(int argc, char **argv)
{
	char err[256], hex[64];
	struct weft_session_id id;
	if (argc != 2)
		return 2;
	printf("status -2: %s\n", weft_status_name(-2));
	if (weft_session_id_parse("00112233445566778899aabbccddeeff", &id) != 0)
		return 1;
	weft_session_id_hex(&id, hex);
	printf("session id: %s\n", hex);
	if (weft_key_generate(argv[1], err, sizeof(err)) != 0 ||
	    weft_key_check(argv[1], err, sizeof(err)) != 0) {
		printf("key: %s\n", err);
		return 1;
	}
	printf("key: ok\n");
	return 0;
}
C
# shellcheck disable=SC2086 # pkg-config output is a list of words
cc -std=gnu11 -Wall -Wextra -Werror "${san[@]}" "$tmp/client.c" -o "$tmp/client" $cflags $libs ||
  fail "the client does not build with pkg-config --cflags --libs weft"
ldd_out=$(LD_LIBRARY_PATH=$dest$libdir ldd "$tmp/client")
grep -q "libweft.so.* => $dest$libdir/libweft.so" <<<"$ldd_out" ||
  fail "the client does not load the installed libweft: $ldd_out"
out=$(LD_LIBRARY_PATH=$dest$libdir "$tmp/client" "$tmp/k1") || fail "the client failed: $out"
echo "$out"
grep -qx "session id: 00112233445566778899aabbccddeeff" <<<"$out" || fail "session id round trip"
grep -qx "key: ok" <<<"$out" || fail "key generate/check"
grep -qx "status -2: EXISTS" <<<"$out" || fail "status name (WEFT_ST_EXISTS = 2)"

# The same client with libweft.a (pkg-config --static: libweft's own deps).
static_libs=$(pkg-config --static --libs weft | sed "s| -lweft | |; s|^-lweft ||")
# shellcheck disable=SC2086
cc -std=gnu11 "${san[@]}" "$tmp/client.c" -o "$tmp/client-static" $cflags \
  "$dest$libdir/libweft.a" $static_libs || fail "the client does not link libweft.a"
ldd "$tmp/client-static" | grep -q libweft && fail "client-static still loads libweft.so"
"$tmp/client-static" "$tmp/k2" | grep -qx "key: ok" || fail "the static client failed"
echo "static client: ok"

# An app compiles against the installed app API.
cat >"$tmp/app.c" <<'C'
#include <weft/app.h>
int weft_app_init(weft_app *app);
int weft_app_init(weft_app *app)
{
	return app != NULL ? 0 : -1;
}
C
# shellcheck disable=SC2086
cc -std=gnu11 -Wall -Wextra -Werror -fPIC -shared "$tmp/app.c" -o "$tmp/app.so" $cflags ||
  fail "an app does not compile against weft/app.h"
echo "app against weft/app.h: ok"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

# The installed weftd reads the example config, and refuses a bad one (2).
weftd=$dest$bindir/weftd
LD_LIBRARY_PATH=$dest$libdir "$weftd" --config "$dest$sysconfdir/weft/example.conf" --help \
  >/dev/null || fail "weftd refuses the example config"
printf 'port = tap\nbind = 10.0.0.1\nlcores = many\n' >"$tmp/bad.conf"
rc=0
msg=$(LD_LIBRARY_PATH=$dest$libdir "$weftd" --config "$tmp/bad.conf" 2>&1) || rc=$?
[ "$rc" -eq 2 ] || fail "a bad config: exit $rc, not 2"
[ "$msg" = "weftd: $tmp/bad.conf:3: option 'lcores' refused (value 'many'): --lcores needs 1..64" ] ||
  fail "a bad config: '$msg'"
echo "example config: ok; bad config: exit 2, '$msg'"

# The unit: its keys, and systemd's own verdict when it can give one.
unit=$dest$unitdir/weftd@.service
want=(
  "Type=simple"
  "ExecStart=$bindir/weftd --config $sysconfdir/weft/%i.conf"
  "Environment=WEFT_HOME=%S/weft/%i"
  "StateDirectory=weft/%i"
  "Restart=on-failure"
  "RestartPreventExitStatus=2"
  "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN CAP_IPC_LOCK CAP_BPF"
  "NoNewPrivileges=yes"
  "ProtectSystem=strict"
  "WantedBy=multi-user.target"
)
for line in "${want[@]}"; do
  grep -qxF "$line" "$unit" || fail "weftd@.service has no '$line'"
done
[ "$(grep -c '^\[\(Unit\|Service\|Install\)\]$' "$unit")" -eq 3 ] || fail "weftd@.service sections"
if grep -n '@[A-Z_]*@' "$unit"; then fail "weftd@.service has unsubstituted @VARS@"; fi
if command -v systemd-analyze >/dev/null; then
  # An instance of the template whose ExecStart names the DESTDIR's weftd
  # (verify checks that it is executable); --man=no: the man page is in the
  # DESTDIR, not where man looks. Any line it prints (an unknown key, a bad
  # value, a missing dependency) fails the test.
  sed "s|^ExecStart=$bindir/weftd |ExecStart=$dest$bindir/weftd |" "$unit" >"$tmp/weftd@node1.service"
  if ! systemd-analyze verify --man=no "$tmp/weftd@node1.service" >"$tmp/verify.log" 2>&1 ||
     [ -s "$tmp/verify.log" ]; then
    cat "$tmp/verify.log" >&2
    fail "systemd-analyze verify weftd@node1.service"
  fi
  echo "systemd-analyze verify: ok"
else
  echo "no systemd-analyze here: the unit's keys were checked, not verified by systemd"
fi
echo "install test: ok"
