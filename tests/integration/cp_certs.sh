#!/bin/bash
# cp_certs.sh - cloisterd's CA end to end (issue 7): issue a backend certificate, download its
# bundle once through a single-use token, renew, revoke, the CRL (openssl crl -text, openssl
# verify -crl_check), and an agent that trusts only cloisterd: started with the downloaded
# bundle as its TLS certificate, cloisterd's CA as client CA, tls_client_cn = "cloisterd" and
# the CRL fetched from GET /certs/crl, it accepts cloisterd's client certificate, refuses a
# backend (serverAuth) certificate, another CN, another CA, and a revoked client certificate
# once the CRL is fetched again, without a restart.
# Needs CLOISTERD, AGENT; uses openssl, curl, python3 and the sqlite3 command line.
. "$(dirname "$0")/cp_lib.sh"

: "${AGENT:?AGENT must point at the cloister-agent binary}"
case "$AGENT" in /*) ;; *) AGENT="$OLDPWD/$AGENT" ;; esac
command -v sqlite3 >/dev/null || fail "the sqlite3 command line is required"
AGENT_PID=""
_certs_cleanup() {
	if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
		kill -KILL "$AGENT_PID" 2>/dev/null || true
	fi
}
trap '_certs_cleanup; _cp_cleanup' EXIT

start_cloisterd
CA=$T/state/ca
for f in ca.pem ca-key.pem cloisterd-client.pem cloisterd-client-key.pem crl.pem; do
	[ -s "$CA/$f" ] || fail "no $CA/$f after the first start"
done
[ "$(stat -c %a "$CA/ca-key.pem")" = 600 ] || fail "ca-key.pem is not 0600"
[ "$(stat -c %a "$CA/cloisterd-client-key.pem")" = 600 ] || fail "client key is not 0600"
openssl x509 -in "$CA/cloisterd-client.pem" -noout -ext extendedKeyUsage | grep -q "Client Authentication" ||
	fail "cloisterd's client certificate lacks clientAuth"
openssl verify -CAfile "$CA/ca.pem" "$CA/cloisterd-client.pem" >/dev/null || fail "client cert does not chain"
ok "first start made the CA, cloisterd's client certificate (clientAuth) and a CRL"

ADMIN=$(login admin "$ADMIN_PW")
mkuser "$ADMIN" alice alice-password-1 >/dev/null
mkuser "$ADMIN" bob bob-password-12 >/dev/null
ALICE=$(login alice alice-password-1)
BOB=$(login bob bob-password-12)
AP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BID=$(mkbackend "$ALICE" agent-1 "127.0.0.1:$AP")
GHOST=$(mkbackend "$ALICE" ghost "127.0.0.1:1")
J=(-H 'Content-Type: application/json')

# ---------------------------------------------------------------- issue
expect_status 404 "issue for another user's backend" -X POST "$BASE/certs/issue/backend/$BID" \
	-H "Authorization: Bearer $BOB" "${J[@]}" -d '{"ip_addresses":["127.0.0.1"]}'
audit_has "$ADMIN" authz.denied denied || fail "the refused issue was not audited as authz.denied"
expect_status 422 "issue with a bad IP address" -X POST "$BASE/certs/issue/backend/$BID" \
	-H "Authorization: Bearer $ALICE" "${J[@]}" -d '{"ip_addresses":["127.0.0.300"]}'
expect_status 400 "issue with an unknown key" -X POST "$BASE/certs/issue/backend/$BID" \
	-H "Authorization: Bearer $ALICE" "${J[@]}" -d '{"ip_addresses":[],"cn":"x"}'
expect_status 422 "issue with ttl_days 0" -X POST "$BASE/certs/issue/backend/$BID" \
	-H "Authorization: Bearer $ALICE" "${J[@]}" -d '{"ttl_days":0}'
many=$(python3 -c 'import json; print(json.dumps({"ip_addresses":["10.0.0.%d"%i for i in range(1,18)]}))')
expect_status 422 "issue with 17 names (limit 16)" -X POST "$BASE/certs/issue/backend/$BID" \
	-H "Authorization: Bearer $ALICE" "${J[@]}" -d "$many"
sixteen=$(python3 -c 'import json; print(json.dumps({"ip_addresses":["10.0.0.%d"%i for i in range(1,17)]}))')
expect_status 201 "issue with 16 names (at the limit)" -X POST "$BASE/certs/issue/backend/$GHOST" \
	-H "Authorization: Bearer $ALICE" "${J[@]}" -d "$sixteen"
expect_status 415 "issue with a text body" -X POST "$BASE/certs/issue/backend/$BID" \
	-H "Authorization: Bearer $ALICE" -H 'Content-Type: text/plain' -d '{}'
expect_status 201 "issue a backend certificate" -X POST "$BASE/certs/issue/backend/$BID" \
	-H "Authorization: Bearer $ALICE" "${J[@]}" -d '{"ip_addresses":["127.0.0.1"],"dns_names":["localhost"]}'
S1=$(json_get "$T/body" 'd["serial_number"]')
[[ "$S1" =~ ^[0-9a-f]{1,40}$ ]] || fail "serial $S1 is not lower-case hex"
audit_has "$ADMIN" certs.issue ok || fail "certs.issue not audited"

expect_status 200 "list (owner)" "$BASE/certs?backend_id=$BID" -H "Authorization: Bearer $ALICE"
body_has 'd["total"]==1 and d["certificates"][0]["serial_number"]=="'"$S1"'" and d["certificates"][0]["key_available"]' "the list shows it with its key available"
expect_status 200 "list (another user)" "$BASE/certs" -H "Authorization: Bearer $BOB"
body_has 'd["total"]==0' "another user sees none of them"
expect_status 404 "get (another user)" "$BASE/certs/$S1" -H "Authorization: Bearer $BOB"
expect_status 200 "get (owner)" "$BASE/certs/$S1" -H "Authorization: Bearer $ALICE"
body_has '"BEGIN CERTIFICATE" in d["certificate"] and not d["revoked"]' "get returns the PEM"

# ---------------------------------------------------------------- download once
expect_status 200 "download token" "$BASE/certs/$S1/download/token" -H "Authorization: Bearer $ALICE"
TOKEN=$(json_get "$T/body" 'd["token"]')
expect_status 401 "download without a token" "$BASE/certs/$S1/download"
expect_status 200 "download the bundle" "$BASE/certs/$S1/download?token=$TOKEN"
expect_header "bundle content type" 'Content-Type: application/x-pem-file'
expect_header "bundle file name" "Content-Disposition: attachment; filename=\"$S1.pem\""
cp "$T/body" "$T/bundle.pem"
[ "$(grep -c -- '-----BEGIN' "$T/bundle.pem")" = 3 ] || fail "the bundle does not hold 3 PEM blocks"
mkdir -p "$T/agent"
awk '/BEGIN CERTIFICATE/{n++} n==1' "$T/bundle.pem" | sed '/END CERTIFICATE/q' >"$T/agent/ca.pem"
awk '/BEGIN CERTIFICATE/{n++} n==2' "$T/bundle.pem" | sed '/END CERTIFICATE/q' >"$T/agent/cert.pem"
sed -n '/BEGIN PRIVATE KEY/,/END PRIVATE KEY/p' "$T/bundle.pem" >"$T/agent/key.pem"
chmod 600 "$T/agent/key.pem"
cmp -s "$T/agent/ca.pem" "$CA/ca.pem" || fail "the bundle's first block is not the CA certificate"
openssl verify -CAfile "$CA/ca.pem" "$T/agent/cert.pem" >/dev/null || fail "the certificate does not chain"
openssl x509 -in "$T/agent/cert.pem" -noout -ext extendedKeyUsage | grep -q "Server Authentication" ||
	fail "no serverAuth"
openssl x509 -in "$T/agent/cert.pem" -noout -ext subjectAltName | grep -q "IP Address:127.0.0.1" ||
	fail "no IP SAN"
[ "$(openssl x509 -in "$T/agent/cert.pem" -noout -pubkey | openssl sha256)" = \
	"$(openssl pkey -in "$T/agent/key.pem" -pubout | openssl sha256)" ] || fail "key does not match"
ok "the bundle is CA, certificate (serverAuth, IP SAN) and its key, in that order"
expect_status 401 "the same token twice" "$BASE/certs/$S1/download?token=$TOKEN"
expect_status 410 "a second token once the key is gone" "$BASE/certs/$S1/download/token" -H "Authorization: Bearer $ALICE"
audit_has "$ADMIN" certs.download ok || fail "certs.download not audited"
expect_status 200 "list after the download" "$BASE/certs?backend_id=$BID" -H "Authorization: Bearer $ALICE"
body_has 'not d["certificates"][0]["key_available"]' "the key is no longer available"

# ---------------------------------------------------------------- the agent trusts only cloisterd
cat >"$T/agent/agent.toml" <<EOF
[general]
listen_addr = "127.0.0.1:$AP"
tls_enabled = true
tls_create_if_missing = false
tls_cert_path = "$T/agent/cert.pem"
tls_key_path = "$T/agent/key.pem"
[cloister]
events_file = "$T/agent/events.log"
tls_client_ca_path = "$CA/ca.pem"
tls_client_cn = "cloisterd"
tls_client_crl_url = "$BASE/certs/crl"
tls_client_crl_path = "$T/agent/crl.pem"
tls_client_crl_refresh_s = 10
[status]
gpu = false
EOF
"$AGENT" --config "$T/agent/agent.toml" 2>"$T/agent/agent.log" &
AGENT_PID=$!
for _ in $(seq 1 150); do grep -q listening "$T/agent/agent.log" && break; sleep 0.1; done
grep -q listening "$T/agent/agent.log" || { cat "$T/agent/agent.log" >&2; fail "the agent did not start"; }
[ -s "$T/agent/crl.pem" ] || fail "the agent did not fetch the CRL at start"
ok "agent started with the bundle, cloisterd's CA, CN cloisterd and the CRL URL"

acurl() { # acurl CERT KEY -> status of GET /livez on the agent
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$CA/ca.pem" \
		--cert "$1" --key "$2" "https://127.0.0.1:$AP/livez" || true
}
[ "$(acurl "$CA/cloisterd-client.pem" "$CA/cloisterd-client-key.pem")" = 200 ] ||
	fail "the agent refused cloisterd's client certificate"
ok "the agent accepts cloisterd's client certificate"
[ "$(acurl "$T/agent/cert.pem" "$T/agent/key.pem")" = 403 ] ||
	fail "the agent accepted a backend (serverAuth) certificate as a client"
ok "the agent refuses a backend certificate (serverAuth only) as a client"

# client_cert NAME CN CA CAKEY: a clientAuth certificate.
client_cert() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$1-key.pem" \
		-out "$T/$1.csr" -subj "/O=Cloister/CN=$2" 2>/dev/null
	printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' >"$T/$1.ext"
	openssl x509 -req -in "$T/$1.csr" -CA "$3" -CAkey "$4" -CAcreateserial -CAserial "$T/$1.srl" \
		-days 2 -extfile "$T/$1.ext" -out "$T/$1.pem" 2>/dev/null || fail "cannot sign $1"
}
client_cert intruder intruder "$CA/ca.pem" "$CA/ca-key.pem"
[ "$(acurl "$T/intruder.pem" "$T/intruder-key.pem")" = 403 ] || fail "a client with another CN got in"
ok "the agent refuses a clientAuth certificate of the same CA with another CN"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/rogue-ca-key.pem" \
	-out "$T/rogue-ca.pem" -days 2 -subj "/CN=rogue CA" 2>/dev/null
client_cert rogue cloisterd "$T/rogue-ca.pem" "$T/rogue-ca-key.pem"
[ "$(acurl "$T/rogue.pem" "$T/rogue-key.pem")" = 403 ] || fail "a client of another CA got in"
ok "the agent refuses a client certificate named cloisterd from another CA"

# A second "cloisterd" client certificate, known to the store so the API can revoke it.
client_cert second cloisterd "$CA/ca.pem" "$CA/ca-key.pem"
S2=$(openssl x509 -in "$T/second.pem" -noout -serial | sed 's/serial=//' | tr 'A-F' 'a-f' | sed 's/^0*//')
now=$(date +%s)000000000
sqlite3 "$T/state/cloisterd.db" "PRAGMA busy_timeout=5000; INSERT INTO certs (serial, backend_id, cert_pem, key_pem, revoked, created_at, not_before, not_after, revoked_at, renewed_from) VALUES ('$S2', '$GHOST', readfile('$T/second.pem'), '', 0, $now, $now, $now, 0, '');" >/dev/null ||
	fail "cannot add the second client certificate to the store"
