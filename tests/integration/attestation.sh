#!/bin/bash
# attestation.sh - GET /attestation?nonce=<hex> against tests/fixtures/tsm_fixture, a program
# that answers like the kernel's configfs-tsm report interface in a temp dir: the evidence binds
# SHA-512(SPKI DER of the agent's TLS certificate || nonce), computed here independently with the
# openssl CLI; the nonce rules; SNP certificates; TDX; a concurrent writer (retried, or 503);
# provider failures (502/503); provider "none"; TLS off (409); [attestation] config errors.
# Nothing is recorded in the event log.
set -eu
. "${SRCDIR:?}/tests/integration/lib.sh"
: "${TSM_FIXTURE:?TSM_FIXTURE must point at the tsm_fixture binary}"
case "$TSM_FIXTURE" in /*) ;; *) TSM_FIXTURE="$OLDPWD/$TSM_FIXTURE" ;; esac
[ -x "$TSM_FIXTURE" ] || fail "TSM_FIXTURE=$TSM_FIXTURE is not executable"

FIX_DIR="$T/tsm"
FIX_PID=""
# start_fixture [args...]: the fixture on $FIX_DIR (created if needed).
start_fixture() {
	mkdir -p "$FIX_DIR"
	rm -f "$FIX_DIR/.ready"
	"$TSM_FIXTURE" "$@" "$FIX_DIR" &
	FIX_PID=$!
	bg_track "$FIX_PID"
	wait_for 10 "the tsm fixture to be ready" test -e "$FIX_DIR/.ready"
}
stop_fixture() {
	kill -TERM "$FIX_PID"
	local rc=0
	wait "$FIX_PID" || rc=$?
	[ $rc -eq 0 ] || fail "the tsm fixture exited with status $rc"
	FIX_PID=""
}
no_entries_left() {
	[ -z "$(find "$FIX_DIR" -mindepth 1 -maxdepth 1 -name 'cloister-*' -print -quit)" ] ||
		fail "a report entry was left in $FIX_DIR"
}

# field FILE KEY: a field of a JSON reply (Python repr: True, None...).
field() { json_get "$1" "d.get('$2')"; }
# evidence_rd FILE OFFSET: hex of the 64 bytes at OFFSET of the base64 "report".
evidence_rd() {
	python3 -c 'import json,sys,base64; d=json.load(open(sys.argv[1])); r=base64.b64decode(d["report"], validate=True); o=int(sys.argv[2],0); print(r[o:o+64].hex())' "$1" "$2"
}
# expected_rd NONCE_HEX: SHA-512(SPKI DER of cert.pem || nonce), with the openssl CLI.
expected_rd() {
	openssl x509 -in "$T/cert.pem" -pubkey -noout | openssl pkey -pubin -outform der >"$T/spki.der"
	python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$1" >"$T/nonce.bin"
	cat "$T/spki.der" "$T/nonce.bin" | openssl dgst -sha512 -r | cut -d' ' -f1
}

cat >"$T/config.toml" <<EOF
[general]
tls_enabled = true
tls_create_if_missing = true
tls_cert_hosts = ["localhost"]
tls_cert_path = "$T/cert.pem"
tls_key_path = "$T/key.pem"
[attestation]
provider = "configfs-tsm"
tsm_path = "$FIX_DIR"
EOF
start_fixture
start_agent "$T/config.toml"
S="https://localhost:$PORT"
A=(--cacert "$T/cert.pem")
events_before=$(curl -sS --max-time 10 "${A[@]}" "$S/api/v1/events")

# ------------------------------------------------------------------ SEV-SNP evidence
expect_status 200 "configfs-tsm: GET /attestation?nonce=00112233" "${A[@]}" "$S/attestation?nonce=00112233"
cp "$T/body" "$T/ev.json"
want=$(expected_rd 00112233)
[ "$(field "$T/ev.json" provider)" = configfs-tsm ] || fail "provider: $(cat "$T/ev.json")"
[ "$(field "$T/ev.json" tee)" = sev_guest ] || fail "tee: $(cat "$T/ev.json")"
[ "$(field "$T/ev.json" attested)" = True ] || fail "attested: $(cat "$T/ev.json")"
[ "$(field "$T/ev.json" nonce)" = 00112233 ] || fail "nonce echo: $(cat "$T/ev.json")"
[ "$(field "$T/ev.json" report_data)" = "$want" ] || fail "report_data differs from openssl's SHA-512(SPKI || nonce)"
[ "$(evidence_rd "$T/ev.json" 0x50)" = "$want" ] || fail "the report's REPORT_DATA (0x50) is not SHA-512(SPKI || nonce)"
ok "the report's REPORT_DATA = SHA-512(SPKI(cert.pem) || nonce), as the openssl CLI computes it"
[ "$(field "$T/ev.json" tls_spki_sha256)" = "$(sha256 "$T/spki.der")" ] || fail "tls_spki_sha256"
ok "tls_spki_sha256 is the SHA-256 of the certificate's SPKI DER"
python3 - "$T/ev.json" <<'PY' || fail "report/certs/generation: $(cat "$T/ev.json")"
import base64, json, sys
d = json.load(open(sys.argv[1]))
r = base64.b64decode(d["report"], validate=True)
assert len(r) == 1184, len(r)
assert int.from_bytes(r[0:4], "little") == 2
vcek = base64.b64decode(d["certs"]["vcek"], validate=True)
assert vcek[0] == 0x30 and b"cloister-fixture-vcek" in vcek
assert set(d["certs"]) == {"vcek"}, d["certs"]
assert d["generation"] == 1, d["generation"]
PY
ok "the 1184-byte report, the VCEK from the auxblob's certificate table and the generation"
no_entries_left
ok "the report entry was removed"

# ------------------------------------------------------------------ the nonce
expect_status 200 "a nonce of 64 bytes (the limit)" "${A[@]}" "$S/attestation?nonce=$(printf 'ab%.0s' $(seq 64))"
[ "$(evidence_rd "$T/body" 0x50)" = "$(expected_rd "$(printf 'ab%.0s' $(seq 64))")" ] || fail "64-byte nonce binding"
expect_status 400 "a nonce of 65 bytes: 400" "${A[@]}" "$S/attestation?nonce=$(printf 'ab%.0s' $(seq 65))"
[ "$(field "$T/body" code)" = 400 ] || fail "400 body: $(cat "$T/body")"
expect_status 200 "a nonce of 1 byte, upper-case hex" "${A[@]}" "$S/attestation?nonce=AB"
[ "$(field "$T/body" nonce)" = ab ] || fail "the nonce is not echoed as lower-case hex"
expect_status 400 "bad hex: 400" "${A[@]}" "$S/attestation?nonce=zz11"
expect_status 400 "odd length: 400" "${A[@]}" "$S/attestation?nonce=abc"
expect_status 400 "empty nonce: 400" "${A[@]}" "$S/attestation?nonce="
expect_status 400 "no nonce: 400" "${A[@]}" "$S/attestation"
expect_status 400 "a NUL in the nonce: 400" "${A[@]}" "$S/attestation?nonce=%00%00"
code=$(req "${A[@]}" -X POST "$S/attestation?nonce=00")
[ "$code" = 404 ] || [ "$code" = 405 ] || fail "POST /attestation: $code"
ok "POST /attestation is refused ($code)"

# ------------------------------------------------------------------ a concurrent writer
stop_fixture
start_fixture --race 1
expect_status 200 "a concurrent writer on the first try: retried, 200" "${A[@]}" "$S/attestation?nonce=00112233"
[ "$(evidence_rd "$T/body" 0x50)" = "$want" ] || fail "the retried evidence is not ours"
[ "$(cat "$FIX_DIR/.count")" = 2 ] || fail "the provider did not retry exactly once"
ok "the retried evidence carries our report_data"
stop_fixture
start_fixture --race-first 4
expect_status 503 "a concurrent writer on every try: 503" "${A[@]}" "$S/attestation?nonce=00112233"
grep -q 'another writer' "$T/body" || fail "503 message: $(cat "$T/body")"
no_entries_left
stop_fixture

# ------------------------------------------------------------------ TDX and provider failures
start_fixture --tdx
expect_status 200 "tdx_guest evidence" "${A[@]}" "$S/attestation?nonce=0badc0de"
[ "$(field "$T/body" tee)" = tdx_guest ] || fail "tee: $(cat "$T/body")"
[ "$(evidence_rd "$T/body" 568)" = "$(expected_rd 0badc0de)" ] || fail "TDX REPORTDATA binding"
[ "$(field "$T/body" certs)" = None ] || fail "TDX evidence has certs"
ok "the quote's REPORTDATA is SHA-512(SPKI || nonce); no certificates"
stop_fixture
start_fixture --provider arm_cca_guest
expect_status 502 "an unsupported TEE: 502" "${A[@]}" "$S/attestation?nonce=00"
grep -q 'arm_cca_guest' "$T/body" || fail "502 message: $(cat "$T/body")"
stop_fixture
start_fixture --bad-aux
expect_status 502 "a malformed certificate table: 502" "${A[@]}" "$S/attestation?nonce=00"
grep -q 'certificate table' "$T/body" || fail "502 message: $(cat "$T/body")"
stop_fixture
start_fixture --no-aux
expect_status 200 "SNP without an auxblob: 200 without certs" "${A[@]}" "$S/attestation?nonce=00"
[ "$(field "$T/body" certs)" = None ] || fail "certs without an auxblob: $(cat "$T/body")"
stop_fixture
start_fixture --outblob-bytes 100
expect_status 502 "a truncated report: 502" "${A[@]}" "$S/attestation?nonce=00"
grep -q 'report_data' "$T/body" || fail "502 message: $(cat "$T/body")"
stop_fixture
expect_status 502 "nobody answers in tsm_path: 502 (after the settle timeout)" "${A[@]}" "$S/attestation?nonce=00"
no_entries_left
rm -rf "$FIX_DIR"
expect_status 503 "tsm_path missing: 503" "${A[@]}" "$S/attestation?nonce=00"
grep -q 'configfs' "$T/body" || fail "503 message: $(cat "$T/body")"

events_after=$(curl -sS --max-time 10 "${A[@]}" "$S/api/v1/events")
[ "$events_before" = "$events_after" ] || fail "GET /attestation recorded events"
ok "nothing was recorded in the event log"
stop_agent

# ------------------------------------------------------------------ privlevel
echo "privlevel = 2" >>"$T/config.toml"
start_fixture
start_agent "$T/config.toml"
S="https://localhost:$PORT"
expect_status 200 "privlevel = 2" "${A[@]}" "$S/attestation?nonce=01"
python3 -c 'import json,sys,base64; r=base64.b64decode(json.load(open(sys.argv[1]))["report"]); sys.exit(0 if int.from_bytes(r[0x30:0x34],"little")==2 else 1)' "$T/body" ||
	fail "the report's VMPL is not 2"
ok "the report's VMPL is the configured privlevel"
stop_agent
stop_fixture

# ------------------------------------------------------------------ provider "none"
sed -i 's/provider = "configfs-tsm"/provider = "none"/' "$T/config.toml"
start_agent "$T/config.toml"
S="https://localhost:$PORT"
expect_status 200 "provider none: 200" "${A[@]}" "$S/attestation?nonce=00112233"
[ "$(field "$T/body" provider)" = none ] && [ "$(field "$T/body" attested)" = False ] ||
	fail "provider none: $(cat "$T/body")"
[ "$(field "$T/body" report_data)" = "$want" ] || fail "provider none: report_data"
[ "$(field "$T/body" report)" = None ] || fail "provider none returned a report"
ok "provider none: attested false, the same binding values, no report"
stop_agent

# ------------------------------------------------------------------ TLS off
cat >"$T/plain.toml" <<EOF
[attestation]
provider = "configfs-tsm"
tsm_path = "$FIX_DIR"
EOF
start_agent "$T/plain.toml"
expect_status 409 "TLS off: 409" "$BASE/attestation?nonce=00112233"
expect_body_eq '{"code":409,"message":"attestation needs TLS: the evidence binds the TLS key"}
' "TLS off: the 409 message"
stop_agent

# ------------------------------------------------------------------ [attestation] config errors
for bad in 'provider = "sev"' 'privlevel = 4' 'privlevel = -2' 'tsm_path = "relative/dir"' 'bogus = 1'; do
	printf '[attestation]\n%s\n' "$bad" >"$T/bad.toml"
	run_agent_expect 1 --config "$T/bad.toml" -n
	grep -q 'bad.toml:2' "$T/err" || fail "'$bad': the error does not name line 2: $(cat "$T/err")"
done
ok "[attestation] errors name their line (provider, privlevel range, relative tsm_path, unknown key)"
printf '[attestation]\nprovider = "configfs-tsm"\nprivlevel = 3\ntsm_path = "/x"\n' >"$T/good.toml"
run_agent_expect 0 --config "$T/good.toml" -n
ok "a valid [attestation] table passes -n"

echo "# attestation: all checks passed"
