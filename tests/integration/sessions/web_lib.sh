# tests/integration/sessions/web_lib.sh — the web-sessions cluster of the
# sessions tests (sessions_web.sh, sessions_browser.sh), sourced after
# lib.sh and cluster_lib.sh. Owns: 3 weftd nodes n1..n3 (SUB.11-13), each
# namespace also running one examples/web-sessions instance "app-nI" that
# listens on its node's own IP, port 8080, and talks to that node; nginx
# on 127.0.0.1:<free port> as the round-robin load balancer over the three
# (the example's own examples/web-sessions/nginx.conf.in, its upstream
# exactly as `weftctl lb-config nginx` makes it from the members: no
# stickiness, a failed instance retried on the next); requests through it
# with a cookie jar; which members own a session (sess_owners); and the
# teardown of what lib.sh does not know (nginx, the browser: whole trees).
#
# Invariants: every app is in lib.sh's _pids, nginx and other trees in
# _web_trees: web_cleanup (the EXIT trap, replacing lib.sh's and calling it)
# stops them all on any exit, then lib.sh removes nodes, namespaces and
# veths (the apps' addresses, rules and routes live in the namespaces).
# nginx's files are all under $WEFT_TMP/nginx (never /etc/nginx or /var).
# Every wait is bounded; nginx listens on loopback only, the apps on the
# test's own subnet.

WEB_SESSIONS=${WEB_SESSIONS:-$WEFT_BUILD/examples/web-sessions/web-sessions}
SESS_OWNERS=$WEFT_BUILD/tests/integration/sessions/sess_owners
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
WEB_TEMPLATE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/examples/web-sessions/nginx.conf.in
WEB_PORT=8080
WEB_STORE=weft.sessions

declare -A apid
_web_trees=()

# --- teardown ---------------------------------------------------------------
# A process is named by "PID:START" (START: its start time, /proc/PID/stat
# field 22), so that a pid reused by another process after ours exited is
# never signalled.

# proc_start PID: the process's start time, or nothing when it is gone.
proc_start() { awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null || true; }

# tree_of PID: "PID:START" of PID and of all its descendants (read while
# PID lives: its children are reparented once it exits).
tree_of() {
  local p=$1 c st
  st=$(proc_start "$p")
  [ -n "$st" ] || return 0
  echo "$p:$st"
  for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do tree_of "$c"; done
}

# signal_same SIG PID:START...: SIG to each process still the one named.
signal_same() {
  local sig=$1 e; shift
  for e in "$@"; do
    [ "$(proc_start "${e%%:*}")" = "${e#*:}" ] && kill "-$sig" "${e%%:*}" 2>/dev/null || true
  done
}

# web_track PID: stop PID and its descendants in web_cleanup.
web_track() { _web_trees+=("$1:$(proc_start "$1")"); }

# not_same PID:START: that process is gone (its pid free or another's).
not_same() { [ "$(proc_start "${1%%:*}")" != "${1#*:}" ]; }

# stop_tree PID:START [SECONDS]: SIGTERM to the process (its own shutdown
# stops its children), waits (bounded, default 5 s), then SIGKILLs what is
# left of its tree; reaps it when it is our child. SECONDS 0: SIGKILL to
# the whole tree at once.
stop_tree() {
  local root=$1 limit=${2:-5} all
  all=$(tree_of "${root%%:*}")
  case $all in "$root"*) ;; *) return 0 ;; esac   # gone, or another process now
  if [ "$limit" -gt 0 ]; then
    signal_same TERM "$root"
    wait_for "$limit" not_same "$root" || true
  fi
  # shellcheck disable=SC2086
  signal_same KILL $all
  wait "${root%%:*}" 2>/dev/null || true
}

web_cleanup() {
  local rc=$? t
  for t in "${_web_trees[@]}"; do
    # on a signal (a runner's timeout) there is no time to wait
    if [ $_interrupted -ne 0 ]; then stop_tree "$t" 0; else stop_tree "$t" 5; fi
  done
  if { [ $rc -ne 0 ] || [ $_failures -ne 0 ]; } && [ -f "$WEFT_TMP/nginx/error.log" ]; then
    echo "--- nginx error.log (last 20 lines)"; tail -n 20 "$WEFT_TMP/nginx/error.log"
  fi
  # weft_cleanup reads the exit status from $?; set -e would end the trap
  # at a failing (exit rc)
  set +e
  (exit $rc)
  weft_cleanup
}
trap web_cleanup EXIT