[ "$(acurl "$T/second.pem" "$T/second-key.pem")" = 200 ] || fail "the second cloisterd client was refused before revocation"
ok "a second client certificate named cloisterd is accepted before its revocation"
expect_status 200 "revoke the second client certificate" -X PATCH "$BASE/certs/$S2/revoke" -H "Authorization: Bearer $ALICE"
got=""
for _ in $(seq 1 60); do
	got=$(acurl "$T/second.pem" "$T/second-key.pem")
	[ "$got" = 403 ] && break
	sleep 0.5
done
[ "$got" = 403 ] || { tail -5 "$T/agent/agent.log" >&2; fail "the revoked client is still accepted after 30 s"; }
grep -q "client CRL reloaded" "$T/agent/agent.log" || fail "the agent did not log the reload"
kill -0 "$AGENT_PID" || fail "the agent restarted or died"
[ "$(acurl "$CA/cloisterd-client.pem" "$CA/cloisterd-client-key.pem")" = 200 ] ||
	fail "cloisterd's own client certificate is refused after the reload"
ok "a revoked client is refused after the agent fetched the new CRL, without a restart"

# ---------------------------------------------------------------- renew, revoke, CRL
expect_status 200 "renew" -X PATCH "$BASE/certs/$S1/renew" -H "Authorization: Bearer $ALICE"
S3=$(json_get "$T/body" 'd["serial_number"]')
[ "$S3" != "$S1" ] || fail "renew kept the serial"
expect_status 200 "get the renewed one" "$BASE/certs/$S3" -H "Authorization: Bearer $ALICE"
body_has 'd["renewed_from"]=="'"$S1"'" and d["key_available"] and not d["revoked"]' "the new certificate names the one it renewed"
json_get "$T/body" 'd["certificate"]' >"$T/renewed.pem"
[ "$(openssl x509 -in "$T/renewed.pem" -noout -pubkey | openssl sha256)" != \
	"$(openssl x509 -in "$T/agent/cert.pem" -noout -pubkey | openssl sha256)" ] || fail "renew kept the key"
