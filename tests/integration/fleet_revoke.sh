#!/usr/bin/env bash
# fleet_revoke.sh - revocation terminates (issue 7), black box: an agent serving a certificate
# issued by cloisterd's CA through the API comes online; revoking that certificate makes
# cloisterd send the agent a termination of type 0 (certificate revocation) before the CRL
# refuses the key; the agent records the event and exits with its distinct status (3); the
# backend is terminated and the audit log says so. Afterwards that agent's connections are
# refused: restarted with the same certificate and registered again, it is never online (the
# CRL refuses it), and curl with cloisterd's CA and CRL refuses it too.
# Needs: CLOISTERD, AGENT, SRCDIR; openssl, curl, python3.
set -eu
. "$(dirname "$0")/cp_lib.sh"
: "${AGENT:?AGENT must point at the cloister-agent binary}"
case "$AGENT" in /*) ;; *) AGENT="$OLDPWD/$AGENT" ;; esac
[ -x "$AGENT" ] || fail "AGENT=$AGENT is not executable"
APID=""
trap 'rc=$?; set +e; [ -n "$APID" ] && kill -KILL "$APID" 2>/dev/null; (exit $rc); _cp_cleanup' EXIT

write_config '[fleet]
poll_interval_s = 1
poll_jitter_pct = 0'
start_cloisterd
CA="$T/state/ca"
ADMIN=$(login admin "$ADMIN_PW")
AP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
BID=$(mkbackend "$ADMIN" revocable "127.0.0.1:$AP")

# A certificate for the backend, through the API, and its bundle (CA, cert, key).
expect_status 201 "issue a certificate for the backend" -X POST "$BASE/certs/issue/backend/$BID" \
	-H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d '{"ip_addresses":["127.0.0.1"]}'
SERIAL=$(json_get "$T/body" 'd["serial_number"]')
expect_status 200 "download token" "$BASE/certs/$SERIAL/download/token" -H "Authorization: Bearer $ADMIN"
TOK=$(json_get "$T/body" 'd["token"]')
expect_status 200 "download the bundle" "$BASE/certs/$SERIAL/download?token=$TOK"
mkdir -p "$T/agent"
awk '/BEGIN CERTIFICATE/{n++} n==2' "$T/body" | sed '/END CERTIFICATE/q' >"$T/agent/cert.pem"
sed -n '/BEGIN PRIVATE KEY/,/END PRIVATE KEY/p' "$T/body" >"$T/agent/key.pem"
chmod 600 "$T/agent/key.pem"
cat >"$T/agent/agent.toml" <<TOML
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
[status]
gpu = false
TOML

start_agent_bg() {
	: >"$T/agent/agent.log" # a fresh log: "listening" must come from this start
	"$AGENT" --config "$T/agent/agent.toml" 2>>"$T/agent/agent.log" &
	APID=$!
	for _ in $(seq 1 150); do grep -q listening "$T/agent/agent.log" && return 0; sleep 0.1; done
	cat "$T/agent/agent.log" >&2
	fail "the agent did not start"
}
status_of() {
	req "$BASE/backends/$1" -H "Authorization: Bearer $ADMIN" >/dev/null
	json_get "$T/body" 'd["status"]'
}
wait_status() { # ID STATUS-REGEX SECONDS
	local i=0
	while ! status_of "$1" | grep -qxE "$2"; do
		i=$((i + 1))
		[ $i -lt $(($3 * 10)) ] || fail "backend $1 is $(status_of "$1"), not $2, after $3 s: $(cat "$T/body")"
		sleep 0.1
	done
}

start_agent_bg
# degraded: the agent's default sek8s services are not on this machine; reached all the same.
wait_status "$BID" 'online|degraded' 10
ok "the agent with the API-issued certificate is reached ($(status_of "$BID"))"

expect_status 200 "revoke the backend's certificate" -X PATCH "$BASE/certs/$SERIAL/revoke" -H "Authorization: Bearer $ADMIN"
body_has 'd["revoked"] and d["agent_reached"] is True' "the revocation reached the agent"
rc=0
for _ in $(seq 1 100); do kill -0 "$APID" 2>/dev/null || break; sleep 0.1; done
wait "$APID" || rc=$?
APID=""
[ "$rc" = 3 ] || fail "the agent exited with $rc, want 3 (terminated)"
ok "the agent exited with status 3 after the revocation"
grep -a -q "terminated by the control plane: certificate revocation" "$T/agent/events.log" ||
	fail "the agent did not record the termination (type 0) in its event log"
ok "the agent recorded the termination as a certificate revocation"
[ "$(status_of "$BID")" = terminated ] || fail "the backend is $(status_of "$BID"), not terminated"
ok "the backend is terminated"
audit_has "$ADMIN" backends.terminate ok || audit_has "$ADMIN" backends.terminate "ok: agent unreachable" ||
	fail "no backends.terminate audit entry"
audit_has "$ADMIN" certs.revoke ok || fail "no certs.revoke audit entry"
ok "revocation and termination are audited"

# The revoked key is refused from now on.
req "$BASE/certs/crl" >/dev/null
cp "$T/body" "$T/crl.pem"
openssl crl -in "$T/crl.pem" -noout -text | grep -qi "$(echo "$SERIAL" | tr a-f A-F | sed 's/^0*//')" ||
	fail "the CRL does not list the revoked serial"
start_agent_bg
crc=0
curl -s -o /dev/null --max-time 10 --cacert "$CA/ca.pem" --crlfile "$T/crl.pem" \
	--cert "$CA/cloisterd-client.pem" --key "$CA/cloisterd-client-key.pem" "https://127.0.0.1:$AP/livez" || crc=$?
# 60: peer certificate cannot be authenticated (here: revoked); 7 would mean not listening.
[ "$crc" = 60 ] || [ "$crc" = 35 ] || fail "curl with cloisterd's CA and CRL: exit $crc, want a TLS refusal"
ok "with cloisterd's CRL, the revoked agent's TLS is refused (curl exit $crc)"
BID2=$(mkbackend "$ADMIN" revoked-again "127.0.0.1:$AP")
# Until the monitor has tried it over TLS (bounded), it must never be online.
i=0
while :; do
	st=$(status_of "$BID2")
	[ "$st" = offline ] || [ "$st" = unverified ] || fail "the revoked agent was marked $st"
	json_get "$T/body" 'd.get("last_error","")' | grep -qi "revoked" && break
	i=$((i + 1))
	[ $i -lt 150 ] || fail "the refusal does not name the revocation after 15 s: $(cat "$T/body")"
	sleep 0.1
done
ok "registered again, the revoked agent is never online ($st: $(json_get "$T/body" 'd.get("last_error","")'))"
kill -TERM "$APID" 2>/dev/null || true
wait "$APID" 2>/dev/null || true
APID=""
stop_cloisterd