# --- requirements -------------------------------------------------------------

web_require() {
  local miss=()
  [ -x "$WEB_SESSIONS" ] || miss+=("$WEB_SESSIONS (build examples/web-sessions)")
  [ -x "$SESS_OWNERS" ] || miss+=("$SESS_OWNERS (build tests/integration)")
  [ -x "$NGINX" ] || miss+=("nginx (apt-get install nginx-light)")
  [ -f "$WEB_TEMPLATE" ] || miss+=("$WEB_TEMPLATE")
  command -v curl >/dev/null || miss+=("curl")
  command -v jq >/dev/null || miss+=("jq")
  if [ ${#miss[@]} -ne 0 ]; then
    printf 'missing: %s\n' "${miss[@]}"
    exit 1
  fi
}

# --- the cluster and the apps -------------------------------------------------

# web_node NAME IP APP_IP [weftd args...]: cl_node NAME IP, and the
# namespace set up for an app instance listening on the node's own IP (the
# technique of scripts/web-cluster): a second veth "$ns-c" (peer "$ns-k" on
# the bridge) holding APP_IP/24, which the app's weft client sends from
# (a datagram sent out of the node's own veth would never reach weftd's
# af_packet port); the node's IP on lo; policy rules: TCP to WEB_PORT
# arriving on the node's veth is delivered locally (to the app), anything
# else arriving there is blackholed (it is weftd's traffic: no ICMP from
# the kernel), UDP to the node's IP goes out "$ns-c". "$ns-c" answers ARP
# only for APP_IP, so the bridge keeps weftd's MAC for the node's IP.
web_node() {
  local name=$1 ip=$2 aip=$3; shift 3
  cl_node "$name" "$ip" "$@"
  local ns=$CL_NS-$name
  local nv=$ns-n cv=$ns-c
  ip link add "$ns-k" type veth peer name "$cv"; _links+=("$ns-k")
  ip link set "$cv" netns "$ns"
  ip link set "$ns-k" master "$CL_BR" up
  ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
    "net.ipv4.conf.$nv.rp_filter=0" "net.ipv4.conf.$cv.rp_filter=0" \
    "net.ipv4.conf.$cv.arp_ignore=1" "net.ipv4.conf.$cv.arp_announce=2"
  ip -n "$ns" addr add "$aip/24" dev "$cv"
  ip -n "$ns" link set "$cv" up
  ip -n "$ns" addr add "$ip/32" dev lo
  ip -n "$ns" rule add pref 100 iif "$nv" ipproto tcp dport "$WEB_PORT" lookup local
  ip -n "$ns" rule add pref 101 iif "$nv" lookup 101
  ip -n "$ns" route add blackhole default table 101
  ip -n "$ns" rule add pref 102 to "$ip" ipproto udp lookup 102
  ip -n "$ns" route add "$ip" dev "$cv" src "$aip" table 102
  ip -n "$ns" rule add pref 1000 lookup local
  ip -n "$ns" rule del pref 0
}

# web_cluster PREFIX SUB: the bridge and 3 nodes n1..n3 at SUB.11-13 (their
# apps' weft clients at SUB.21-23), one view, rebalanced. Sets all_addr.
web_cluster() {
  local prefix=$1 sub=$2
  cl_net "$prefix" "$sub"
  for i in 1 2 3; do web_node "n$i" "$sub.1$i" "$sub.2$i" --clustered; done
  for i in 1 2 3; do weft_wait_ready "${addr[n$i]}" "${pid[n$i]}"; done
  all_addr=("${addr[n1]}" "${addr[n2]}" "${addr[n3]}")
  check "3 nodes form one view" wait_view 30 "n1:alive,n2:alive,n3:alive" "${all_addr[@]}"
  check "the view is rebalanced on all" wait_rebalanced 30 "${all_addr[@]}"
}

# healthy IP:PORT: the instance (or nginx) there answers GET /healthz (no
# session is made).
healthy() { curl -sf --max-time 1 -o /dev/null "http://$1/healthz"; }

# web_app NODE TIMEOUT_S: web-sessions "app-NODE" in NODE's namespace on the
# node's IP, talking to NODE, sessions timing out after TIMEOUT_S idle;
# waits (bounded) until it answers /healthz from here. Sets apid[NODE].
web_app() {
  local n=$1 t=$2
  ip netns exec "$CL_NS-$n" "$WEB_SESSIONS" --listen "${addr[$n]}:$WEB_PORT" \
    --node "${addr[$n]}" --timeout "$t" --name "app-$n" --store "$WEB_STORE" \
    >"$WEFT_TMP/app-$n.log" 2>&1 &
  apid[$n]=$!
  _pids+=("${apid[$n]}")
  wait_for 20 healthy "${addr[$n]}:$WEB_PORT" ||
    { echo "     app-$n does not answer on ${addr[$n]}:$WEB_PORT"; return 1; }
}

# --- nginx ----------------------------------------------------------------------

# port_free PORT: no TCP socket here uses PORT (any state: a connection's
# local port blocks a bind too).
port_free() { ! ss -Htan "sport = :$1" | grep -q .; }
# free_port [FROM]: a free loopback TCP port from FROM on (default: from a
# point of 10000-29999 that depends on our pid, so parallel runs seldom try
# the same one; below the kernel's ephemeral range, 32768 and up).
free_port() {
  local p from=${1:-$((10000 + ($$ % 2000) * 10))}
  for p in $(seq "$from" $((from + 199))); do port_free "$p" && { echo "$p"; return; }; done
  return 1
}

# nginx_settled PORT PID: nginx answers on PORT, or PID has exited.
nginx_settled() { healthy "127.0.0.1:$1" || gone "$2"; }

# web_nginx NODE_ADDR: $WEFT_TMP/nginx/upstream.conf from `weftctl -s
# NODE_ADDR lb-config nginx --port 8080 --upstream weft_web` as it is (it
# must name every node), nginx.conf from the example's template with
# 127.0.0.1:<free port>; runs nginx in the foreground as our child; waits
# (bounded) until it answers. A port taken between the look and nginx's
# bind is given up for the next free one (3 tries). Sets LB
# (http://127.0.0.1:PORT) and NGINX_PID.
web_nginx() {
  local d=$WEFT_TMP/nginx port="" n try
  mkdir -p "$d"
  ctl "$1" lb-config nginx --port "$WEB_PORT" --upstream weft_web >"$d/upstream.conf" ||
    { echo "     lb-config failed"; return 1; }
  for n in "${!addr[@]}"; do
    grep -Eq "^ *server ${addr[$n]//./\\.}:${WEB_PORT}[ ;]" "$d/upstream.conf" ||
      { echo "     lb-config names no server ${addr[$n]}:$WEB_PORT:"; cat "$d/upstream.conf"; return 1; }
  done
  for try in 1 2 3; do
    port=$(free_port ${port:+$((port + 1))}) || { echo "     no free loopback port"; return 1; }
    sed -e "s|@DIR@|$d|g" -e "s|@LISTEN@|127.0.0.1:$port|g" -e "s|@UPSTREAM@|$d/upstream.conf|g" \
      "$WEB_TEMPLATE" >"$d/nginx.conf"
    "$NGINX" -t -q -c "$d/nginx.conf" -p "$d" -e "$d/error.log" ||
      { echo "     nginx -t refuses $d/nginx.conf"; return 1; }
    "$NGINX" -c "$d/nginx.conf" -p "$d" -e "$d/error.log" -g 'daemon off;' \
      >"$d/stdout.log" 2>&1 &
    NGINX_PID=$!
    web_track "$NGINX_PID"
    wait_for 10 nginx_settled "$port" "$NGINX_PID" || true
    healthy "127.0.0.1:$port" && break
    if gone "$NGINX_PID" && grep -q 'Address already in use' "$d/error.log"; then
      echo "     nginx: port $port taken meanwhile (try $try)"
      mv "$d/error.log" "$d/error.log.try$try"
      continue
    fi
    echo "     nginx does not answer on $port"
    return 1
  done
  healthy "127.0.0.1:$port" || return 1
  LB=http://127.0.0.1:$port
  echo "     nginx (pid $NGINX_PID) on $LB, upstream from lb-config:"
  grep -v '^#' "$d/upstream.conf" | sed 's/^/       /'
}

# nginx_retries: how many times nginx gave up on an instance and tried the
# next (the [error] lines about an upstream in its error log: connection
# refused, timed out, closed early).
nginx_retries() { grep -c '\[error\].*upstream' "$WEFT_TMP/nginx/error.log" 2>/dev/null || true; }

# --- requests -------------------------------------------------------------------

now_ms() { date +%s%3N; }

# web_req JAR PATH [curl args...]: one request through nginx with the
# cookie jar JAR (bounded: 30 s). Sets REQ_CODE (HTTP status, or
# "curl-N" when curl failed), REQ_BODY, REQ_INSTANCE (X-Instance),
# REQ_MS (duration) and REQ_T0 (start, unix ms).
web_req() {
  local jar=$1 path=$2 rc=0; shift 2
  local h=$WEFT_TMP/req.headers b=$WEFT_TMP/req.body
  : >"$h"; : >"$b"
  REQ_T0=$(now_ms)
  REQ_CODE=$(curl -sS --max-time 30 -b "$jar" -c "$jar" -D "$h" -o "$b" -w '%{http_code}' \
    "$@" "$LB$path" 2>>"$WEFT_TMP/curl.log") || rc=$?
  REQ_MS=$(( $(now_ms) - REQ_T0 ))
  [ $rc -eq 0 ] || REQ_CODE=curl-$rc
  REQ_BODY=$(cat "$b")
  REQ_INSTANCE=$(awk -F': *' 'tolower($1) == "x-instance" { sub("\r", "", $2); print $2 }' "$h")
}

# count_of BODY: the "count" of a JSON body, or "none".
count_of() { jq -r '.count // "none"' <<<"$1" 2>/dev/null || echo none; }

# cookie_of JAR: the WEFTSESSION cookie's value in a curl cookie jar.
cookie_of() { awk -F'\t' '$6 == "WEFTSESSION" { v = $7 } END { print v }' "$1" 2>/dev/null; }

# --- owners and sessions ----------------------------------------------------------

# owners_of ID ADDR: "PRIMARY BACKUP..." of session ID in ADDR's table.
owners_of() {
  local line
  line=$("$SESS_OWNERS" --server "$2" "$1") || return 1
  echo "     $line" >&2
  sed -n 's/.* primary=\([^ ]*\)\( backups=\([^ ]*\)\)\{0,1\}$/\1 \3/p' <<<"$line" | tr ',' ' '
}

# store_entries ADDR: entries of the session store in ADDR's stats.
store_entries() { cache_entries "$1" "$WEB_STORE"; }

# session_attr ADDR ID NAME: attribute NAME of session ID as `weftctl
# session ID` shows it (a row "NAME SIZE VALUE", a text value in quotes;
# INFO and a raw GET: not an access), or nothing.
session_attr() {
  ctl "$1" session "$2" 2>/dev/null |
    awk -v a="$3" '$1 == a && NF >= 3 { v = $3; gsub(/"/, "", v); print v }'
}

# sessions_of ADDR: "HELD COPIES SESSIONS" of the session store from
# `weftctl -s ADDR sessions`: the copies ADDR holds, then the cluster's
# copies and session count (0 for a store not listed).
sessions_of() {
  ctl "$1" sessions 2>/dev/null | awk -v s="$WEB_STORE" '
    $1 == "cluster" { c = 1 }
    $1 == s { if (c) { cc = $2; cs = $3 } else held = $2 }
    END { print held + 0, cc + 0, cs + 0 }'
}

# topic_subs ADDR TOPIC: the SUBS column (plain subscriptions) of TOPIC in
# `weftctl -s ADDR destinations`, 0 when it is not listed.
topic_subs() {
  ctl "$1" destinations 2>/dev/null | awk -v t="$2" '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == "SUBS") c = i }
    NR > 1 && $1 == t && c { v = $c }
    END { print (v ~ /^[0-9]+$/) ? v : 0 }'
}

# session_gone ADDR ID: `weftctl session ID` answers NO_SESSION.
session_gone() {
  local out rc=0
  out=$(ctl "$1" session "$2" 2>&1) || rc=$?
  [ $rc -ne 0 ] && grep -q NO_SESSION <<<"$out"
}