openssl x509 -in "$T/renewed.pem" -noout -ext subjectAltName | grep -q "IP Address:127.0.0.1" || fail "renew lost the SAN"
ok "the renewed certificate has a new key and the same names"
expect_status 200 "get the old one" "$BASE/certs/$S1" -H "Authorization: Bearer $ALICE"
body_has 'd["revoked"]' "the renewed certificate is revoked (superseded)"
expect_status 409 "renew a revoked certificate" -X PATCH "$BASE/certs/$S1/renew" -H "Authorization: Bearer $ALICE"
expect_status 404 "revoke another user's certificate" -X PATCH "$BASE/certs/$S3/revoke" -H "Authorization: Bearer $BOB"
expect_status 200 "revoke" -X PATCH "$BASE/certs/$S3/revoke" -H "Authorization: Bearer $ALICE"
body_has 'd["revoked"] and "revoked_at" in d' "revoke answers the revoked certificate"
expect_status 409 "revoke twice" -X PATCH "$BASE/certs/$S3/revoke" -H "Authorization: Bearer $ALICE"
audit_has "$ADMIN" certs.revoke ok || fail "certs.revoke not audited"
expect_status 200 "the backend after its certificate's revocation" "$BASE/backends/$BID" -H "Authorization: Bearer $ALICE"
body_has 'd["status"]=="terminated"' "revoking a backend's certificate terminates the backend"

