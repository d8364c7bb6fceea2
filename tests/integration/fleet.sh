#!/bin/bash
# fleet.sh - cloisterd's monitor against real cloister-agents over mutual TLS (issue 7), black
# box: three agents with certificates from cloisterd's CA all come online; one killed goes
# offline within two poll intervals and comes back when restarted; an agent presenting a
# certificate from another CA is never online (offline, with a TLS error); GET terminate makes
# the agent record the event and exit with its distinct status (3) and the backend terminated;
# the status history (GET /backends/{id}/statistics), the audit log (backends.status) and
# /metrics (sweep gauges) show it all. The agent side of POST /api/v1/terminate is checked too
# (mTLS only, bounded and strict body).
# Needs: CLOISTERD, AGENT, SRCDIR; openssl, curl, python3.
set -eu
. "${SRCDIR:?}/tests/integration/cp_lib.sh"
: "${AGENT:?AGENT must point at the cloister-agent binary}"
case "$AGENT" in /*) ;; *) AGENT="$OLDPWD/$AGENT" ;; esac
[ -x "$AGENT" ] || fail "AGENT=$AGENT is not executable"
FIX=$SRCDIR/tests/fixtures/status
CADIR=$T/state/ca
AGENT_PIDS=""

_fleet_cleanup() {
	local p
	for p in $AGENT_PIDS; do
		kill -KILL "$p" 2>/dev/null || true
	done
}
# cp_lib's trap reads the exit status from $?: keep it across ours (set -e is off in here).
trap 'rc=$?; set +e; _fleet_cleanup; (exit $rc); _cp_cleanup' EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for SECONDS WHAT CMD...: polls CMD every 0.1 s.
wait_for() {
	local limit=$1 what=$2 i=0
	shift 2
	while ! "$@"; do
		i=$((i + 1))
		[ $i -lt $((limit * 10)) ] || fail "timed out after ${limit}s waiting for $what"
		sleep 0.1
	done
}

# ---------------------------------------------------------------- the CA
# cloisterd's own CA (ca.c) creates <state_dir>/ca on first start; without it (building this
# test before ca.c), the same files are made here with openssl.
make_ca() {
	mkdir -p "$CADIR"
	chmod 700 "$T/state" "$CADIR"
	(
		cd "$CADIR"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout ca-key.pem -out ca.pem -days 30 -subj /CN=cloisterd-ca \
			-addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout cloisterd-client-key.pem -out client.csr -subj /CN=cloisterd 2>/dev/null
		printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' >client.ext
		openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
			-days 30 -extfile client.ext -out cloisterd-client.pem 2>/dev/null
		: >index.txt
		echo 01 >crlnumber
		printf '[ca]\ndefault_ca = c\n[c]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 7\n' >ca.cnf
		openssl ca -config ca.cnf -gencrl -keyfile ca-key.pem -cert ca.pem -out crl.pem \
			2>/dev/null
		chmod 600 ca-key.pem cloisterd-client-key.pem
	) || fail "cannot create the test CA"
}
[ -f "$SRCDIR/src/server/ca.c" ] || make_ca

mkdir -p "$T/bin"
printf '#!/bin/sh\nexec /bin/cat "%s"\n' "$FIX/systemctl_show_running.txt" >"$T/bin/systemctl"
chmod 755 "$T/bin/systemctl"

write_config '[fleet]
poll_interval_s = 1
poll_jitter_pct = 10
offline_after_failures = 1'
start_cloisterd
ADMIN=$(login admin "$ADMIN_PW")
for f in ca.pem cloisterd-client.pem cloisterd-client-key.pem crl.pem; do
	[ -s "$CADIR/$f" ] || fail "no $CADIR/$f after start"
done
CA_KEY=$CADIR/ca-key.pem
[ -s "$CA_KEY" ] || fail "no CA key at $CA_KEY"

# ---------------------------------------------------------------- agents
# agent_cert NAME CA CAKEY: NAME/cert.pem + key.pem for 127.0.0.1, serverAuth, signed by CA.
agent_cert() {
	mkdir -p "$T/$1"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$1/key.pem" \
		-out "$T/$1/csr.pem" -subj "/CN=$1" 2>/dev/null
	printf 'extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n' \
		>"$T/$1/ext"
	openssl x509 -req -in "$T/$1/csr.pem" -CA "$2" -CAkey "$3" -CAcreateserial \
		-CAserial "$T/$1/serial" -days 30 -extfile "$T/$1/ext" -out "$T/$1/cert.pem" \
		2>/dev/null || fail "cannot sign a certificate for $1"
	chmod 600 "$T/$1/key.pem"
}

# agent_config NAME PORT [CLIENT_CA]: NAME/agent.toml; mTLS with cloisterd's CA by default.
agent_config() {
	local ca=${3-$CADIR/ca.pem} mtls=""
	[ -n "$ca" ] && mtls="tls_client_ca_path = \"$ca\"
tls_client_crl_path = \"$CADIR/crl.pem\""
	cat >"$T/$1/agent.toml" <<EOF
[general]
listen_addr = "127.0.0.1:$2"
tls_enabled = true
tls_create_if_missing = false
tls_cert_path = "$T/$1/cert.pem"
tls_key_path = "$T/$1/key.pem"
[cloister]
events_file = "$T/$1/events.log"
$mtls
[status]
systemctl_path = "$T/bin/systemctl"
gpu = false
[services.web]
unit = "web.service"
EOF
}

declare -A APID APORT
# start_agent NAME: runs it in the background (log NAME/agent.log) and waits for its port.
start_agent() {
	"$AGENT" --config "$T/$1/agent.toml" 2>>"$T/$1/agent.log" &
	APID[$1]=$!
	AGENT_PIDS="$AGENT_PIDS ${APID[$1]}"
	wait_for 15 "agent $1 to listen" grep -q "listening" "$T/$1/agent.log"
}

for a in a1 a2 a3; do
	agent_cert $a "$CADIR/ca.pem" "$CA_KEY"
	APORT[$a]=$(free_port)
	agent_config $a "${APORT[$a]}"
	start_agent $a
done
# rogue: a certificate from another CA, otherwise the same.
mkdir -p "$T/other"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/other/ca-key.pem" \
	-out "$T/other/ca.pem" -days 30 -subj /CN=other-ca -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
agent_cert rogue "$T/other/ca.pem" "$T/other/ca-key.pem"
APORT[rogue]=$(free_port)
agent_config rogue "${APORT[rogue]}"
start_agent rogue
ok "4 agents started (3 with certificates from cloisterd's CA, 1 from another CA)"

declare -A BID
for a in a1 a2 a3 rogue; do
	BID[$a]=$(mkbackend "$ADMIN" "fleet-$a" "127.0.0.1:${APORT[$a]}")
done

# status_is NAME STATUS: the backend's status right now.
status_is() {
	[ "$(req "$BASE/backends/${BID[$1]}" -H "Authorization: Bearer $ADMIN")" = 200 ] &&
		[ "$(json_get "$T/body" 'd["status"]')" = "$2" ]
}

for a in a1 a2 a3; do
	wait_for 10 "$a online" status_is $a online
done
ok "the three agents with certificates from cloisterd's CA are online"
req "$BASE/backends/${BID[a1]}" -H "Authorization: Bearer $ADMIN" >/dev/null
body_has '"last_seen" in d and "last_error" not in d' "an online backend has last_seen and no error"

wait_for 10 "the rogue agent to be offline" status_is rogue offline
sleep 2
status_is rogue offline || fail "the rogue agent left offline"
req "$BASE/backends/${BID[rogue]}" -H "Authorization: Bearer $ADMIN" >/dev/null
body_has '"TLS" in d["last_error"] and "last_seen" not in d' \
	"an agent with another CA's certificate is offline with a TLS error, never seen"

# ---------------------------------------------------------------- kill and restart
kill -KILL "${APID[a2]}"
wait "${APID[a2]}" 2>/dev/null || true
t0=$(date +%s%3N)
wait_for 10 "a2 offline" status_is a2 offline
dt=$(($(date +%s%3N) - t0))
[ $dt -le 3500 ] || fail "a killed agent took ${dt} ms to go offline (interval 1 s)"
ok "a killed agent is offline within two intervals (${dt} ms)"
req "$BASE/backends/${BID[a2]}" -H "Authorization: Bearer $ADMIN" >/dev/null
OFFLINE_ERR=$(json_get "$T/body" 'd["last_error"]')
export OFFLINE_ERR
# The failure that made it offline: usually the next poll's refused connection; a poll in flight
# on the kept-alive connection when the kill lands sees the reset instead (seen under ASan).
body_has 'd["last_error"] == "connection refused" or d["last_error"].endswith("Connection reset by peer") or "Empty reply" in d["last_error"]' \
	"its last_error names the failure"
start_agent a2
wait_for 10 "a2 back online" status_is a2 online
ok "the restarted agent is online again"

expect_status 200 "statistics of a2" "$BASE/backends/${BID[a2]}/statistics?days=1" \
	-H "Authorization: Bearer $ADMIN"
body_has 'd["id"] and d["days"] == 1 and [p["status"] for p in d["statistics"]][-3:] == ["online","offline","online"]' \
	"statistics: online, offline, online"
body_has 'd["statistics"][-2]["error"] == __import__("os").environ["OFFLINE_ERR"] and all("timestamp" in p for p in d["statistics"])' \
	"statistics carry timestamps and the error"
expect_status 422 "statistics days=0" "$BASE/backends/${BID[a2]}/statistics?days=0" \
	-H "Authorization: Bearer $ADMIN"
expect_status 422 "statistics days=91" "$BASE/backends/${BID[a2]}/statistics?days=91" \
	-H "Authorization: Bearer $ADMIN"
expect_status 200 "statistics days=90" "$BASE/backends/${BID[a2]}/statistics?days=90" \
	-H "Authorization: Bearer $ADMIN"
mkuser "$ADMIN" eve "eve-password-1" >/dev/null
EVE=$(login eve "eve-password-1")
expect_status 404 "another user's statistics: 404" "$BASE/backends/${BID[a2]}/statistics" \
	-H "Authorization: Bearer $EVE"
audit_has "$ADMIN" authz.denied denied || fail "the refused statistics read was not audited"
ok "the refused statistics read is audited"
for r in "unverified->online" "online->offline" "offline->online" "unverified->offline"; do
	audit_has "$ADMIN" backends.status "$r" || fail "no backends.status $r audit entry"
done
ok "status changes are in the audit log as backends.status"

expect_status 200 "GET /metrics" "$BASE/metrics"
for m in 'cloisterd_monitor_sweep_seconds [0-9]' 'cloisterd_monitor_sweep_cpu_seconds [0-9]' \
	'cloisterd_monitor_polls_total\{result="ok"\} [1-9]' \
	'cloisterd_backend_status_changes_total\{to="offline"\} [1-9]'; do
	grep -qE "^$m" "$T/body" || fail "/metrics lacks $m"
done
ok "/metrics has the sweep gauges, polls and status changes"

# ---------------------------------------------------------------- the agent's terminate route
AURL="https://127.0.0.1:${APORT[a1]}/api/v1/terminate"
acurl() {
	req --cacert "$CADIR/ca.pem" --cert "$CADIR/cloisterd-client.pem" \
		--key "$CADIR/cloisterd-client-key.pem" \
		-X POST "$AURL" -H 'Content-Type: application/json' "$@"
}
[ "$(acurl -d '{"type":2}')" = 400 ] || fail "type 2 was not refused"
[ "$(acurl -d '{"type":1,"extra":1}')" = 400 ] || fail "an unknown key was not refused"
[ "$(acurl -d '{"reason":"x"}')" = 400 ] || fail "a body without type was not refused"
[ "$(acurl -d '[1]')" = 400 ] || fail "a non-object body was not refused"
long=$(python3 -c 'print("r"*1025)')
[ "$(acurl -d "{\"type\":1,\"reason\":\"$long\"}")" = 400 ] || fail "a 1025-byte reason was accepted"
[ "$(acurl -d '{"type":1')" = 400 ] || fail "truncated JSON was accepted"
[ "$(req --cacert "$CADIR/ca.pem" -X POST "$AURL" -d '{"type":1}')" = 403 ] ||
	fail "terminate without a client certificate was not refused"
kill -0 "${APID[a1]}" || fail "agent a1 died from refused termination requests"
ok "agent: bad termination bodies are 400, no client certificate is 403, the agent lives on"

agent_cert plain "$CADIR/ca.pem" "$CA_KEY"
APORT[plain]=$(free_port)
agent_config plain "${APORT[plain]}" ""
start_agent plain
[ "$(req -k -X POST "https://127.0.0.1:${APORT[plain]}/api/v1/terminate" \
	-H 'Content-Type: application/json' -d '{"type":1}')" = 403 ] ||
	fail "an agent without a client CA accepted a termination"
body_has '"mutual TLS" in d["message"]' "agent without client CA: 403 termination needs mutual TLS"
kill -TERM "${APID[plain]}"
wait "${APID[plain]}" || fail "agent plain exited non-zero after SIGTERM"

# ---------------------------------------------------------------- termination end to end
expect_status 204 "GET /backends/terminate/{a3}/1" "$BASE/backends/terminate/${BID[a3]}/1" \
	-H "Authorization: Bearer $ADMIN"
rc=0
for i in $(seq 1 100); do
	kill -0 "${APID[a3]}" 2>/dev/null || break
	sleep 0.1
done
wait "${APID[a3]}" || rc=$?
[ $rc = 3 ] || fail "the terminated agent exited with $rc, want 3"
ok "the terminated agent exits with status 3"
grep -q "terminated by the control plane: user initiated" "$T/a3/events.log" ||
	fail "the agent did not record its termination"
ok "the agent recorded the termination event"
req "$BASE/backends/${BID[a3]}" -H "Authorization: Bearer $ADMIN" >/dev/null
body_has 'd["status"] == "terminated" and d["last_error"].startswith("terminated: user initiated")' \
	"the backend is terminated"
audit_has "$ADMIN" backends.terminate ok || fail "termination not audited as acknowledged"
ok "the termination is audited with the agent's answer"
sleep 2
status_is a3 terminated || fail "the monitor changed a terminated backend"
ok "a terminated backend is not polled any more"
expect_status 204 "POST terminate of the rogue (agent unreachable)" \
	"$BASE/backends/${BID[rogue]}/terminate" -H "Authorization: Bearer $ADMIN" \
	-H 'Content-Type: application/json' -d '{"type":0,"reason":"key compromised"}'
audit_has "$ADMIN" backends.terminate "ok: agent unreachable" ||
	fail "an unreachable agent's termination is not audited as such"
ok "terminating an unreachable agent still terminates the backend, audited as unreachable"
kill -0 "${APID[rogue]}" || fail "the rogue agent (never trusted) was terminated"

# ---------------------------------------------------------------- forgotten mid-request
# A "silent agent" accepts TCP connections and never answers, so a poll of it stays in flight
# (until its 2 s timeout). Deleting the backend meanwhile must leave the request to finish and
# then drop it: no status written for the deleted backend, cloisterd alive.
python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    print("accepted", flush=True)
' >"$T/silent.out" 2>&1 &
SILENT_PID=$!
AGENT_PIDS="$AGENT_PIDS $SILENT_PID"
wait_for 10 "the silent agent to listen" grep -q '^[0-9]' "$T/silent.out"
SILENT=$(mkbackend "$ADMIN" silent "127.0.0.1:$(head -n 1 "$T/silent.out")")
wait_for 10 "a poll of the silent agent in flight" grep -q accepted "$T/silent.out"
expect_status 204 "DELETE the silent backend while its poll is in flight" -X DELETE \
	"$BASE/backends/$SILENT" -H "Authorization: Bearer $ADMIN"
sleep 3
expect_status 200 "cloisterd answers after the forgotten poll timed out" "$BASE/health"
if grep "cannot record a status" "$CP_LOG" | grep -q "$SILENT"; then
	fail "the monitor wrote a status for the backend deleted during its poll"
fi
ok "a backend deleted while its poll is in flight is dropped when the poll ends"
kill "$SILENT_PID"
wait "$SILENT_PID" 2>/dev/null || true

# ---------------------------------------------------------------- delete, stop
expect_status 204 "DELETE a1" -X DELETE "$BASE/backends/${BID[a1]}" -H "Authorization: Bearer $ADMIN"
stop_cloisterd
ok "cloisterd stops cleanly with the monitor running"
for a in a1 a2 rogue; do
	kill -TERM "${APID[$a]}"
	wait "${APID[$a]}" || fail "agent $a exited non-zero after SIGTERM"
done
AGENT_PIDS=""
ok "fleet done"
