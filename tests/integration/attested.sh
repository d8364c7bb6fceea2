#!/bin/bash
# attested.sh - the attested connection end to end, with a TEST-ONLY AMD-style chain:
# snp_testchain writes a test ARK/ASK/VCEK; tsm_fixture --sign answers the agent's configfs-tsm
# requests with SEV-SNP reports signed by that VCEK (the auxblob carries VCEK, ASK and ARK); the
# agent runs TLS with its own self-generated key and mutual TLS against cloisterd's CA; cloisterd
# is the CLOISTERD_TEST_HOOKS build, which alone reads CLOISTERD_TEST_SNP_ROOTS.
#  1. a policy the fixture's reports satisfy: the backend becomes "attested", the key is pinned,
#     GET /backends/{id}/attestation is proxied and audited;
#  2. a policy with another measurement: "attestation_failed" naming the measurement, and proxy
#     calls are refused;
#  3. the good policy again (attested), then the agent restarted with a NEW TLS key:
#     "attestation_failed", "the agent's TLS key changed";
#  4. the production cloisterd with the same environment never accepts the test chain.
# Then the same for Intel TDX with a TEST-ONLY Intel-style PKI (tdx_testchain: root, PCK chain,
# TCB signing, collateral in the PCS layout; tsm_fixture --tdx --sign writes signed quotes;
# cloisterd-test trusts the test roots of CLOISTERD_TEST_TDX_ROOTS):
#  5. a tdx_policy with the fixture's MRTD, RTMRs, attributes and XFAM: attested, the proxied
#     evidence is a TDX quote; another MRTD: attestation_failed naming mr_td;
#  6. the collateral directory replaced (renamed in, as an operator refreshes it) by expired
#     collateral: re-read, attestation_failed "collateral_expired"; fresh collateral back: attested;
#     a directory without TCB info is not taken (the loaded collateral stays, logged);
#     a failed service on the agent: degraded, and re-attestation every second does not flip it
#     back to attested;
#  7. cloisterd without tdx_collateral_dir refuses TDX evidence by name; one whose directory
#     does not exist does not start.
# Env: CLOISTERD (production build), CLOISTERD_TEST (-DCLOISTERD_TEST_HOOKS build), AGENT,
# TSM_FIXTURE, SNP_TESTCHAIN, TDX_TESTCHAIN, SRCDIR.
set -eu
for v in CLOISTERD CLOISTERD_TEST AGENT TSM_FIXTURE SNP_TESTCHAIN TDX_TESTCHAIN SRCDIR; do
	[ -n "${!v:-}" ] || {
		echo "not ok - $v must be set" >&2
		exit 1
	}
done
abs() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
PROD_CLOISTERD=$(abs "$CLOISTERD")
CLOISTERD_TEST=$(abs "$CLOISTERD_TEST")
AGENT=$(abs "$AGENT")
TSM_FIXTURE=$(abs "$TSM_FIXTURE")
SNP_TESTCHAIN=$(abs "$SNP_TESTCHAIN")
TDX_TESTCHAIN=$(abs "$TDX_TESTCHAIN")
SRCDIR=$(abs "$SRCDIR")
CLOISTERD=$CLOISTERD_TEST
. "$SRCDIR/tests/integration/cp_lib.sh"
for b in "$PROD_CLOISTERD" "$AGENT" "$TSM_FIXTURE" "$SNP_TESTCHAIN" "$TDX_TESTCHAIN"; do
	[ -x "$b" ] || fail "$b is not an executable file"
done

AGENT_PID=""
AGENT_LOG=""
APORT=""
FIX_PID=""
_att_kill() {
	for p in $AGENT_PID $FIX_PID; do
		kill -KILL "$p" 2>/dev/null || true
	done
}
# Our processes first, then cp_lib's cleanup (cloisterd, $T) with the script's exit status.
trap 'r=$?; set +e; _att_kill; (exit $r); _cp_cleanup' EXIT

