#!/bin/bash
# tls.sh - TLS beyond system-api: mutual TLS with a client CA and a CRL, renewal of an expired
# self-generated certificate, and the start-up refusals (expired operator certificate, only one
# of cert/key, a key that does not match, missing files without tls_create_if_missing).
# All certificates are made here with the openssl CLI.
set -eu
. "${SRCDIR:?}/tests/integration/lib.sh"

# ------------------------------------------------------------------ a CA with the openssl CLI
mkca() { # mkca DIR CN
	local d=$1
	mkdir -p "$d/newcerts"
	: >"$d/index.txt"
	echo 1000 >"$d/serial"
	echo 1000 >"$d/crlnumber"
	cat >"$d/ca.cnf" <<EOF
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = $d
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
policy = policy_any
unique_subject = no
default_crl_days = 30
[ policy_any ]
commonName = supplied
[ req ]
distinguished_name = dn
[ dn ]
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ client_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
[ server_only_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
[ server_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
EOF
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" \
		-out "$d/ca.pem" -days 30 -subj "/CN=$2" -config "$d/ca.cnf" -extensions ca_ext 2>/dev/null
}
# issue DIR NAME EXT [ca args...]: key NAME.key, cert NAME.pem in DIR, signed by DIR's CA.
issue() {
	local d=$1 n=$2 ext=$3
	shift 3
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$n.key" \
		-out "$d/$n.csr" -subj "/CN=$n" -config "$d/ca.cnf" 2>/dev/null
	openssl ca -batch -notext -config "$d/ca.cnf" -cert "$d/ca.pem" -keyfile "$d/ca.key" \
		-in "$d/$n.csr" -out "$d/$n.pem" -extensions "$ext" "$@" 2>"$d/$n.err" ||
		fail "openssl ca for $n: $(cat "$d/$n.err")"
}

mkca "$T/ca" "cloister test CA"
mkca "$T/rogue" "rogue CA"
issue "$T/ca" good client_ext -days 30
issue "$T/ca" good2 client_ext -days 30
issue "$T/ca" serveronly server_only_ext -days 30
issue "$T/ca" oldclient client_ext -startdate 20200101000000Z -enddate 20200102000000Z
issue "$T/rogue" good client_ext -days 30
ok "made a CA, client certificates (clientAuth) and a rogue CA's client certificate"

# ------------------------------------------------------------------ mTLS
cat >config.toml <<EOF
[general]
tls_enabled = true
tls_create_if_missing = true
tls_cert_hosts = ["localhost", "127.0.0.1"]
tls_cert_path = "cert.pem"
tls_key_path = "key.pem"
[cloister]
tls_client_ca_path = "$T/ca/ca.pem"
EOF
start_agent config.toml
S="https://localhost:$PORT"
grep -q 'tls=mtls' "$AGENT_LOG" || fail "the agent does not report tls=mtls"
expect_status 403 "mTLS: no client certificate: 403" --cacert cert.pem "$S/livez"
[ "$(json_get "$T/body" 'd["code"]')" = 403 ] || fail "403 body: $(cat "$T/body")"
expect_status 403 "mTLS: rogue CA's client certificate: 403" --cacert cert.pem \
	--cert "$T/rogue/good.pem" --key "$T/rogue/good.key" "$S/livez"
expect_status 200 "mTLS: good client certificate: 200" --cacert cert.pem \
	--cert "$T/ca/good.pem" --key "$T/ca/good.key" "$S/livez"
expect_status 403 "mTLS: expired client certificate: 403" --cacert cert.pem \
	--cert "$T/ca/oldclient.pem" --key "$T/ca/oldclient.key" "$S/livez"
# Its keyUsage lacks digitalSignature, so the handshake itself may fail: 403 or no answer.
code=$(req --cacert cert.pem --cert "$T/ca/ca.pem" --key "$T/ca/ca.key" "$S/livez")
case "$code" in 403 | 000) ;; *) fail "the CA certificate as a client certificate got $code" ;; esac
ok "mTLS: the CA certificate itself as a client certificate is refused ($code)"
ev_before=$(curl -s --max-time 10 --cacert cert.pem --cert "$T/ca/good.pem" --key "$T/ca/good.key" "$S/api/v1/events")
expect_status 403 "mTLS: a write without a client certificate is refused: 403" --cacert cert.pem \
	"$S/api/v1/new_event?message=sneaky"