expect_status 200 "GET /certs/crl (public)" "$BASE/certs/crl"
expect_header "CRL content type" 'Content-Type: application/pkix-crl'
cp "$T/body" "$T/crl.pem"
openssl crl -in "$T/crl.pem" -CAfile "$CA/ca.pem" -noout 2>&1 | grep -q "verify OK" || fail "the CRL signature does not verify"
text=$(openssl crl -in "$T/crl.pem" -noout -text)
for s in "$S1" "$S2" "$S3"; do
	echo "$text" | tr -d ':' | tr 'A-F' 'a-f' | grep -qi "serial number *0*$s" || fail "serial $s is not on the CRL"
done
echo "$text" | grep -q "X509v3 CRL Number" || fail "no crlNumber"
echo "$text" | grep -q "X509v3 Authority Key Identifier" || fail "no AKI"
echo "$text" | grep -q "Next Update" || fail "no nextUpdate"
ok "the CRL is signed by the CA and lists the renewed, the revoked and the revoked client serials"
cat "$CA/ca.pem" "$T/crl.pem" >"$T/chain-crl.pem"
if openssl verify -crl_check -CAfile "$T/chain-crl.pem" "$T/agent/cert.pem" >"$T/verify.out" 2>&1; then
	fail "openssl verify -crl_check accepts a revoked certificate"