# wait_until SECONDS DESC CMD...: polls CMD every 0.2 s.
wait_until() {
	local limit=$1 desc=$2
	shift 2
	local i=0 n=$((limit * 5))
	while [ $i -lt $n ]; do
		if "$@"; then
			return 0
		fi
		sleep 0.2
		i=$((i + 1))
	done
	fail "timed out after ${limit}s waiting for: $desc (last: $(head -c 600 "$T/body"))"
}

# ------------------------------------------------------------------ 1. chain and fixture
mkdir -m 0700 "$T/chain" "$T/tsm" "$T/agent"
"$SNP_TESTCHAIN" "$T/chain" || fail "snp_testchain failed"
for f in ark.pem ask.pem vcek.pem vcek.der ask.der ark.der vcek-key.pem roots.pem; do
	[ -s "$T/chain/$f" ] || fail "snp_testchain did not write $f"
done
[ "$(stat -c %a "$T/chain/vcek-key.pem")" = 600 ] || fail "vcek-key.pem is not 0600"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/chain/roots.pem")" = 2 ] || fail "roots.pem: want ARK + ASK"
openssl verify -CAfile "$T/chain/roots.pem" "$T/chain/vcek.pem" >/dev/null 2>&1 ||
	fail "openssl does not verify the test VCEK against roots.pem"
ok "snp_testchain: a test ARK/ASK/VCEK chain that openssl verifies"

"$TSM_FIXTURE" --sign "$T/chain" "$T/tsm" 2>"$T/fixture.log" &
FIX_PID=$!
wait_until 10 "the tsm fixture" test -e "$T/tsm/.ready"

# ------------------------------------------------------------------ cloisterd (test hooks)
write_config '[fleet]
poll_interval_s = 1'
export CLOISTERD_TEST_SNP_ROOTS="$T/chain/roots.pem"
start_cloisterd
[ -s "$T/state/ca/ca.pem" ] || fail "cloisterd did not create its CA ($T/state/ca/ca.pem)"
grep -qi 'test roots' "$CP_LOG" || fail "the test build does not warn about its test roots"
ok "cloisterd-test started and warns that it trusts test roots"
TOKEN=$(login admin "$ADMIN_PW")
AUTH=(-H "Authorization: Bearer $TOKEN")

# ------------------------------------------------------------------ 2. the agent
# A healthy agent (one service, active; no GPU), so its /overview says "ok": a degraded one
# would be reported degraded instead of attested.
mkdir -p "$T/bin"
printf '#!/bin/sh\nexec /bin/cat "%s"\n' "$SRCDIR/tests/fixtures/status/systemctl_show_running.txt" >"$T/bin/systemctl"
chmod 755 "$T/bin/systemctl"
# start_agent [--listen-addr A]: the agent with $T/agent.toml; sets AGENT_PID, APORT.
cat >"$T/agent.toml" <<EOF
[general]
tls_enabled = true
tls_create_if_missing = true
tls_cert_hosts = ["127.0.0.1"]
tls_cert_path = "$T/agent/cert.pem"
tls_key_path = "$T/agent/key.pem"
[cloister]
events_file = "$T/agent/events.jsonl"
tls_client_ca_path = "$T/state/ca/ca.pem"
tls_client_cn = "cloisterd"
[attestation]
provider = "configfs-tsm"
tsm_path = "$T/tsm"
[status]
systemctl_path = "$T/bin/systemctl"
gpu = false
[services.web]
unit = "web.service"
EOF
AGENT_N=0
start_agent() {
	AGENT_N=$((AGENT_N + 1))
	AGENT_LOG="$T/agent.$AGENT_N.log"
	"$AGENT" --config "$T/agent.toml" --listen-addr "${1:-127.0.0.1:0}" 2>"$AGENT_LOG" &
	AGENT_PID=$!
	local i=0 p=""
	while [ $i -lt 100 ]; do
		p=$(sed -n 's/.* listening .*port=\([0-9][0-9]*\).*/\1/p' "$AGENT_LOG" | head -n 1)
		[ -n "$p" ] && break
		kill -0 "$AGENT_PID" 2>/dev/null || {
			cat "$AGENT_LOG" >&2
			fail "the agent exited during start-up"
		}
		sleep 0.1
		i=$((i + 1))
	done
	[ -n "$p" ] || fail "the agent did not log its port within 10 s"
	APORT=$p
}
stop_agent() {
	kill -TERM "$AGENT_PID" 2>/dev/null || fail "the agent was not running"
	local rc=0
	wait "$AGENT_PID" || rc=$?
	AGENT_PID=""
	[ $rc -eq 0 ] || fail "the agent exited with status $rc"
}
start_agent
spki_sha() { openssl x509 -in "$T/agent/cert.pem" -pubkey -noout | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1; }
KEY1=$(spki_sha)
# The agent accepts cloisterd's client certificate, and only with it.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -k "https://127.0.0.1:$APORT/overview" || true)
[ "$code" != 200 ] || fail "the agent answered /overview without a client certificate"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -k \
	--cert "$T/state/ca/cloisterd-client.pem" --key "$T/state/ca/cloisterd-client-key.pem" \
	"https://127.0.0.1:$APORT/attestation?nonce=00" || true)
