#!/bin/bash
# cp_proxy.sh - cloisterd's proxy to its agents (/backends/{id}/events|actions|uploads|services|
# gpu|overview|attestation) and the CLI that uses it (`cloister certs ...`, `cloister agent
# BACKEND_ID ...`), black box, over real mutual TLS (issue 7):
#   - two agents get server certificates from cloisterd's CA through the CLI (certs issue +
#     download: the bundle is 0600 and its key comes once) and trust cloisterd's client
#     certificate only; both come online;
#   - every proxied call reaches the right agent (distinct events, actions, services, GPU);
#   - another user's backend is a 404 (audited authz.denied), bad names and query values are
#     refused before the agent sees them;
#   - a follow stream receives a new event as it happens, and ends when its client goes away
#     (its own connection to the agent closes);
#   - a 1 MiB upload arrives byte-exact (SHA-256), 65 MiB gets 413 with nothing on the agent,
#     and the spool directory stays empty;
#   - an agent that is down gives 502, a terminated backend 409; the audit log has proxy.* entries;
#   - certs list/get/renew/revoke/crl/ca, agent-by-backend events/action/upload/status/logs/gpu/
#     overview, and the direct mode (--url) still works.
# Needs: CLOISTERD, AGENT, CLI, FAKE_CMD, SRCDIR; curl, python3, sha256sum.
set -eu
for v in AGENT CLI FAKE_CMD; do
	eval "p=\${$v:?$v must be set}"
	case "$p" in /*) ;; *) eval "$v=\$PWD/\$p" ;; esac
done
. "${SRCDIR:?}/tests/integration/cp_lib.sh"
for v in AGENT CLI FAKE_CMD; do
	eval "[ -x \"\$$v\" ]" || fail "$v is not executable"
done
unset CLOISTER_SERVER XDG_CONFIG_HOME || true
export HOME=$T/home
mkdir -m 0700 "$HOME"
CADIR=$T/state/ca
AGENT_PIDS=""
BG=""
trap 'rc=$?; for p in $AGENT_PIDS $BG; do kill -KILL "$p" 2>/dev/null || true; done; (exit $rc); _cp_cleanup' EXIT

wait_for() {
	local limit=$1 what=$2 i=0
	shift 2
	while ! "$@"; do
		i=$((i + 1))
		[ $i -lt $((limit * 10)) ] || fail "timed out after ${limit}s waiting for $what"
		sleep 0.1
	done
}

# cli WANT_RC NAME ARGS...: `cloister ARGS` bounded to 30 s; stdout $T/out, stderr $T/err.
cli() {
	local want=$1 name=$2 rc=0
	shift 2
	timeout 30 "$CLI" "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	if [ "$rc" -ne "$want" ]; then
		head -c 2000 "$T/out" >&2
		head -c 2000 "$T/err" >&2
		fail "$name: cloister $* exited $rc, want $want"
	fi
	ok "$name"
}
out_has() { grep -qF -- "$1" "$T/out" || fail "$2: stdout lacks '$1': $(head -c 1000 "$T/out")"; }

# ------------------------------------------------------------------ cloisterd, users, session
write_config '[fleet]
poll_interval_s = 1'
start_cloisterd
ADMIN=$(login admin "$ADMIN_PW")
mkuser "$ADMIN" alice alice-password >/dev/null
mkuser "$ADMIN" bob bob-password-1 >/dev/null
ALICE=$(login alice alice-password)
BOB=$(login bob bob-password-1)
printf 'alice-password\n' >"$T/alice.pw"
cli 0 "cloister login" login --server "$BASE" --username alice --password-file "$T/alice.pw"

A_ID=$(mkbackend "$ALICE" agent-a 127.0.0.1:1)
B_ID=$(mkbackend "$ALICE" agent-b 127.0.0.1:1)
C_ID=$(mkbackend "$ALICE" agent-c 127.0.0.1:1)
BOB_ID=$(mkbackend "$BOB" bobs 127.0.0.1:1)

# ------------------------------------------------------------------ certificates through the CLI
cli 0 "certs issue prints a serial" certs issue "$A_ID" --ip 127.0.0.1 --days 30
SA=$(cat "$T/out")
echo "$SA" | grep -qE '^[0-9a-f]{1,40}$' || fail "issue printed '$SA', not a serial"
cli 0 "certs issue for the second backend" certs issue "$B_ID" --ip 127.0.0.1
SB=$(cat "$T/out")
cli 64 "certs issue refuses a non-UUID backend" certs issue ../x --ip 127.0.0.1
cli 64 "certs get refuses a non-hex serial" certs get 'zz/..'
cli 1 "certs issue for another user's backend: 404" certs issue "$BOB_ID" --ip 127.0.0.1
cli 0 "certs list" certs list
out_has "$SA" "certs list shows the first serial"
out_has "$SB" "certs list shows the second serial"
cli 0 "certs list --backend" certs list --backend "$A_ID"
grep -qF "$SB" "$T/out" && fail "certs list --backend A shows B's certificate"
out_has "$SA" "certs list --backend shows that backend's certificate"
cli 0 "certs get" certs get "$SA"
out_has "serial       $SA" "certs get shows the serial"
out_has "-----BEGIN CERTIFICATE-----" "certs get shows the PEM"
mkdir -p "$T/a" "$T/b"
cli 0 "certs download" certs download "$SA" -o "$T/a/bundle.pem"
[ "$(stat -c %a "$T/a/bundle.pem")" = 600 ] || fail "the bundle is not mode 0600"
ok "the downloaded bundle is mode 0600"
cli 1 "a second download of the key is refused" certs download "$SA" -o "$T/a/again.pem"
[ ! -e "$T/a/again.pem" ] || fail "a refused download left a file"
(cd "$T/b" && cli 0 "certs download to the default SERIAL.pem" certs download "$SB")
[ -f "$T/b/$SB.pem" ] || fail "no $SB.pem"
mv "$T/b/$SB.pem" "$T/b/bundle.pem"
cli 0 "certs ca -o" certs ca -o "$T/ca.pem"
cmp -s "$T/ca.pem" "$CADIR/ca.pem" || fail "certs ca differs from the CA certificate"
ok "certs ca is the CA certificate"
cli 0 "certs crl" certs crl
out_has "-----BEGIN X509 CRL-----" "certs crl prints a PEM CRL"

# split BUNDLE DIR: the certificate (second PEM block) and the key of a CA+cert+key bundle.
split_bundle() {
	python3 - "$1" "$2" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
pems = [m.group(0) for m in re.finditer(r"-----BEGIN ([A-Z ]+)-----.*?-----END \1-----\n", t, re.S)]
certs = [p for p in pems if "CERTIFICATE" in p.split("\n")[0]]
keys = [p for p in pems if "PRIVATE KEY" in p.split("\n")[0]]
assert len(certs) == 2 and len(keys) == 1, (len(certs), len(keys))
open(sys.argv[2] + "/cert.pem", "w").write(certs[1])
open(sys.argv[2] + "/key.pem", "w").write(keys[0])
PY
	chmod 600 "$2/key.pem"
}
split_bundle "$T/a/bundle.pem" "$T/a"
split_bundle "$T/b/bundle.pem" "$T/b"
ok "the bundles hold the CA, the certificate and the key"

# ------------------------------------------------------------------ two agents over mTLS
mkdir -p "$T/bin" "$T/ctl"
for n in systemctl journalctl nvidia-smi; do cp "$FAKE_CMD" "$T/bin/$n"; done
echo "$T/ctl" >"$T/bin/fake_cmd.dir"
cp "$SRCDIR/tests/fixtures/status/systemctl_show_running.txt" "$T/ctl/systemctl.out"
cp "$SRCDIR/tests/fixtures/nvidia-smi/h200_x1_580.159.04_device.xml" "$T/ctl/nvidia-smi.qx.out"
printf 'Sep 17 19:24:16 host svc[1]: journal line of the service\n' >"$T/ctl/journalctl.out"

# start_agent NAME SERVICE GPU: an agent with its bundle's cert, cloisterd's CA as client CA;
# sets PORT_<NAME>.
start_agent() {
	local n=$1 d=$T/$1
	cat >"$d/agent.toml" <<EOF
[general]
tls_enabled = true
tls_create_if_missing = false
tls_cert_path = "$d/cert.pem"
tls_key_path = "$d/key.pem"
[cloister]
events_file = ""
tls_client_ca_path = "$CADIR/ca.pem"
tls_client_crl_path = "$CADIR/crl.pem"
tls_client_cn = "cloisterd"
[status]
systemctl_path = "$T/bin/systemctl"
journalctl_path = "$T/bin/journalctl"
nvidia_smi_path = "$T/bin/nvidia-smi"
gpu = $3
cache_ttl_ms = 0
[services.$2]
unit = "$2.service"
description = "the $2 service of agent $n"
[actions]
who = "echo this-is-agent-$n"
[file_uploads]
blob = "$d/blob.bin"
EOF
	: >"$d/agent.log"
	"$AGENT" --config "$d/agent.toml" --listen-addr 127.0.0.1:0 2>"$d/agent.log" &
	AGENT_PIDS="$AGENT_PIDS $!"
	eval "PID_$n=$!"
	local port="" i=0
	while [ -z "$port" ] && [ $i -lt 100 ]; do
		port=$(sed -n 's/.* listening .*port=\([0-9][0-9]*\).*/\1/p' "$d/agent.log" | head -n 1)
		sleep 0.1
		i=$((i + 1))
	done
	[ -n "$port" ] || { cat "$d/agent.log" >&2; fail "agent $n did not start"; }
	eval "PORT_$n=$port"
}
start_agent a alpha true
start_agent b beta false

