#!/bin/bash
# attest_cli.sh - `cloister attest verify` and `cloister policy measurement|hostdata`, black box,
# on the real SEV-SNP evidence in ../shared/testdata/snp (its README §1 states each case's
# expected result): every valid case verifies at 2026-11-22, the expired VLEK fails naming
# "expired" and verifies at a --now before its end, every invalid case fails with its reason;
# hex and Azure HCL input; agent-style evidence JSON; --json parses; a policy built from the
# milan_virtee report passes and one wrong field fails; check_crl without --crl fails; the
# policy commands round-trip and refuse wrong lengths leaving the file byte-for-byte unchanged.
# Env: CLI (cloister), SRCDIR; TESTDATA overrides $SRCDIR/../shared/testdata.
set -eu

: "${CLI:?CLI must point at the cloister binary}"
: "${SRCDIR:?SRCDIR must point at the source tree}"
case "$CLI" in /*) ;; *) CLI="$PWD/$CLI" ;; esac
case "$SRCDIR" in /*) ;; *) SRCDIR="$PWD/$SRCDIR" ;; esac
TD="${TESTDATA:-$SRCDIR/../shared/testdata}"
case "$TD" in /*) ;; *) TD="$PWD/$TD" ;; esac
SNP="$TD/snp"

T=$(mktemp -d /tmp/cloister-attest.XXXXXXXX)
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

ok() { echo "ok - $*"; }
fail() {
	echo "not ok - $*" >&2
	exit 1
}
[ -x "$CLI" ] || fail "CLI=$CLI is not an executable file (build it first)"
[ -d "$SNP/valid" ] || fail "no test data at $SNP (set TESTDATA)"

NOW=2026-11-22T00:00:00Z

# cli WANT_RC NAME ARGS...: runs `cloister ARGS` bounded to 20 s, stdout in $T/out, stderr in
# $T/err, and requires exit status WANT_RC.
cli() {
	local want=$1 name=$2
	shift 2
	local rc=0
	timeout 20 "$CLI" "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "--- stdout ---" >&2
		head -c 3000 "$T/out" >&2
		echo "--- stderr ---" >&2
		head -c 2000 "$T/err" >&2
		fail "$name: cloister $* exited $rc, want $want"
	fi
}
# says TEXT NAME: stdout or stderr contains TEXT (fixed string).
says() {
	cat "$T/out" "$T/err" | grep -qF -- "$1" || {
		head -c 3000 "$T/out" "$T/err" >&2
		fail "$2: output does not say '$1'"
	}
}
# verify WANT_RC REASON NAME ARGS...: `attest verify ARGS`, exit WANT_RC, and for a failure
# the verdict line names REASON (the snp_reason_name, shown as "actual REASON").
verify() {
	local want=$1 reason=$2 name=$3
	shift 3
	cli "$want" "$name" attest verify "$@"
	if [ "$want" -eq 0 ]; then
		grep -qx 'VERIFIED' "$T/out" || fail "$name: no VERIFIED line"
	else
		grep -q '^NOT VERIFIED' "$T/out" || fail "$name: no NOT VERIFIED line"
		[ -z "$reason" ] || says "actual $reason)" "$name"
	fi
	ok "$name"
}
# leaf DIR: the case's VCEK/VLEK file.
leaf() {
	local f
	for f in "$1"/vcek.der "$1"/vcek.pem "$1"/vlek.der; do
		if [ -f "$f" ]; then
			echo "$f"
			return 0
		fi
	done
	return 0
}

# ------------------------------------------------------------------ usage
cli 64 "attest without command" attest
cli 0 "attest verify --help" attest verify --help
grep -q -- '--evidence' "$T/out" || fail "verify --help does not name --evidence"
cli 64 "neither --report nor --evidence" attest verify --vcek "$SNP/valid/milan_virtee/vcek.der"
cli 64 "both --report and --evidence" attest verify --report x --evidence y
cli 64 "--nonce without --tls-cert" attest verify --report x --nonce 00
cli 64 "--vcek and --vlek" attest verify --report x --vcek a --vlek b
cli 64 "bad --now" attest verify --report "$SNP/valid/milan_virtee/report.bin" \
	--vcek "$SNP/valid/milan_virtee/vcek.der" --now 2026-02-30T00:00:00Z
says "--now wants RFC 3339" "bad --now"
cli 64 "short --report-data" attest verify --report "$SNP/valid/milan_virtee/report.bin" \
	--vcek "$SNP/valid/milan_virtee/vcek.der" --report-data 0011
cli 64 "no certificate at all" attest verify --report "$SNP/valid/milan_virtee/report.bin"
says "no certificate" "no certificate at all"
cli 2 "unreadable report" attest verify --report "$T/missing.bin" --vcek "$T/missing.der"
says "No such file" "unreadable report"
ok "usage errors exit 64, unreadable input 2"

# ------------------------------------------------------------------ valid cases (README §1.2)
n=0
for d in "$SNP"/valid/*/; do
	d=${d%/}
	c=$(basename "$d")
	chain="$d/ask_ark.pem"
	[ -f "$chain" ] || chain="$d/vcek_ask_ark.pem"
	l=$(leaf "$d")
	verify 0 "" "valid $c" --report "$d/report.bin" ${l:+--vcek "$l"} --chain "$chain" --now "$NOW"
	n=$((n + 1))
	if [ -f "$d/hcl_report.bin" ]; then
		verify 0 "" "valid $c (Azure HCL input)" --report "$d/hcl_report.bin" ${l:+--vcek "$l"} \
			--chain "$chain" --now "$NOW"
		says "inside an Azure HCL report" "valid $c (Azure HCL input)"
	fi