[ "$code" = 200 ] || fail "the agent refused cloisterd's client certificate ($code)"
ok "the agent (mutual TLS against cloisterd's CA) serves signed evidence to cloisterd"

# ------------------------------------------------------------------ 3. backend + good policy
ID=$(mkbackend "$TOKEN" attested "127.0.0.1:$APORT")
[ -n "$ID" ] || fail "no backend id"
# policy MEAS_BYTE [EXTRA]: the fixture's reports satisfy it when MEAS_BYTE is 0x11.
policy() {
	python3 - "$1" <<'PY'
import base64, json, sys
b = int(sys.argv[1], 0)
print(json.dumps({
    "snp_policy": {
        "policy": 0x30000,
        "measurement": base64.b64encode(bytes([b]) * 48).decode(),
        "chip_id": base64.b64encode(b"\x42" * 64).decode(),
        "vmpl": 0,
        "minimum_tcb": 0x7308000000000003,
        "minimum_build": 40,
        "minimum_version": "1.55",
    },
    "root_of_trust": {"product": "Milan"},
}))
PY
}
put_policy() {
	policy "$1" >"$T/policy.json"
	expect_status 200 "$2" -X PUT "$BASE/backends/$ID/info" "${AUTH[@]}" \
		-H 'Content-Type: application/json' --data-binary @"$T/policy.json"
}
# status_is WANT: the backend's status (the last reply stays in $T/body).
status_is() {
	[ "$(req "$BASE/backends/$ID" "${AUTH[@]}")" = 200 ] || return 1
	[ "$(json_get "$T/body" 'd["status"]')" = "$1" ]
}
last_error() { json_get "$T/body" 'd.get("last_error", "")'; }

put_policy 0x11 "PUT a policy the fixture's evidence satisfies"
wait_until 15 "the backend to become attested" status_is attested
ok "the backend is attested"
audit_has "$TOKEN" backends.pin ok || fail "no audit entry backends.pin ok"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if any(e["action"]=="backends.status" and e["result"].endswith("->attested") for e in d["entries"]) else 1)' \
	"$T/body" || fail "no audit entry backends.status ...->attested"
ok "the pin and the status change are audited"

expect_status 200 "GET /backends/{id}/attestation is proxied to the attested agent" \
	"$BASE/backends/$ID/attestation?nonce=00112233" "${AUTH[@]}"
body_has 'd["provider"] == "configfs-tsm" and d["tee"] == "sev_guest" and d["nonce"] == "00112233" and set(d["certs"]) == {"vcek", "ask", "ark"}' \
	"the proxied evidence is the agent's, with the VCEK, ASK and ARK"
[ "$(json_get "$T/body" 'd["tls_spki_sha256"]')" = "$KEY1" ] || fail "the proxied evidence is for another key"
audit_has "$TOKEN" proxy.attestation ok || fail "no audit entry proxy.attestation ok"
ok "the proxy call is audited"