put_address() {
	local code
	code=$(req -X PUT "$BASE/backends/$1" -H "Authorization: Bearer $ALICE" \
		-H 'Content-Type: application/json' -d "{\"name\":\"$2\",\"address\":\"$3\"}")
	[ "$code" = 200 ] || fail "update backend $2: $code $(cat "$T/body")"
}
put_address "$A_ID" agent-a "127.0.0.1:$PORT_a"
put_address "$B_ID" agent-b "127.0.0.1:$PORT_b"
is_status() {
	req "$BASE/backends/$1" -H "Authorization: Bearer $ALICE" >/dev/null
	[ "$(json_get "$T/body" 'd["status"]')" = "$2" ]
}
wait_for 20 "agent a online" is_status "$A_ID" online
wait_for 20 "agent b online" is_status "$B_ID" online
ok "both agents are online over mutual TLS"

# direct NAME ARGS...: curl straight to an agent with cloisterd's client certificate.
direct() {
	local n=$1
	shift
	eval "local port=\$PORT_$n"
	curl -sS --max-time 10 --cacert "$CADIR/ca.pem" --cert "$CADIR/cloisterd-client.pem" \
		--key "$CADIR/cloisterd-client-key.pem" "$@" "https://127.0.0.1:$port$P"
}
P="/api/v1/new_event?message=marker-of-a-$$" direct a -X POST >/dev/null
P="/api/v1/new_event?message=marker-of-b-$$" direct b -X POST >/dev/null

