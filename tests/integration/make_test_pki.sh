#!/usr/bin/env bash
# Makes a throwaway PKI for tests with the openssl CLI (nothing here is ever committed):
#   tests/integration/make_test_pki.sh DIR
# writes DIR/ca.pem (a CA valid for 2 days), DIR/server.pem and DIR/server.key (ECDSA P-256, for
# localhost and 127.0.0.1, signed by that CA), and prints the SPKI hash of the server key
# (base64 SHA-256, what Chromium's --ignore-certificate-errors-spki-list takes).
set -euo pipefail
dir=${1:?usage: make_test_pki.sh DIR}
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days 2 -subj '/CN=tether test CA' 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
  -subj '/CN=localhost' 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
  -extfile server.ext 2>/dev/null
openssl x509 -in server.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64