# ------------------------------------------------------------------ 4. another measurement
put_policy 0x22 "PUT a policy with another measurement"
wait_until 15 "attestation_failed" status_is attestation_failed
err=$(last_error)
case "$err" in *measurement*) ;; *) fail "last_error does not name the measurement: $err" ;; esac
ok "attestation_failed: $err"
code=$(req "$BASE/backends/$ID/attestation?nonce=00" "${AUTH[@]}")
[ "$code" = 409 ] || [ "$code" = 403 ] || fail "proxy call to an attestation_failed backend: $code"
code=$(req "$BASE/backends/$ID/overview" "${AUTH[@]}")
[ "$code" = 409 ] || [ "$code" = 403 ] || fail "proxy overview to an attestation_failed backend: $code"
ok "proxy calls to the attestation_failed backend are refused ($code)"
sleep 2
status_is attestation_failed || fail "the backend left attestation_failed without a new policy"

# ------------------------------------------------------------------ 5. a new TLS key
put_policy 0x11 "PUT the good policy again"
wait_until 15 "the backend to be attested again" status_is attested
stop_agent
rm -f "$T/agent/cert.pem" "$T/agent/key.pem"
start_agent "127.0.0.1:$APORT"
KEY2=$(spki_sha)
[ "$KEY1" != "$KEY2" ] || fail "the restarted agent kept its key"
wait_until 15 "attestation_failed after the key change" status_is attestation_failed
err=$(last_error)
case "$err" in *"the agent's TLS key changed"*) ;; *) fail "last_error: $err" ;; esac
ok "a new agent key: attestation_failed, \"$err\""
code=$(req "$BASE/backends/$ID/attestation?nonce=00" "${AUTH[@]}")
[ "$code" = 409 ] || [ "$code" = 403 ] || fail "proxy call after the key change: $code"
ok "proxy calls after the key change are refused ($code)"
stop_cloisterd

# ------------------------------------------------------------------ 6. production never trusts it
CLOISTERD=$PROD_CLOISTERD
start_cloisterd
if grep -qi 'test roots' "$CP_LOG"; then
	fail "the production cloisterd says it trusts test roots"
fi
TOKEN=$(login admin "$ADMIN_PW")
AUTH=(-H "Authorization: Bearer $TOKEN")
put_policy 0x11 "production: PUT the good policy (clears the pin)"
# Several intervals: never attested, and refused for the chain.
i=0
while [ $i -lt 30 ]; do
	status_is attested && fail "the production cloisterd accepted the test chain"
	[ "$(json_get "$T/body" 'd["status"]')" = attestation_failed ] && break
	sleep 0.2
	i=$((i + 1))
done
status_is attestation_failed || fail "production: status $(json_get "$T/body" 'd["status"]'), want attestation_failed"
err=$(last_error)
case "$err" in *unknown_root*) ;; *) fail "production: last_error does not say unknown_root: $err" ;; esac
sleep 3
status_is attested && fail "the production cloisterd accepted the test chain"
ok "the production cloisterd refuses the test chain: $err"
stop_cloisterd

stop_agent
# stop_fixture: the tsm fixture must stop cleanly on SIGTERM.
stop_fixture() {
	kill -TERM "$FIX_PID"
	local rc=0
	wait "$FIX_PID" || rc=$?
	FIX_PID=""
	[ $rc -eq 0 ] || fail "the tsm fixture exited with status $rc"
}
stop_fixture
ok "SEV-SNP part stopped cleanly"

# ================================================================== Intel TDX
mkdir -m 0700 "$T/tdx" "$T/tsm-tdx" "$T/col"
"$TDX_TESTCHAIN" "$T/tdx" || fail "tdx_testchain failed"
for f in roots.pem pck-chain.pem pck-key.pem attestation-key.pem collateral/tcbinfo_112233445566.json \
	collateral/qe_identity.json collateral/tcb_info_issuer_chain.pem collateral/pck_crl_platform.der \
	collateral/root_ca_crl.der collateral-expired/tcbinfo_112233445566.json; do
	[ -s "$T/tdx/$f" ] || fail "tdx_testchain did not write $f"