done
[ "$n" -ge 7 ] || fail "only $n valid cases found"
V="$SNP/valid/milan_virtee"
verify 0 "" "report.hex input" --report "$V/report.hex" --vcek "$V/vcek.der" --chain "$V/ask_ark.pem" \
	--now "$NOW"
base64 -w 76 "$V/report.bin" >"$T/report.b64"
verify 0 "" "base64 text input" --report "$T/report.b64" --vcek "$V/vcek.der" --now "$NOW"
verify 0 "" "VCEK only: the pinned Milan ASK and ARK" --report "$V/report.bin" --vcek "$V/vcek.der" \
	--now "$NOW"
says "Policy:       none applied" "no policy: the verdict says so"
says "Milan" "product printed"
says "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f" \
	"measurement printed in hex"
verify 0 "" "--now as @unix" --report "$V/report.bin" --vcek "$V/vcek.der" --now @1795305600
verify 1 expired "milan_virtee VCEK after its end (2031)" --report "$V/report.bin" --vcek "$V/vcek.der" \
	--now 2031-01-01T00:00:00+01:00

# ------------------------------------------------------------------ expired (README §1.3)
E="$SNP/expired/milan_aws_vlek"
verify 1 expired "expired VLEK at $NOW" --report "$E/report.bin" --vlek "$E/vlek.der" \
	--chain "$E/ask_ark_vlek.pem" --now "$NOW"
says "expired" "expired VLEK names expired"
verify 0 "" "expired VLEK at 2025-06-01" --report "$E/report.bin" --vlek "$E/vlek.der" \
	--chain "$E/ask_ark_vlek.pem" --now 2025-06-01T00:00:00Z
says "signed by its VLEK" "VLEK signer printed"
verify 0 "" "VLEK with the pinned ASVK" --report "$E/report.bin" --vlek "$E/vlek.der" \
	--now 2025-06-01T00:00:00Z