H="Authorization: Bearer $ALICE"
# ------------------------------------------------------------------ reaching the right agent
expect_status 200 "events through the proxy (a)" "$BASE/backends/$A_ID/events" -H "$H"
grep -q "marker-of-a-$$" "$T/body" && ! grep -q "marker-of-b" "$T/body" ||
	fail "a's events: $(cat "$T/body")"
ok "a's events are agent a's"
expect_status 200 "events through the proxy (b)" "$BASE/backends/$B_ID/events?format=text" -H "$H"
grep -q "marker-of-b-$$" "$T/body" && ! grep -q "marker-of-a" "$T/body" ||
	fail "b's events: $(cat "$T/body")"
ok "b's events are agent b's, as text"
expect_status 200 "a page of events" "$BASE/backends/$A_ID/events?after=0&limit=1" -H "$H"
expect_header "the agent's X-Last-Seq is passed on" 'X-Last-Seq: [0-9]+'
body_has 'len(d) == 1 and d[0]["seq"] == 1' "the page holds one event with its seq"
expect_status 422 "limit=0 is refused" "$BASE/backends/$A_ID/events?limit=0" -H "$H"
expect_status 422 "a bad follow value is refused" "$BASE/backends/$A_ID/events?follow=maybe" -H "$H"
expect_status 200 "POST action (a)" -X POST "$BASE/backends/$A_ID/actions/who" -H "$H"
body_has 'd["stdout"] == "this-is-agent-a\n"' "the action ran on agent a"
expect_status 200 "GET action (b)" "$BASE/backends/$B_ID/actions/who" -H "$H"
body_has 'd["stdout"] == "this-is-agent-b\n"' "the action ran on agent b"
expect_status 400 "an unknown action: the agent's 400" -X POST "$BASE/backends/$A_ID/actions/nope" -H "$H"
expect_status 400 "a bad action name never reaches the agent" -X POST \
	"$BASE/backends/$A_ID/actions/a%20b" -H "$H"