done
[ "$(stat -c %a "$T/tdx/pck-key.pem")" = 600 ] || fail "pck-key.pem is not 0600"
openssl verify -CAfile "$T/tdx/roots.pem" -untrusted "$T/tdx/pck-chain.pem" "$T/tdx/pck-chain.pem" >/dev/null 2>&1 ||
	fail "openssl does not verify the test PCK chain against roots.pem"
cp "$T/tdx/collateral/"* "$T/col/"
ok "tdx_testchain: a test Intel-style PKI and its collateral (fresh, and expired)"

"$TSM_FIXTURE" --tdx --sign "$T/tdx" "$T/tsm-tdx" 2>"$T/fixture-tdx.log" &
FIX_PID=$!
wait_until 10 "the TDX tsm fixture" test -e "$T/tsm-tdx/.ready"

CLOISTERD=$CLOISTERD_TEST
export CLOISTERD_TEST_TDX_ROOTS="$T/tdx/roots.pem"
write_config "[fleet]
poll_interval_s = 1
attest_interval_s = 1
tdx_collateral_dir = \"$T/col\""
start_cloisterd
grep -q 'TDX collateral and quotes are accepted under test roots' "$CP_LOG" ||
	fail "the test build does not warn about its TDX test roots"
TOKEN=$(login admin "$ADMIN_PW")
AUTH=(-H "Authorization: Bearer $TOKEN")
sed -i "s|^tsm_path = .*|tsm_path = \"$T/tsm-tdx\"|" "$T/agent.toml"
rm -f "$T/agent/cert.pem" "$T/agent/key.pem"
start_agent
KEY3=$(spki_sha)
ID=$(mkbackend "$TOKEN" attested-tdx "127.0.0.1:$APORT")
[ -n "$ID" ] || fail "no backend id"