expect_status 403 "mTLS: a POST with a body and no client certificate: 403" --cacert cert.pem \
	--data-binary "sneaky body" "$S/api/v1/new_event"
ev_after=$(curl -s --max-time 10 --cacert cert.pem --cert "$T/ca/good.pem" --key "$T/ca/good.key" "$S/api/v1/events")
[ "$ev_before" = "$ev_after" ] || fail "a refused mTLS request recorded an event"
ok "the refused request recorded nothing"
stop_agent

# The same, with a CRL that revokes "good".
openssl ca -config "$T/ca/ca.cnf" -cert "$T/ca/ca.pem" -keyfile "$T/ca/ca.key" \
	-revoke "$T/ca/good.pem" 2>/dev/null || fail "openssl ca -revoke"
openssl ca -gencrl -config "$T/ca/ca.cnf" -cert "$T/ca/ca.pem" -keyfile "$T/ca/ca.key" \
	-out "$T/ca/crl.pem" 2>/dev/null || fail "openssl ca -gencrl"
echo "tls_client_crl_path = \"$T/ca/crl.pem\"" >>config.toml
start_agent config.toml
S="https://localhost:$PORT"
expect_status 403 "mTLS + CRL: the revoked certificate: 403" --cacert cert.pem \
	--cert "$T/ca/good.pem" --key "$T/ca/good.key" "$S/livez"
expect_status 200 "mTLS + CRL: another certificate of the CA: 200" --cacert cert.pem \
	--cert "$T/ca/good2.pem" --key "$T/ca/good2.key" "$S/livez"
expect_status 403 "mTLS + CRL: no client certificate: 403" --cacert cert.pem "$S/livez"
stop_agent

# A client certificate without clientAuth (serverAuth only) is not a client certificate.
sed -i '/tls_client_crl_path/d' config.toml
start_agent config.toml
S="https://localhost:$PORT"
expect_status 403 "mTLS: a serverAuth-only certificate from the CA: 403" --cacert cert.pem \
	--cert "$T/ca/serveronly.pem" --key "$T/ca/serveronly.key" "$S/livez"
stop_agent

# A CRL path that does not exist refuses start-up.
echo "tls_client_crl_path = \"$T/ca/missing-crl.pem\"" >>config.toml
run_agent_expect 1 --config config.toml --listen-addr 127.0.0.1:0
ok "a missing tls_client_crl_path refuses start-up"
sed -i '/tls_client_crl_path/d' config.toml
sed -i "s|tls_client_ca_path = .*|tls_client_ca_path = \"$T/ca/missing-ca.pem\"|" config.toml
run_agent_expect 1 --config config.toml --listen-addr 127.0.0.1:0
ok "a missing tls_client_ca_path refuses start-up"

# ------------------------------------------------------------------ renewal of our own cert
mkdir -p "$T/renew" && cd "$T/renew"
cat >config.toml <<'EOF'
[general]
tls_enabled = true
tls_create_if_missing = true
tls_cert_hosts = ["localhost"]
tls_cert_path = "cert.pem"
tls_key_path = "key.pem"
EOF
start_agent config.toml
stop_agent
# Replace the generated certificate with an expired self-signed one over the same key.
mkca "$T/selfca" "unused"
openssl req -new -key key.pem -subj "/CN=localhost" -out self.csr -config "$T/selfca/ca.cnf" 2>/dev/null
openssl ca -batch -notext -selfsign -config "$T/selfca/ca.cnf" -keyfile key.pem -in self.csr \
	-out cert.pem -extensions server_ext -startdate 20200101000000Z -enddate 20200102000000Z \
	2>self.err || fail "openssl ca -selfsign: $(cat self.err)"