expect_status 200 "services (a)" "$BASE/backends/$A_ID/services" -H "$H"
body_has '[s["id"] for s in d["services"]] == ["alpha"]' "a's services"
expect_status 200 "services (b)" "$BASE/backends/$B_ID/services" -H "$H"
body_has '[s["id"] for s in d["services"]] == ["beta"]' "b's services"
expect_status 200 "service status" "$BASE/backends/$A_ID/services/alpha/status" -H "$H"
body_has 'd["status"]["active_state"] == "active"' "the service status is agent a's"
expect_status 404 "a service of the other agent: the agent's 404" \
	"$BASE/backends/$B_ID/services/alpha/status" -H "$H"
body_has 'd == {"detail": "service not allowed"}' "the agent's error body is passed on"
expect_status 200 "service logs" "$BASE/backends/$A_ID/services/alpha/logs?lines=5&since_minutes=10" -H "$H"
body_has 'd["requested_lines"] == 5' "the logs query reached the agent"
expect_status 422 "a non-numeric lines value is refused" \
	"$BASE/backends/$A_ID/services/alpha/logs?lines=5%3B" -H "$H"
expect_status 200 "gpu (a)" "$BASE/backends/$A_ID/gpu" -H "$H"
body_has 'd["gpus"][0]["name"] == "NVIDIA H200"' "a's GPU"
expect_status 404 "gpu (b, gpu = false): the agent's 404" "$BASE/backends/$B_ID/gpu" -H "$H"
expect_status 200 "overview (b)" "$BASE/backends/$B_ID/overview" -H "$H"
body_has 'd["services"][0]["service"]["id"] == "beta"' "b's overview"
expect_status 200 "attestation" "$BASE/backends/$A_ID/attestation?nonce=00ff" -H "$H"
body_has 'd["provider"] == "none" and d["attested"] is False' "the agent's evidence reply"
expect_status 422 "a bad nonce is refused" "$BASE/backends/$A_ID/attestation?nonce=xyz" -H "$H"

# ------------------------------------------------------------------ authorization
expect_status 404 "bob cannot reach alice's agent" "$BASE/backends/$A_ID/overview" \
	-H "Authorization: Bearer $BOB"
body_has 'd["message"] == "backend not found"' "the refusal does not reveal the backend"
audit_has "$ADMIN" authz.denied denied || fail "no authz.denied audit entry"
ok "bob's attempt is audited as authz.denied"
expect_status 404 "an unknown backend" "$BASE/backends/00000000-0000-4000-8000-000000000000/gpu" -H "$H"
expect_status 404 "a malformed backend id" "$BASE/backends/not-a-uuid/gpu" -H "$H"
expect_status 401 "no token" "$BASE/backends/$A_ID/overview"
expect_status 200 "the admin may use any backend" "$BASE/backends/$A_ID/overview" \
	-H "Authorization: Bearer $ADMIN"

