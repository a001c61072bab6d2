#!/bin/sh
# gen.sh regenerates the keys, the IdP metadata and the signed SAML responses
# in this folder. The responses are made by samlify 2.13.1, a third-party
# SAML IdP library for Node.js, with every time pinned (see make.js), so that
# `go test` needs neither node nor the network. Run it from anywhere:
#
#	sh saml/testdata/gen.sh            # keys are kept if present
#	FRESH_KEYS=1 sh saml/testdata/gen.sh
#
# Needs node (v20), npm and openssl 3. The keys in keys/ are test keys,
# public by being committed: never use them anywhere else.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=${SAMLIFY_DIR:-/tmp/samlidp}
mkdir -p "$work" "$here/keys" "$here/responses"
if [ ! -d "$work/node_modules/samlify" ]; then
	(cd "$work" && npm install --no-save samlify@2.13.1)
fi

# keypair NAME: an RSA key and a self-signed certificate valid 2025-2045, so
# that the pinned time of the fixtures (2026-01-02) is inside it.
keypair() {
	name=$1
	if [ -f "$here/keys/$name.key" ] && [ -z "${FRESH_KEYS:-}" ]; then return; fi
	d=$(mktemp -d)
	touch "$d/index.txt"
	echo 01 >"$d/serial"
	cat >"$d/ca.cnf" <<CNF
[ca]
default_ca = ca
[ca]
dir = $d
database = $d/index.txt
serial = $d/serial
new_certs_dir = $d
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
CNF
	openssl genrsa -out "$here/keys/$name.key" 2048 2>/dev/null
	openssl req -new -key "$here/keys/$name.key" -subj "/CN=$name.example.test" -out "$d/req.csr"
	openssl ca -batch -config "$d/ca.cnf" -selfsign -keyfile "$here/keys/$name.key" \
		-in "$d/req.csr" -out "$here/keys/$name.crt" \
		-startdate 20250101000000Z -enddate 20450101000000Z -notext 2>/dev/null
	rm -rf "$d"
}
keypair idp  # signs the responses
keypair idp2 # another IdP: its certificate must not verify idp's signatures
keypair sp   # the service provider: encryption and AuthnRequest signing

# samlify warns that the IdP has no SingleLogoutService: harmless here.
log=$(mktemp)
if ! NODE_PATH="$work/node_modules" node "$here/make.js" "$here" 2>"$log"; then
	cat "$log" >&2
	rm -f "$log"
	exit 1
fi
grep -v "missing endpoint of SingleLogoutService" "$log" >&2 || true
rm -f "$log"