# ------------------------------------------------------------------ invalid (README §1.4)
# case:reason (the reason named in the verdict)
for cr in milan_virtee_report_byte21_xor80:bad_signature \
	milan_trustee_report_byte42_plus1:bad_signature \
	milan_trustee_report_byte384_plus1_tcb:tcb_mismatch \
	milan_virtee_vcek_byte40_xorff:chain \
	milan_trustee_report_with_genoa_chain:chain \
	milan_trustee_vcek_fake_hwid_legacy:chain \
	milan_trustee_vcek_fake_hwid_new:chain \
	milan_gcp_v5_version1:unsupported \
	milan_gcp_v5_truncated500:malformed; do
	c=${cr%%:*}
	reason=${cr#*:}
	d="$SNP/invalid/$c"
	r="$d/report.bin"
	# The fake-hwID VCEKs come without a report: use the report they were made for.
	[ -f "$r" ] || r="$SNP/valid/milan_trustee/report.bin"
	verify 1 "$reason" "invalid $c: $reason" --report "$r" --vcek "$(leaf "$d")" \
		--chain "$d/ask_ark.pem" --now "$NOW"
done
cli 1 "invalid: reason text" attest verify --report "$SNP/invalid/milan_gcp_v5_truncated500/report.bin" \
	--vcek "$SNP/invalid/milan_gcp_v5_truncated500/vcek.pem" --now "$NOW"
says "malformed at offset 500" "truncated report names the offset"
cli 1 "signer mismatch" attest verify --report "$E/report.bin" --vcek "$V/vcek.der" --now 2025-06-01T00:00:00Z
says "signer_mismatch" "a VLEK report with a VCEK: signer_mismatch"
cli 1 "chip mismatch" attest verify --report "$SNP/valid/milan_trustee/report.bin" --vcek "$V/vcek.der" \
	--now "$NOW"
says "actual chip_mismatch)" "another chip's VCEK refused: chip_mismatch"

# ------------------------------------------------------------------ --json
cli 0 "--json valid" attest verify --report "$V/report.bin" --vcek "$V/vcek.der" --now "$NOW" --json
python3 -m json.tool "$T/out" >/dev/null || fail "--json output does not parse"
python3 - "$T/out" <<'EOF' || fail "--json valid: wrong content"
import json, sys
v = json.load(open(sys.argv[1]))
assert v["verified"] is True and v["policy_applied"] is False, v
assert v["chain"]["reason"] == "ok" and v["chain"]["product"] == "Milan", v["chain"]
assert v["checks"][0]["name"] == "signature_and_chain" and v["checks"][0]["result"] == "pass"
assert v["report"]["measurement"].startswith("7a1e5c26"), v["report"]
assert v["now"] == "2026-11-22T00:00:00Z"
EOF
ok "--json: parses, verified, chain and report summary"
cli 1 "--json expired" attest verify --report "$E/report.bin" --vlek "$E/vlek.der" --now "$NOW" --json
python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); assert v["verified"] is False and v["chain"]["reason"]=="expired", v' \
	"$T/out" || fail "--json expired: wrong content"
cli 1 "--json malformed" attest verify --report "$SNP/invalid/milan_gcp_v5_truncated500/report.bin" \
	--vcek "$V/vcek.der" --now "$NOW" --json
python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); assert v["verified"] is False and v["report"] is None and v["chain"]["reason"]=="malformed", v' \
	"$T/out" || fail "--json malformed: wrong content"
ok "--json failures parse and name the reason"

# ------------------------------------------------------------------ evidence JSON (agent form)
# evidence OUT REPORT [name=file ...]: the agent's GET /attestation reply shape.
evidence() {
	python3 - "$@" <<'EOF'
import base64, json, sys
out, report = sys.argv[1], sys.argv[2]
b64 = lambda p: base64.b64encode(open(p, "rb").read()).decode()
ev = {"provider": "configfs-tsm", "tee": "sev_guest", "attested": True, "nonce": "00",
      "report_data": "00" * 64, "tls_spki_sha256": "00" * 32, "report": b64(report),
      "generation": 1}
certs = {}
for a in sys.argv[3:]:
    k, _, p = a.partition("=")
    if p.endswith(".pem"):  # the agent sends DER
        import ssl
        certs[k] = base64.b64encode(ssl.PEM_cert_to_DER_cert(open(p).read())).decode()
    else:
        certs[k] = b64(p)
if certs:
    ev["certs"] = certs
json.dump(ev, open(out, "w"))
EOF
}
# ASK and ARK of milan_virtee as separate PEM files, as the agent's certificate table has them.
awk -v d="$T" '/BEGIN CERT/{n++} {print > (d "/chain" n ".pem")}' "$V/ask_ark.pem"
evidence "$T/ev.json" "$V/report.bin" vcek="$V/vcek.der" ask="$T/chain1.pem" ark="$T/chain2.pem"
verify 0 "" "evidence JSON with VCEK, ASK, ARK" --evidence "$T/ev.json" --now "$NOW"
evidence "$T/ev-vcek.json" "$V/report.bin" vcek="$V/vcek.der"
verify 0 "" "evidence JSON with the VCEK only" --evidence "$T/ev-vcek.json" --now "$NOW"
evidence "$T/ev-none.json" "$V/report.bin"
verify 1 chain "evidence without certificates" --evidence "$T/ev-none.json" --now "$NOW"
says "give --vcek" "evidence without certificates: says what to do"
verify 0 "" "evidence without certificates, --vcek given" --evidence "$T/ev-none.json" \
	--vcek "$V/vcek.der" --now "$NOW"
