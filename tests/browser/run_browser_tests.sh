#!/usr/bin/env bash
# Runs one end-to-end test of e2e.mjs (headless Chromium driving the *_web examples).
#   tests/browser/run_browser_tests.sh EXAMPLES_DIR SCREENSHOT_DIR TEST
# Installs the locked npm dependencies (playwright-core only) on first use, never a browser:
# PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD keeps it that way, and e2e.mjs launches /usr/bin/chromium.
# Every server, proxy and browser the test starts is stopped by e2e.mjs, by PID.
# Environment: NODE, NPM (defaults: node, npm on PATH).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
examples=${1:?usage: run_browser_tests.sh EXAMPLES_DIR SCREENSHOT_DIR TEST}
screenshots=${2:?usage: run_browser_tests.sh EXAMPLES_DIR SCREENSHOT_DIR TEST}
test=${3:?usage: run_browser_tests.sh EXAMPLES_DIR SCREENSHOT_DIR TEST}
node=${NODE:-node}
npm=${NPM:-npm}
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

if [ ! -d "$here/node_modules/playwright-core" ]; then
  # ci: exactly the versions in package-lock.json. Parallel ctest runs may race here; each leaves the
  # same files (see tests/interop/run_ws_interop.sh).
  (cd "$here" && "$npm" ci --no-audit --no-fund --loglevel=error) || (cd "$here" && "$npm" install --no-audit --no-fund --loglevel=error)
fi

if [ "$test" = https ]; then   # a throwaway CA and certificate; node trusts the CA, Chromium the key
  pki=$(mktemp -d)
  trap 'rm -rf "$pki"' EXIT
  TETHER_TLS_SPKI=$("$here/../integration/make_test_pki.sh" "$pki")
  export TETHER_TLS_SPKI TETHER_TLS_CERT=$pki/server.pem TETHER_TLS_KEY=$pki/server.key NODE_EXTRA_CA_CERTS=$pki/ca.pem
  "$node" "$here/e2e.mjs" --examples "$examples" --screenshots "$screenshots" "$test"
  exit
fi
exec "$node" "$here/e2e.mjs" --examples "$examples" --screenshots "$screenshots" "$test"