openssl x509 -in cert.pem -noout -checkend 0 >/dev/null && fail "the fixture is not expired"
ok "replaced the generated certificate with an expired self-signed one (same key)"
old_fp=$(openssl x509 -in cert.pem -noout -fingerprint -sha256)
start_agent config.toml
new_fp=$(openssl x509 -in cert.pem -noout -fingerprint -sha256)
[ "$old_fp" != "$new_fp" ] || fail "the expired self-signed certificate was not renewed"
openssl x509 -in cert.pem -noout -checkend 86400 >/dev/null || fail "the renewed certificate expires within a day"
[ "$(stat -c %a cert.pem)" = 600 ] && [ "$(stat -c %a key.pem)" = 600 ] || fail "renewed files are not 0600"
ok "an expired self-generated certificate is renewed at start (0600, valid > 1 day)"
expect_status 200 "the renewed certificate serves" --cacert cert.pem "https://localhost:$PORT/livez"
stop_agent

# ------------------------------------------------------------------ start-up refusals
mkdir -p "$T/refuse" && cd "$T/refuse"
cat >config.toml <<'EOF'
[general]
tls_enabled = true
tls_create_if_missing = true
tls_cert_hosts = ["localhost"]
tls_cert_path = "cert.pem"
tls_key_path = "key.pem"
EOF
# An operator certificate (issued by a CA, not self-signed) that has expired.
issue "$T/ca" expiredsrv server_ext -startdate 20200101000000Z -enddate 20200102000000Z
cp "$T/ca/expiredsrv.pem" cert.pem
cp "$T/ca/expiredsrv.key" key.pem
run_agent_expect 1 --config config.toml --listen-addr 127.0.0.1:0
grep -qi 'expired' "$T/err" || fail "the refusal does not say 'expired': $(cat "$T/err")"
cmp -s cert.pem "$T/ca/expiredsrv.pem" || fail "the operator's expired certificate was overwritten"
ok "an expired operator certificate refuses start-up and is left untouched"

# A valid operator certificate is used as is.
issue "$T/ca" validsrv server_ext -days 30
cp "$T/ca/validsrv.pem" cert.pem
cp "$T/ca/validsrv.key" key.pem
start_agent config.toml
expect_status 200 "a valid operator certificate serves" --cacert "$T/ca/ca.pem" "https://localhost:$PORT/livez"
stop_agent
cmp -s cert.pem "$T/ca/validsrv.pem" || fail "the operator certificate was rewritten"
ok "the operator certificate is not rewritten"

# A key that does not belong to the certificate.
cp "$T/ca/good2.key" key.pem
run_agent_expect 1 --config config.toml --listen-addr 127.0.0.1:0
ok "a key that does not match the certificate refuses start-up"

# Only one of cert/key present.
rm -f key.pem
run_agent_expect 1 --config config.toml --listen-addr 127.0.0.1:0
[ ! -e key.pem ] || fail "a key was generated next to an existing certificate"
ok "cert.pem without key.pem refuses start-up (nothing generated)"
rm -f cert.pem
cp "$T/ca/validsrv.key" key.pem
run_agent_expect 1 --config config.toml --listen-addr 127.0.0.1:0
[ ! -e cert.pem ] || fail "a certificate was generated next to an existing key"
ok "key.pem without cert.pem refuses start-up"

# Both missing without tls_create_if_missing.
rm -f key.pem
sed -i 's/tls_create_if_missing = true/tls_create_if_missing = false/' config.toml
run_agent_expect 1 --config config.toml --listen-addr 127.0.0.1:0
[ ! -e cert.pem ] && [ ! -e key.pem ] || fail "files were generated with tls_create_if_missing = false"
ok "missing files with tls_create_if_missing = false refuse start-up"

# Garbage in cert.pem.
echo "not a certificate" >cert.pem
cp "$T/ca/validsrv.key" key.pem
run_agent_expect 1 --config config.toml --listen-addr 127.0.0.1:0
ok "an unparsable cert.pem refuses start-up"

echo "# tls: all checks passed"