# ------------------------------------------------------------------ uploads
head -c 1048576 /dev/urandom >"$T/up.bin"
expect_status 200 "a 1 MiB upload" -X POST --data-binary @"$T/up.bin" \
	"$BASE/backends/$A_ID/uploads/blob" -H "$H"
[ "$(sha256sum <"$T/up.bin")" = "$(sha256sum <"$T/a/blob.bin")" ] || fail "upload differs"
body_has "d['sha256'] == '$(sha256sum "$T/up.bin" | cut -d' ' -f1)'" \
	"the upload arrived byte-exact (SHA-256)"
before=$(sha256sum <"$T/a/blob.bin")
head -c $((65 * 1024 * 1024)) /dev/zero >"$T/big.bin"
expect_status 413 "a 65 MiB upload (Content-Length)" -X POST --data-binary @"$T/big.bin" \
	"$BASE/backends/$A_ID/uploads/blob" -H "$H"
expect_status 413 "a 65 MiB upload (chunked)" -X POST -H 'Transfer-Encoding: chunked' \
	--data-binary @"$T/big.bin" "$BASE/backends/$A_ID/uploads/blob" -H "$H"
[ "$(sha256sum <"$T/a/blob.bin")" = "$before" ] || fail "a refused upload changed the file"
P="/api/v1/events?format=text" direct a >"$T/aev"
[ "$(grep -c 'file upload success' "$T/aev")" = 1 ] || fail "agent a saw a refused upload"
ok "nothing of a refused upload reached the agent"
expect_status 404 "bob cannot upload to alice's agent" -X POST --data-binary @"$T/up.bin" \
	"$BASE/backends/$A_ID/uploads/blob" -H "Authorization: Bearer $BOB"
[ -z "$(ls -A "$T/state/spool" 2>/dev/null)" ] || fail "the spool is not empty: $(ls -la "$T/state/spool")"
ok "the spool directory is empty"
rm -f "$T/big.bin"

# ------------------------------------------------------------------ follow streams
last=$(P="/api/v1/events?after=0&limit=1" direct b -D - -o /dev/null | tr -d '\r' |
	sed -n 's/^[Xx]-[Ll]ast-[Ss]eq: //p')
curl -sN --max-time 30 "$BASE/backends/$B_ID/events?follow=1&after=$last" -H "$H" >"$T/follow" &
FPID=$!
BG="$BG $FPID"
sleep 0.5
P="/api/v1/new_event?message=live-on-b-$$" direct b -X POST >/dev/null
wait_for 10 "the live event in the follow stream" grep -q "live-on-b-$$" "$T/follow"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]' "$T/follow" ||
	fail "the follow stream is not NDJSON: $(cat "$T/follow")"
ok "a follow stream receives a new event as it happens"
kill "$FPID" 2>/dev/null || true
wait "$FPID" 2>/dev/null || true
# The stream's own connection to the agent (a fresh one, never pooled) must close once its
# client has gone: count cloisterd's established connections to agent b.
conns_b() { ss -Htn state established "( dport = :$PORT_b )" | wc -l; }
n0=$(conns_b)
curl -sN --max-time 30 "$BASE/backends/$B_ID/events?follow=1" -H "$H" >"$T/follow2" &
FPID=$!
BG="$BG $FPID"
wait_for 10 "the second follow stream to start" grep -q "marker-of-b" "$T/follow2"
[ "$(conns_b)" -gt "$n0" ] || fail "no connection of its own for the follow stream"
kill "$FPID" 2>/dev/null || true
wait "$FPID" 2>/dev/null || true
ends() { [ "$(conns_b)" -le "$n0" ]; }
wait_for 10 "the follow stream's connection to the agent to close" ends
ok "a follow stream ends (its connection to the agent closes) when its client goes away"
expect_status 422 "format=xml is refused" "$BASE/backends/$B_ID/events?follow=1&format=xml" -H "$H"

