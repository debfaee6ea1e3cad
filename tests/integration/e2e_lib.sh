# tests/integration/e2e_lib.sh — what the browser tests (sessions_browser.sh,
# admin_console.sh) need, sourced after lib.sh: e2e_prepare makes sure
# chromium, node (>= 20) and npm are installed (apt-get, as CI runs as root
# on a fresh machine) and tests/e2e/node_modules holds the playwright-core
# that tests/e2e/package.json locks (npm ci). Several tests may prepare at
# once: the whole step runs under a lock (flock on tests/e2e/.prepare.lock).

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../e2e" && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

e2e_prepare_locked() {
  local pkgs=()
  [ -x "$CHROMIUM" ] || pkgs+=(chromium)
  command -v node >/dev/null || pkgs+=(nodejs)
  command -v npm >/dev/null || pkgs+=(npm)
  if [ ${#pkgs[@]} -ne 0 ]; then
    echo "     installing ${pkgs[*]} (apt-get)"
    timeout 600 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 \
      apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >"$WEFT_TMP/apt.log" 2>&1 ||
      { tail -n 20 "$WEFT_TMP/apt.log"; return 1; }
  fi
  local want have major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 20 ]; then
    echo "     node $(node --version) is too old for playwright-core (needs >= 20: nodesource's nodejs)"
    return 1
  fi
  want=$(cd "$E2E_DIR" && node -p 'require("./package.json").dependencies["playwright-core"]')
  have=$(cd "$E2E_DIR" && node -p 'try { require("./node_modules/playwright-core/package.json").version } catch { "" }')
  if [ "$want" != "$have" ]; then
    echo "     npm ci in $E2E_DIR (playwright-core $want, have '${have}')"
    (cd "$E2E_DIR" && timeout 600 npm ci --no-audit --no-fund) >"$WEFT_TMP/npm.log" 2>&1 ||
      { tail -n 20 "$WEFT_TMP/npm.log"; return 1; }
  fi
}

# e2e_prepare: the above under the lock (bounded: 20 min).
e2e_prepare() {
  (
    flock -w 1200 9 || { echo "     tests/e2e is locked by another test for 20 min"; exit 1; }
    e2e_prepare_locked
  ) 9>"$E2E_DIR/.prepare.lock"
}
