#!/usr/bin/env bash
# Makes the fixtures auth_jwt_test.cpp verifies, in DIR (replaced), without any of tether's code:
# keys from `openssl genpkey`, tokens signed by node's crypto module (auth_jwt_mint.mjs). No key is
# committed; each run makes fresh ones. ctest runs this once as the fixture of the JWT tests; the
# test binary runs it itself, into a temporary directory, when started by hand.
# Usage: auth_jwt_fixtures.sh DIR   (OPENSSL and NODE may name the tools)
set -euo pipefail
dir=${1:?usage: auth_jwt_fixtures.sh DIR}
openssl=${OPENSSL:-openssl}
node=${NODE:-node}
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$dir"
mkdir -p "$dir/tokens"
cd "$dir"

key() {   # NAME genpkey-args...: NAME.key (private) and NAME.pub (SubjectPublicKeyInfo PEM)
  local name=$1; shift
  "$openssl" genpkey "$@" -out "$name.key" 2>/dev/null
  "$openssl" pkey -in "$name.key" -pubout -out "$name.pub"
}
key rsa     -algorithm RSA -pkeyopt rsa_keygen_bits:2048
key rsa2    -algorithm RSA -pkeyopt rsa_keygen_bits:2048
key rsa1024 -algorithm RSA -pkeyopt rsa_keygen_bits:1024   # refused: RFC 7518 §3.3 wants 2048
key ec      -algorithm EC -pkeyopt ec_paramgen_curve:P-256
key ec2     -algorithm EC -pkeyopt ec_paramgen_curve:P-256
key ec384   -algorithm EC -pkeyopt ec_paramgen_curve:P-384  # refused for ES256 (RFC 7518 §3.4)
key ed25519 -algorithm ED25519                              # refused: not an algorithm tether verifies
# HS256 secrets: 64 bytes of hex text each (RFC 7518 §3.2 wants at least 32 bytes).
"$openssl" rand -hex 32 | tr -d '\n' > hs.secret
"$openssl" rand -hex 32 | tr -d '\n' > hs2.secret

"$node" "$here/auth_jwt_mint.mjs" "$dir"