evidence "$T/ev-vlek.json" "$E/report.bin" vlek="$E/vlek.der"
verify 1 expired "evidence with an expired VLEK" --evidence "$T/ev-vlek.json" --now "$NOW"
evidence "$T/ev-bad.json" "$SNP/invalid/milan_virtee_report_byte21_xor80/report.bin" vcek="$V/vcek.der"
verify 1 bad_signature "evidence with a tampered report" --evidence "$T/ev-bad.json" --now "$NOW"
echo '{"provider":"none","attested":false,"nonce":"00"}' >"$T/ev-unattested.json"
verify 1 malformed "unattested evidence" --evidence "$T/ev-unattested.json"
says "not attested" "unattested evidence: says so"
echo '{"report": "not base64!"' >"$T/ev-broken.json"
verify 1 malformed "evidence that is not JSON" --evidence "$T/ev-broken.json"

# ------------------------------------------------------------------ report_data binding
RD=$(python3 -c 'import sys; print(open(sys.argv[1],"rb").read()[0x50:0x90].hex())' "$V/report.bin")
verify 0 "" "--report-data equal" --report "$V/report.bin" --vcek "$V/vcek.der" --now "$NOW" \
	--report-data "$RD"
says "PASS  report_data" "--report-data check listed"
verify 1 "" "--report-data different" --report "$V/report.bin" --vcek "$V/vcek.der" --now "$NOW" \
	--report-data "$(printf '%0128d' 0)"
says "FAIL  report_data" "--report-data mismatch listed"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/tls.key" \
	-out "$T/tls.pem" -subj /CN=agent -days 1 2>/dev/null
verify 1 "" "--nonce --tls-cert: the report is not bound to this key" --report "$V/report.bin" \
	--vcek "$V/vcek.der" --now "$NOW" --nonce 0011223344 --tls-cert "$T/tls.pem"
says "REPORT_DATA differs from the value expected from --nonce and --tls-cert" "nonce binding checked"
cli 2 "--tls-cert unreadable" attest verify --report "$V/report.bin" --vcek "$V/vcek.der" --nonce 00 \
	--tls-cert "$T/missing.pem"

