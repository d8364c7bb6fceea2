#!/bin/bash
# attest_cli_tdx.sh - `cloister attest verify` on the real Intel TDX quotes of
# ../shared/testdata/tdx, black box: every case of its README §2 with the collateral set the
# README names (--collateral DIR) and the clock inside that set's window (--now) gives the stated
# result and reason; the same quote at the real current date fails as "collateral expired";
# raw, hex, base64 and agent-evidence input; --json; a tdx_policy built from a quote passes and
# one wrong field fails; DEBUG and TCB statuses under a policy; SNP-only options refused.
# Env: CLI (cloister), SRCDIR; TESTDATA overrides $SRCDIR/../shared/testdata.
set -eu

: "${CLI:?CLI must point at the cloister binary}"
: "${SRCDIR:?SRCDIR must point at the source tree}"
case "$CLI" in /*) ;; *) CLI="$PWD/$CLI" ;; esac
case "$SRCDIR" in /*) ;; *) SRCDIR="$PWD/$SRCDIR" ;; esac
TD="${TESTDATA:-$SRCDIR/../shared/testdata}"
case "$TD" in /*) ;; *) TD="$PWD/$TD" ;; esac
X="$TD/tdx"
COL="$X/collateral"

T=$(mktemp -d /tmp/cloister-attest-tdx.XXXXXXXX)
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

ok() { echo "ok - $*"; }
fail() {
	echo "not ok - $*" >&2
	exit 1
}
[ -x "$CLI" ] || fail "CLI=$CLI is not an executable file (build it first)"
[ -d "$X/valid" ] || fail "no test data at $X (set TESTDATA)"

# cli WANT_RC NAME ARGS...: `cloister ARGS` bounded to 20 s, stdout in $T/out, stderr in $T/err.
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
says() {
	cat "$T/out" "$T/err" | grep -qF -- "$1" || {
		head -c 3000 "$T/out" "$T/err" >&2
		fail "$2: output does not say '$1'"
	}
}
# verify WANT_RC REASON TEXT NAME ARGS...: `attest verify ARGS --json`; exit WANT_RC; the
# verification's reason (tdx_reason_name) is REASON and its detail contains TEXT.
verify() {
	local want=$1 reason=$2 text=$3 name=$4
	shift 4
	cli "$want" "$name" attest verify --json "$@"
	python3 - "$T/out" "$reason" "$text" "$want" <<'PY' || fail "$name: $(head -c 2000 "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
v = d["verification"]
assert d["tee"] == "tdx", d["tee"]
assert v["reason"] == sys.argv[2], (v["reason"], sys.argv[2])
assert sys.argv[3] in v["detail"], (v["detail"], sys.argv[3])
assert d["verified"] == (sys.argv[4] == "0"), d["verified"]
PY
	ok "$name"
}
# field KEY: a field of the last --json verdict's "verification" object.
field() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["verification"][sys.argv[2]]; print(" ".join(v) if isinstance(v, list) else v)' "$T/out" "$1"; }

SIGN="$COL/dcapqvl_2026-02_90c06f/tcb_info_issuer_chain.pem" # TCB Signing cert 2025-05..2032

# ------------------------------------------------------------------ README 2.2: TCB evaluation
verify 0 ok "TCB status UpToDate" "v4_b0c06f_dcapqvl + dcapqvl_2025-06: UpToDate" \
	--report "$X/valid/v4_b0c06f_dcapqvl/quote.dat" --collateral "$COL/dcapqvl_2025-06_b0c06f" \
	--now 2025-07-19T10:00:34Z
[ "$(field tcb_status)" = UpToDate ] && [ -z "$(field advisory_ids)" ] || fail "status/advisories"
verify 1 tcb_unsupported "no matching TCB level" "v4_spr_50806f_gotdx + gotdx_2023: no level" \
	--report "$X/valid/v4_spr_50806f_gotdx/quote.dat" --collateral "$COL/gotdx_2023" \
	--now 2023-07-01T01:00:00Z
verify 1 collateral_expired "collateral expired: tcbInfo nextUpdate 2023-07-18T08:42:58Z" \
	"v4_spr_50806f_gotdx + gotdx_2023 at 2053: expired" \
	--report "$X/valid/v4_spr_50806f_gotdx/quote.dat" --collateral "$COL/gotdx_2023" \
	--now 2053-07-01T00:00:00Z
verify 0 ok "TCB status UpToDate" "v5_emr_90c06f_gotdx + gotdx_2026 (informative): UpToDate" \
	--report "$X/valid/v5_emr_90c06f_gotdx/quote.dat" --collateral "$COL/gotdx_2026" \
	--tcb-issuer-chain "$SIGN" --now 2026-02-03T00:00:00Z
verify 1 collateral_expired "TCB info signer Intel SGX TCB Signing expired 2025-05-21" \
	"gotdx_2026 with the gotdx_2023 issuer chain: its signing certificate expired" \
	--report "$X/valid/v5_emr_90c06f_gotdx/quote.dat" --collateral "$COL/gotdx_2026" \
	--tcb-issuer-chain "$COL/gotdx_2023/tcb_info_issuer_chain.pem" --now 2026-02-03T00:00:00Z
verify 1 tcb_unsupported "no matching TCB level" "tcb_unsupported v5 + dcapqvl_2026-02: reject" \
	--report "$X/tcb_unsupported/v5_90c06f_outdated_dcapqvl/quote.dat" \
	--collateral "$COL/dcapqvl_2026-02_90c06f" --now 2026-03-20T10:41:14Z
verify 0 ok "TCB status UpToDate" "v4_50806f_trustee + gotdx_2023 (informative): UpToDate" \
	--report "$X/valid/v4_50806f_trustee/quote.dat" --collateral "$COL/gotdx_2023" \
	--now 2023-07-01T01:00:00Z
# OutOfDate: the signatures and collateral verify, the default (UpToDate only) refuses it.
verify 1 ok "TCB status OutOfDate" "v4_50806f_trustee + teekit_2025-09 (informative): OutOfDate" \
	--report "$X/valid/v4_50806f_trustee/quote.dat" --collateral "$COL/teekit_2025-09" \
	--tcb-issuer-chain "$SIGN" --now 2025-10-01T00:00:00Z
[ "$(field tcb_status)" = OutOfDate ] || fail "trustee/teekit status"
[ "$(field advisory_ids)" = "INTEL-SA-00837 INTEL-SA-00960 INTEL-SA-00982 INTEL-SA-00986" ] ||
	fail "trustee/teekit advisories: $(field advisory_ids)"
verify 1 ok "TCB status OutOfDate" "v4_gcp_cos113 + teekit_2025-09 (informative): OutOfDate" \
	--report "$X/valid/v4_gcp_cos113_00806f05_gotdx/quote.dat" --collateral "$COL/teekit_2025-09" \
	--tcb-issuer-chain "$SIGN" --now 2025-10-01T00:00:00Z
[ "$(field advisory_ids)" = "INTEL-SA-00960 INTEL-SA-00982 INTEL-SA-00986" ] ||
	fail "gcp/teekit advisories: $(field advisory_ids)"
verify 1 tcb_unsupported "no matching TCB level" "v4_azure + teekit_2025-09 (informative)" \
	--report "$X/valid/v4_azure_00806f05_trustee/quote.dat" --collateral "$COL/teekit_2025-09" \
	--tcb-issuer-chain "$SIGN" --now 2025-10-01T00:00:00Z
verify 1 tcb_unsupported "no matching TCB level" "v4_b0c06f_dcapqvl_hex + dcapqvl_2025-06" \
	--report "$X/valid/v4_b0c06f_dcapqvl_hex/quote.hex" --collateral "$COL/dcapqvl_2025-06_b0c06f" \
	--now 2025-07-19T10:00:34Z
verify 1 collateral "TCB info signature does not verify" "tampered TCB info: signature fails" \
	--report "$X/valid/v4_spr_50806f_gotdx/quote.dat" --collateral "$COL/tampered" \
	--tcb-issuer-chain "$COL/gotdx_2023/tcb_info_issuer_chain.pem" --now 2023-07-01T01:00:00Z

# The issue's "done": the same quote at the real current date (no --now) is collateral expired.
verify 1 collateral_expired "collateral expired: tcbInfo nextUpdate" \
	"v4_b0c06f_dcapqvl at the current date: collateral expired" \
	--report "$X/valid/v4_b0c06f_dcapqvl/quote.dat" --collateral "$COL/dcapqvl_2025-06_b0c06f"

# ------------------------------------------------------------------ README 2.1: chains verify
for q in "$X"/valid/*/quote.* "$X"/tcb_unsupported/*/quote.dat; do
	c=$(basename "$(dirname "$q")")
	cli 0 "valid $c without collateral" attest verify --report "$q" --now 2026-11-22T00:00:00Z
	grep -qx VERIFIED "$T/out" || fail "valid $c: no VERIFIED line"
	says "SKIP  tcb_status" "valid $c without collateral"
	ok "valid $c: signatures and PCK chain verify (TCB not evaluated without collateral)"
done

# ------------------------------------------------------------------ README 2.3: invalid quotes
I="$X/invalid"
G="$COL/gotdx_2023"
N=2023-07-01T01:00:00Z
verify 1 unsupported "unsupported quote version 3" "version byte edit" \
	--report "$I/v4_spr_gotdx_version_byte_0x00_to_03/quote.dat" --collateral "$G" --now $N
verify 1 malformed "malformed at offset 0x278" "signature data size edit" \
	--report "$I/v4_spr_gotdx_sig_data_size_0x278_to_10/quote.dat" --collateral "$G" --now $N
verify 1 chain "PCK chain: PEM certificate 3 does not parse" "cert chain edit" \
	--report "$I/v4_spr_gotdx_cert_chain_byte_0x1343/quote.dat" --collateral "$G" --now $N
verify 1 chain "root certificate Intel SGX Root CA: self-signature does not verify" \
	"root cert edit" --report "$I/v4_spr_gotdx_root_cert_byte_0x1329/quote.dat" \
	--collateral "$G" --now $N
verify 1 chain "intermediate CA Intel SGX PCK Platform CA: signature by Intel SGX Root CA" \
	"intermediate cert edit" \
	--report "$I/v4_spr_gotdx_intermediate_cert_byte_0xF5F/quote.dat" --collateral "$G" --now $N
verify 1 bad_signature "bad quote signature" "header edit" \
	--report "$I/v4_spr_gotdx_header_byte_0x1E/quote.dat" --collateral "$G" --now $N

# ------------------------------------------------------------------ input forms, text output
Q="$X/valid/v4_b0c06f_dcapqvl/quote.dat"
D="$COL/dcapqvl_2025-06_b0c06f"
W=2025-07-19T10:00:34Z
base64 -w 76 "$Q" >"$T/quote.b64"
verify 0 ok "UpToDate" "base64 input" --report "$T/quote.b64" --collateral "$D" --now $W
python3 -c 'import sys; sys.stdout.write(open(sys.argv[1],"rb").read().hex().upper())' "$Q" >"$T/quote.hex"
verify 0 ok "UpToDate" "upper-case hex input" --report "$T/quote.hex" --collateral "$D" --now $W
# The split files give what the bundle gives.
mkdir "$T/split"
for f in "$D"/*; do case "$f" in *collateral_bundle.json) ;; *) cp "$f" "$T/split/" ;; esac; done
verify 0 ok "UpToDate" "split PCS files instead of collateral_bundle.json" --report "$Q" \
	--collateral "$T/split" --now $W
[ "$(field pck_crl_checked)" = True ] && [ "$(field root_crl_checked)" = True ] &&
	[ "$(field qe_identity_checked)" = True ] || fail "split files: not every piece checked"
cli 0 "text output" attest verify --report "$Q" --collateral "$D" --now $W
for s in "Intel TDX quote v4" "FMSPC b0c06f000000" "TCB status:    UpToDate" "PASS  tcb_status"; do
	says "$s" "text output"
done
grep -qx VERIFIED "$T/out" || fail "text output: no VERIFIED line"
ok "text output names the quote, the platform and the TCB status"

# Agent evidence JSON (GET /attestation of a tdx_guest).
python3 - "$Q" "$T/ev.json" <<'PY'
import base64, json, sys
q = open(sys.argv[1], "rb").read()
json.dump({"provider": "configfs-tsm", "tee": "tdx_guest", "attested": True,
           "report": base64.b64encode(q).decode()}, open(sys.argv[2], "w"))
PY
verify 0 ok "UpToDate" "evidence JSON (tee tdx_guest)" --evidence "$T/ev.json" --collateral "$D" --now $W
sed 's/"tdx_guest"/"tdx"/' "$T/ev.json" >"$T/ev2.json"
verify 0 ok "UpToDate" "evidence JSON (tee tdx)" --evidence "$T/ev2.json" --collateral "$D" --now $W

# ------------------------------------------------------------------ policies
RD=$(python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); print(d[48+520:48+584].hex())' "$Q")
MRTD=$(python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); print(d[48+136:48+184].hex())' "$Q")
cat >"$T/pol.json" <<EOF
{"snp_policy": {"vmpl": 0}, "tdx_policy": {"mr_td": "$MRTD", "report_data": "$RD",
 "minimum_tee_tcb_svn": "06010300000000000000000000000000"}}
EOF
verify 0 ok "UpToDate" "a tdx_policy built from the quote passes" --report "$Q" --collateral "$D" \
	--policy "$T/pol.json" --now $W
sed "s/\"mr_td\": \"./\"mr_td\": \"f/" "$T/pol.json" >"$T/pol_bad.json"
cli 1 "a wrong MRTD fails" attest verify --report "$Q" --collateral "$D" --policy "$T/pol_bad.json" --now $W
says "FAIL  mr_td" "a wrong MRTD fails"
ok "a wrong MRTD fails"
cli 1 "--report-data overrides the policy's" attest verify --report "$Q" --collateral "$D" \
	--policy "$T/pol.json" --now $W --report-data "$(printf '00%.0s' $(seq 64))"
says "FAIL  report_data" "--report-data overrides the policy's"
ok "--report-data overrides the policy's report_data"
# OutOfDate and DEBUG (the trustee quote is a debug TD): refused by default, accepted when allowed
TQ="$X/valid/v4_50806f_trustee/quote.dat"
echo '{"tdx_policy": {}}' >"$T/pol_default.json"
cli 1 "OutOfDate and DEBUG refused by default" attest verify --report "$TQ" \
	--collateral "$COL/teekit_2025-09" --tcb-issuer-chain "$SIGN" --policy "$T/pol_default.json" \
	--now 2025-10-01T00:00:00Z
says "FAIL  tcb_status" "OutOfDate refused"
says "FAIL  debug" "DEBUG refused"
echo '{"tdx_policy": {"accepted_tcb_statuses": ["UpToDate", "OutOfDate"], "allow_debug": true}}' >"$T/pol_ood.json"
verify 0 ok "OutOfDate" "OutOfDate and DEBUG accepted by the policy" --report "$TQ" \
	--collateral "$COL/teekit_2025-09" --tcb-issuer-chain "$SIGN" --policy "$T/pol_ood.json" \
	--now 2025-10-01T00:00:00Z
echo '{"snp_policy": {}}' >"$T/pol_snp.json"
cli 2 "a policy without tdx_policy" attest verify --report "$Q" --collateral "$D" --policy "$T/pol_snp.json" --now $W
says 'no "tdx_policy" object' "a policy without tdx_policy"
echo '{"tdx_policy": {"mrtd": ""}}' >"$T/pol_typo.json"
cli 2 "a typo in tdx_policy" attest verify --report "$Q" --collateral "$D" --policy "$T/pol_typo.json" --now $W
says 'unknown key "mrtd"' "a typo in tdx_policy"
ok "policy files without tdx_policy or with an unknown key are refused (exit 2)"

# ------------------------------------------------------------------ usage and input errors
cli 64 "SNP options with a TDX quote" attest verify --report "$Q" --vcek "$Q"
says "are for SEV-SNP reports" "SNP options with a TDX quote"
cli 64 "--collateral with an SNP report" attest verify \
	--report "$TD/snp/valid/milan_virtee/report.bin" --collateral "$D"
says "are for Intel TDX quotes" "--collateral with an SNP report"
cli 2 "missing collateral directory" attest verify --report "$Q" --collateral "$T/nope"
says "No such file" "missing collateral directory"
cli 0 "--help names --collateral" attest verify --help
says "--collateral DIR" "--help names --collateral"
ok "usage errors exit 64, unreadable collateral 2"
echo "all TDX attest CLI tests passed"