fi
grep -q "certificate revoked" "$T/verify.out" || { cat "$T/verify.out" >&2; fail "verify did not say revoked"; }
openssl verify -crl_check -CAfile "$T/chain-crl.pem" "$CA/cloisterd-client.pem" >/dev/null ||
	fail "openssl verify -crl_check refuses cloisterd's own client certificate"
ok "openssl verify -crl_check: revoked certificate refused, cloisterd's client accepted"
expect_status 200 "GET /certs/crl?format=der" "$BASE/certs/crl?format=der"
openssl crl -inform DER -in "$T/body" -noout -crlnumber >/dev/null || fail "the DER CRL does not parse"
expect_status 422 "GET /certs/crl?format=xml" "$BASE/certs/crl?format=xml"
expect_status 200 "GET /certs/view-ca (public)" "$BASE/certs/view-ca"
cmp -s "$T/body" "$CA/ca.pem" || fail "view-ca is not the CA certificate"
expect_status 401 "GET /certs needs a token" "$BASE/certs"

# ---------------------------------------------------------------- restart keeps the CA
n1=$(openssl crl -in "$CA/crl.pem" -noout -crlnumber | sed 's/crlNumber=0x//')
kill -TERM "$AGENT_PID" 2>/dev/null || true
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=""
fp=$(openssl x509 -in "$CA/ca.pem" -noout -fingerprint)
stop_cloisterd
start_cloisterd
[ "$(openssl x509 -in "$CA/ca.pem" -noout -fingerprint)" = "$fp" ] || fail "the CA changed on restart"
n2=$(openssl crl -in "$CA/crl.pem" -noout -crlnumber | sed 's/crlNumber=0x//')
[ $((16#$n2)) -gt $((16#$n1)) ] || fail "crlNumber did not grow across a restart ($n1 -> $n2)"
openssl crl -in "$CA/crl.pem" -noout -text | tr -d ':' | tr 'A-F' 'a-f' | grep -qi "$S3" || fail "the restart lost a revocation"
ok "a restart keeps the CA, the revocations, and a growing crlNumber"
stop_cloisterd
ok "cloisterd stopped cleanly"