# ------------------------------------------------------------------ policy from the report
# mkpolicy OUT [field=value ...]: a backend-information file holding milan_virtee's values.
mkpolicy() {
	python3 - "$V/report.bin" "$@" <<'EOF'
import base64, json, struct, sys
r = open(sys.argv[1], "rb").read()
out = sys.argv[2]
b = lambda o, n: base64.b64encode(r[o:o + n]).decode()
u32 = lambda o: struct.unpack_from("<I", r, o)[0]
u64 = lambda o: struct.unpack_from("<Q", r, o)[0]
pol = {
    "policy": u64(0x08), "family_id": b(0x10, 16), "image_id": b(0x20, 16),
    "vmpl": {"value": u32(0x30)}, "minimum_tcb": u64(0x180), "minimum_launch_tcb": u64(0x1F0),
    "measurement": b(0x90, 48), "host_data": b(0xC0, 32), "chip_id": b(0x1A0, 64),
    "report_data": b(0x50, 64), "minimum_guest_svn": u32(0x04),
    "minimum_build": r[0x1EC], "minimum_version": "%d.%d" % (r[0x1EE], r[0x1ED]),
    "permit_provisional_firmware": False, "require_author_key": False,
    "require_id_block": False,
}
rot = {"product": "Milan", "check_crl": False, "disallow_network": True}
for a in sys.argv[3:]:
    k, _, v = a.partition("=")
    if k.startswith("rot."):
        rot[k[4:]] = json.loads(v)
    else:
        pol[k] = json.loads(v)
json.dump({"snp_policy": pol, "root_of_trust": rot}, open(out, "w"), indent=2)
EOF
}
mkpolicy "$T/policy.json"
verify 0 "" "policy built from milan_virtee passes" --report "$V/report.bin" --vcek "$V/vcek.der" \
	--now "$NOW" --policy "$T/policy.json"
for chk in signature_and_chain measurement host_data chip_id report_data minimum_tcb vmpl; do
	says "PASS  $chk" "policy check $chk passes"
done
says "PASS  debug" "debug refused by default and the report has it off"
cli 0 "policy --json" attest verify --report "$V/report.bin" --vcek "$V/vcek.der" --now "$NOW" \
	--policy "$T/policy.json" --json
python3 - "$T/out" <<'EOF' || fail "policy --json: wrong content"
import json, sys
v = json.load(open(sys.argv[1]))
assert v["verified"] is True and v["policy_applied"] is True, v
names = [c["name"] for c in v["checks"]]
assert names[0] == "signature_and_chain" and "measurement" in names and "id_block" in names, names
assert all(c["result"] in ("pass", "skipped") for c in v["checks"]), v["checks"]
assert v["chain"]["reason"] == "ok"
EOF
ok "policy --json: every check listed, verified"
WRONG=$(python3 -c 'import base64; print(base64.b64encode(bytes(range(48))).decode())')
mkpolicy "$T/policy-wrong.json" measurement="\"$WRONG\""
verify 1 "" "wrong measurement fails" --report "$V/report.bin" --vcek "$V/vcek.der" --now "$NOW" \
	--policy "$T/policy-wrong.json"
says "FAIL  measurement" "wrong measurement: the measurement check fails"
says "NOT VERIFIED: measurement" "wrong measurement: the verdict names it"
cli 1 "wrong measurement --json" attest verify --report "$V/report.bin" --vcek "$V/vcek.der" \
	--now "$NOW" --policy "$T/policy-wrong.json" --json
python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); assert v["verified"] is False and [c for c in v["checks"] if c["name"]=="measurement"][0]["result"]=="fail"' \
	"$T/out" || fail "wrong measurement --json: wrong content"
mkpolicy "$T/policy-vmpl.json" vmpl='{"value": 1}'
verify 1 "" "wrong vmpl fails" --report "$V/report.bin" --vcek "$V/vcek.der" --now "$NOW" \
	--policy "$T/policy-vmpl.json"
says "FAIL  vmpl" "wrong vmpl named"
verify 1 expired "policy passes but the chain is expired" --report "$V/report.bin" --vcek "$V/vcek.der" \
	--now 2031-01-01T00:00:00Z --policy "$T/policy.json"
verify 1 "" "--report-data overrides the policy's" --report "$V/report.bin" --vcek "$V/vcek.der" \
	--now "$NOW" --policy "$T/policy.json" --report-data "$(printf '%0128d' 0)"
says "FAIL  report_data" "--report-data override checked"
mkpolicy "$T/policy-crl.json" rot.check_crl=true
cli 1 "check_crl without --crl" attest verify --report "$V/report.bin" --vcek "$V/vcek.der" \
	--now "$NOW" --policy "$T/policy-crl.json"
says "check_crl" "check_crl without --crl: names check_crl"
says "--crl" "check_crl without --crl: says to give --crl"
ok "check_crl without --crl fails"
echo '{"snp_policy": {"vmpl": 9}}' >"$T/policy-bad.json"
cli 2 "unusable policy" attest verify --report "$V/report.bin" --vcek "$V/vcek.der" \
	--policy "$T/policy-bad.json"