# put_tdx_policy MRTD_BYTE NAME: the fixture's quotes satisfy it when MRTD_BYTE is aa.
put_tdx_policy() {
	python3 - "$1" >"$T/policy.json" <<'PY'
import json, sys
print(json.dumps({"tdx_policy": {
    "accepted_tcb_statuses": ["UpToDate"],
    "mr_td": sys.argv[1] * 48,
    "rtmrs": ["b0" * 48, "b1" * 48, "b2" * 48, "b3" * 48],
    "td_attributes": "0x0000000010000000",
    "xfam": "0x00000000000618e7",
}}))
PY
	expect_status 200 "$2" -X PUT "$BASE/backends/$ID/info" "${AUTH[@]}" \
		-H 'Content-Type: application/json' --data-binary @"$T/policy.json"
}
# rename_in DIR: replaces $T/col's files with DIR's, each written beside and renamed in.
rename_in() {
	local f
	for f in "$1"/*; do
		cp "$f" "$T/col/.new"
		mv "$T/col/.new" "$T/col/$(basename "$f")"
	done
}

put_tdx_policy aa "TDX: PUT a tdx_policy the fixture's quotes satisfy"
wait_until 15 "the TDX backend to become attested" status_is attested
ok "TDX: the backend is attested (quote, PCK chain, QE identity, TCB info, policy, key binding)"
expect_status 200 "TDX: GET /backends/{id}/attestation is proxied" \
	"$BASE/backends/$ID/attestation?nonce=0a0b" "${AUTH[@]}"
body_has 'd["tee"] == "tdx_guest" and d["tee_type"] == "tdx" and d["nonce"] == "0a0b" and len(d["report"]) > 1000' \
	"TDX: the proxied evidence carries a quote"
[ "$(json_get "$T/body" 'd["tls_spki_sha256"]')" = "$KEY3" ] || fail "TDX: the proxied evidence is for another key"

put_tdx_policy cc "TDX: PUT a tdx_policy with another MRTD"
wait_until 15 "TDX attestation_failed" status_is attestation_failed
err=$(last_error)
case "$err" in *mr_td*) ;; *) fail "TDX: last_error does not name mr_td: $err" ;; esac
ok "TDX: attestation_failed: $err"

# ------------------------------------------------------------------ 6. the collateral, re-read
put_tdx_policy aa "TDX: the good policy again"
wait_until 15 "the TDX backend attested again" status_is attested
rename_in "$T/tdx/collateral-expired"
wait_until 15 "attestation_failed on expired collateral" status_is attestation_failed
err=$(last_error)
case "$err" in *collateral_expired*) ;; *) fail "TDX: last_error does not say collateral_expired: $err" ;; esac
grep -q 'TDX collateral re-read' "$CP_LOG" || fail "TDX: no log line for the re-read collateral"
ok "TDX: collateral refreshed to an expired set is re-read: $err"
rename_in "$T/tdx/collateral"
put_tdx_policy aa "TDX: fresh collateral back, the policy stored again"
wait_until 15 "attested with fresh collateral" status_is attested
ok "TDX: fresh collateral renamed in: attested again"
# fake_systemctl FILE: the agent's systemctl prints FILE (replaced by a rename).
fake_systemctl() {
	printf '#!/bin/sh\nexec /bin/cat "%s"\n' "$SRCDIR/tests/fixtures/status/$1" >"$T/bin/systemctl.new"
	chmod 755 "$T/bin/systemctl.new"
	mv "$T/bin/systemctl.new" "$T/bin/systemctl"
}
fake_systemctl systemctl_show_failed.txt
wait_until 20 "the attested backend with a failed service to be degraded" status_is degraded
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
	sleep 0.2
	status_is degraded || fail "a degraded attested backend left degraded while re-attested every second: $(json_get "$T/body" 'd["status"]')"
done
fake_systemctl systemctl_show_running.txt
wait_until 20 "attested once the service runs again" status_is attested
ok "TDX: a failed service makes the attested backend degraded, and re-attestation does not hide it"
mv "$T/col/tcbinfo_112233445566.json" "$T/tcbinfo.aside"
wait_until 15 "the monitor to refuse a directory without TCB info" \
	grep -q 'cannot re-read the TDX collateral: keeping the loaded one.*no TCB info' "$CP_LOG"
sleep 2
status_is attested || fail "TDX: a broken collateral update replaced the loaded one ($(last_error))"
mv "$T/tcbinfo.aside" "$T/col/tcbinfo_112233445566.json"
ok "TDX: a directory without TCB info is not taken: the loaded collateral stays"
stop_cloisterd

# ------------------------------------------------------------------ 7. no collateral
write_config "[fleet]
poll_interval_s = 1"
start_cloisterd
TOKEN=$(login admin "$ADMIN_PW")
AUTH=(-H "Authorization: Bearer $TOKEN")
put_tdx_policy aa "TDX: no collateral configured, PUT the good policy (clears the pin)"
wait_until 15 "attestation_failed without collateral" status_is attestation_failed
err=$(last_error)
case "$err" in *"no Intel collateral"*) ;; *) fail "TDX: last_error: $err" ;; esac
ok "TDX without [fleet] tdx_collateral_dir: refused by name: $err"
stop_cloisterd
write_config "[fleet]
tdx_collateral_dir = \"$T/does-not-exist\""
rc=0
timeout 30 "$CLOISTERD" --config "$T/cloisterd.toml" --listen-addr 127.0.0.1:0 2>"$T/nodir.log" || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "cloisterd with a missing tdx_collateral_dir: exit status $rc"
grep -q "does-not-exist: No such file or directory" "$T/nodir.log" ||
	fail "the start-up error does not name the directory: $(cat "$T/nodir.log")"
ok "a missing tdx_collateral_dir stops cloisterd at start, naming it"

stop_agent
stop_fixture
ok "all stopped cleanly"