# ------------------------------------------------------------------ the CLI by backend
cli 0 "agent BACKEND events" agent "$A_ID" events
out_has "marker-of-a-$$" "agent-by-backend events shows a's event"
cli 0 "agent BACKEND action" agent "$B_ID" action who
[ "$(cat "$T/out")" = "this-is-agent-b" ] || fail "action printed '$(cat "$T/out")'"
cli 0 "agent BACKEND upload" agent "$B_ID" upload blob "$T/up.bin"
out_has "(verified)" "the CLI verified the upload's SHA-256 through the proxy"
cmp -s "$T/up.bin" "$T/b/blob.bin" || fail "b's blob differs"
cli 0 "agent BACKEND status" agent "$A_ID" status
out_has "alpha" "status lists a's service"
cli 0 "agent BACKEND status SERVICE" agent "$A_ID" status alpha
out_has "active_state" "status SERVICE shows its state"
cli 0 "agent BACKEND logs SERVICE" agent "$A_ID" logs alpha --lines 3
out_has "journal line of the service" "logs shows the journal"
cli 0 "agent BACKEND gpu" agent "$A_ID" gpu
out_has "NVIDIA H200" "gpu shows a's GPU"
cli 0 "agent BACKEND overview" agent "$B_ID" overview
out_has "status ok" "overview shows the status"
cli 0 "agent BACKEND --json overview" agent "$B_ID" --json overview
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["services"][0]["service"]["id"]=="beta"' "$T/out" ||
	fail "--json overview: $(cat "$T/out")"
cli 1 "agent BACKEND gpu where the agent has none" agent "$B_ID" gpu
cli 64 "agent BACKEND with a direct-only command" agent "$A_ID" set-password
cli 1 "agent with another user's backend" agent "$BOB_ID" overview
cli 0 "the direct mode is unchanged" agent --url "https://127.0.0.1:$PORT_a" \
	--cacert "$CADIR/ca.pem" --cert "$CADIR/cloisterd-client.pem" \
	--key "$CADIR/cloisterd-client-key.pem" events
out_has "marker-of-a-$$" "direct mode lists a's events"

# ------------------------------------------------------------------ renew, revoke, refusals
cli 0 "certs issue for the third backend" certs issue "$C_ID" --ip 127.0.0.1
SC=$(cat "$T/out")
cli 0 "certs renew prints a new serial" certs renew "$SC"
SC2=$(cat "$T/out")
[ "$SC2" != "$SC" ] && echo "$SC2" | grep -qE '^[0-9a-f]+$' || fail "renew printed '$SC2'"
cli 0 "certs revoke" certs revoke "$SC2"
[ "$(cat "$T/out")" = "revoked $SC2" ] || fail "revoke printed '$(cat "$T/out")'"
cli 1 "revoking twice is refused" certs revoke "$SC2"
wait_for 10 "backend c terminated" is_status "$C_ID" terminated
expect_status 409 "a terminated backend gets no commands" "$BASE/backends/$C_ID/overview" -H "$H"

kill -TERM "$PID_b"
wait "$PID_b" 2>/dev/null || true
expect_status 502 "an agent that is down" "$BASE/backends/$B_ID/overview" -H "$H"
body_has 'd["message"].startswith("agent unreachable: ")' "502 names the reason"

for a in proxy.events proxy.actions proxy.uploads proxy.services proxy.gpu proxy.overview \
	proxy.attestation; do
	audit_has "$ADMIN" "$a" ok || fail "no $a ok audit entry"
done
audit_has "$ADMIN" proxy.uploads invalid || fail "no audit entry for the refused upload"
audit_has "$ADMIN" proxy.overview failed || fail "no audit entry for the failed call"
ok "the audit log has the proxy calls"

kill -TERM "$PID_a"
wait "$PID_a" 2>/dev/null || true
AGENT_PIDS=""
stop_cloisterd
ok "cloisterd stopped cleanly"