says "vmpl" "unusable policy: names the field"
ok "unusable policy: exit 2"

# ------------------------------------------------------------------ cloister policy
cat >"$T/prism.json" <<'EOF'
{
  "snp_policy": {
    "policy": 196608,
    "minimum_tcb": 15352208179752599555,
    "measurement": "AA==",
    "host_data": "AA==",
    "vmpl": {
      "value": 0
    }
  },
  "root_of_trust": {
    "product": "Milan"
  }
}
EOF
chmod 640 "$T/prism.json"
M=$(python3 -c 'import base64,sys; print(base64.b64encode(open(sys.argv[1],"rb").read()[0x90:0xC0]).decode())' "$V/report.bin")
H=$(python3 -c 'import base64; print(base64.b64encode(bytes(range(1, 33))).decode())')
cli 0 "policy measurement" policy measurement "$M" "$T/prism.json"
cli 0 "policy hostdata" policy hostdata "$H" "$T/prism.json"
python3 - "$T/prism.json" "$M" "$H" <<'EOF' || fail "policy roundtrip: wrong file content"
import json, sys
text = open(sys.argv[1]).read()
p = json.loads(text)
assert p["snp_policy"]["measurement"] == sys.argv[2], p
assert p["snp_policy"]["host_data"] == sys.argv[3], p
assert "15352208179752599555" in text, "large integer rewritten"
assert p["root_of_trust"] == {"product": "Milan"}
EOF
[ "$(stat -c %a "$T/prism.json")" = 640 ] || fail "policy roundtrip: mode changed"
ok "policy measurement/hostdata round-trip (other fields and the mode kept)"
cli 1 "the filled template still checks the rest" attest verify --report "$V/report.bin" \
	--vcek "$V/vcek.der" --now "$NOW" --policy "$T/prism.json"
says "PASS  measurement" "filled measurement passes"
says "FAIL  host_data" "filled host_data is compared"
cp "$T/prism.json" "$T/before.json"
SHORT=$(python3 -c 'import base64; print(base64.b64encode(bytes(47)).decode())')
cli 1 "measurement of 47 bytes" policy measurement "$SHORT" "$T/prism.json"
says "want 48 bytes, got 47" "measurement length named"
cmp -s "$T/prism.json" "$T/before.json" || fail "a refused measurement changed the file"
LONG=$(python3 -c 'import base64; print(base64.b64encode(bytes(33)).decode())')
cli 1 "hostdata of 33 bytes" policy hostdata "$LONG" "$T/prism.json"
says "want 32 bytes, got 33" "host data length named"
cmp -s "$T/prism.json" "$T/before.json" || fail "a refused hostdata changed the file"
cli 1 "hostdata not base64" policy hostdata 'not*base64' "$T/prism.json"
cmp -s "$T/prism.json" "$T/before.json" || fail "refused base64 changed the file"
cli 1 "policy on a missing file" policy measurement "$M" "$T/missing.json"
[ ! -e "$T/missing.json" ] || fail "policy created a missing file"
echo 'not json' >"$T/notjson.json"
cli 1 "policy on a file that is not JSON" policy measurement "$M" "$T/notjson.json"
[ "$(cat "$T/notjson.json")" = "not json" ] || fail "a malformed file was changed"
ok "wrong lengths and bad files refused, files unchanged"
cli 64 "policy without arguments" policy
cli 64 "policy unknown command" policy chipid "$M" "$T/prism.json"
cli 64 "policy missing file" policy measurement "$M"
cli 0 "policy --help" policy --help
ok "policy usage errors exit 64"
for f in "$T"/* "$T"/.[!.]*; do
	[ -e "$f" ] || continue
	case "${f##*/}" in
	out | err | *.json | *.pem | *.key | *.b64) ;;
	*) fail "stray file left behind: $f (an atomic write's temp file?)" ;;
	esac
done
ok "no temp files left behind"

echo "all attest CLI tests passed"
