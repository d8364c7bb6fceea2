#!/usr/bin/env bash
# cp_auth.sh - cloisterd authentication and authorization, black box: no token, garbage,
# expired, tampered, alg changed ("none", HS256 against the EdDSA key, the HS/EdDSA confusion
# with the public key as HMAC secret, EdDSA against an HS256 server), wrong audience and issuer,
# a refresh token used as an access token, refresh tokens single use, another user's backend,
# admin-only routes, disabled and deleted users, login backoff, and the audit of every denial.
# Forged tokens are signed with the server's real key (openssl pkeyutl) so only the attacked
# property differs.
set -eu
. "$(dirname "$0")/cp_lib.sh"
command -v openssl >/dev/null || fail "openssl CLI missing"

start_cloisterd
KEY="$T/state/jwt-ed25519.pem"
[ -f "$KEY" ] || fail "no EdDSA key at $KEY"
[ "$(stat -c %a "$KEY")" = 600 ] || fail "the JWT key is not 0600"
ok "the EdDSA signing key was created 0600"

ADMIN=$(login admin "$ADMIN_PW")
ALICE_ID=$(mkuser "$ADMIN" alice alice-password)
BOB_ID=$(mkuser "$ADMIN" bob bob-password-1)
ALICE=$(login alice alice-password)
BOB=$(login bob bob-password-1)
ok "admin creates users alice and bob; both log in"

# forge HEADER_JSON PAYLOAD_JSON MODE: prints a token. MODE: ed (sign with the server's Ed25519
# key), hs:<file> (HMAC-SHA256 with the file's bytes as secret), none (empty signature),
# raw:<sig-b64url>.
forge() {
	python3 - "$1" "$2" "$3" "$KEY" "$T" <<'PY'
import base64, hashlib, hmac, subprocess, sys
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
h, p, mode, key, t = sys.argv[1:6]
si = b64(h.encode()) + "." + b64(p.encode())
if mode == "ed":
    open(t + "/si", "w").write(si)
    sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", t + "/si"],
                         check=True, capture_output=True).stdout
elif mode.startswith("hs:"):
    sig = hmac.new(open(mode[3:], "rb").read(), si.encode(), hashlib.sha256).digest()
elif mode == "none":
    sig = b""
else:
    sig = base64.urlsafe_b64decode(mode[4:] + "==")
print(si + "." + b64(sig))
PY
}
# claims of alice's real token, edited: claims 'python-expr-on-c' -> payload JSON
claims() {
	python3 - "$ALICE" "$1" <<'PY'
import base64, json, sys
p = sys.argv[1].split(".")[1]
c = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
exec(sys.argv[2])
print(json.dumps(c, separators=(",", ":")))
PY
}
hdr_of() {
	python3 -c 'import base64,sys; p=sys.argv[1].split(".")[0]; print(base64.urlsafe_b64decode(p+"="*(-len(p)%4)).decode())' "$1"
}
denied() { # NAME TOKEN [want-substring]
	local code
	code=$(req "$BASE/backends" -H "Authorization: Bearer $2")
	[ "$code" = 401 ] || fail "$1: status $code, want 401 ($(head -c 300 "$T/body"))"
	tr -d '\r' <"$T/hdr" | grep -qi '^WWW-Authenticate: Bearer' || fail "$1: no WWW-Authenticate"
	if [ -n "${3:-}" ]; then
		grep -qi "$3" "$T/body" || fail "$1: message does not say '$3': $(cat "$T/body")"
	fi
	ok "$1: 401"
}

# A control: a re-signed copy of alice's own claims is accepted (the forging is faithful).
H=$(hdr_of "$ALICE")
GOOD=$(forge "$H" "$(claims 'pass')" ed)
expect_status 200 "control: alice's claims re-signed with the server key are accepted" \
	"$BASE/backends" -H "Authorization: Bearer $GOOD"

code=$(req "$BASE/backends")
[ "$code" = 401 ] || fail "no token: $code"
expect_header "no token: WWW-Authenticate: Bearer" 'WWW-Authenticate: Bearer.*'
denied "garbage token" "not-a-jwt"
code=$(req "$BASE/backends" -u admin:"$ADMIN_PW")
[ "$code" = 401 ] || fail "Basic credentials accepted: $code"
ok "Basic credentials instead of a Bearer token: 401"
NOW=$(date +%s)
denied "expired token" "$(forge "$H" "$(claims "c['iat']=$NOW-7200; c['exp']=$NOW-3600")" ed)" "expired"
expect_status 200 "a token inside the clock skew is accepted" "$BASE/backends" -H "Authorization: Bearer $(forge "$H" "$(claims "c['exp']=$NOW-5")" ed)"
denied "token not yet valid (iat in the future)" "$(forge "$H" "$(claims "c['iat']=$NOW+3600; c['exp']=$NOW+7200")" ed)"
TAMPERED=$(python3 - "$ALICE" <<'PY'
import base64, json, sys
h, p, s = sys.argv[1].split(".")
c = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
c["role"] = "admin"
p2 = base64.urlsafe_b64encode(json.dumps(c, separators=(",", ":")).encode()).rstrip(b"=").decode()
print(h + "." + p2 + "." + s)
PY
)
denied "tampered payload (role changed to admin, signature kept)" "$TAMPERED" "signature"
SIGFLIP=$(python3 -c 'import sys; t=sys.argv[1]; print(t[:-2] + ("A" if t[-2]!="A" else "B") + t[-1])' "$ALICE")
denied "tampered signature" "$SIGFLIP"
denied 'alg "none" with no signature' "$(forge '{"alg":"none","typ":"JWT"}' "$(claims 'pass')" none)"
denied 'alg "none" with the original signature' "$(forge '{"alg":"none","typ":"JWT"}' "$(claims 'pass')" "raw:$(echo "$ALICE" | cut -d. -f3)")"
openssl pkey -in "$KEY" -pubout -out "$T/pub.pem" 2>/dev/null
openssl pkey -in "$KEY" -pubout -outform DER 2>/dev/null | tail -c 32 >"$T/pub.raw"
denied "HS/EdDSA confusion: HS256 MACed with the public key PEM" "$(forge '{"alg":"HS256","typ":"JWT"}' "$(claims 'pass')" "hs:$T/pub.pem")"
denied "HS/EdDSA confusion: HS256 MACed with the raw public key" "$(forge '{"alg":"HS256","typ":"JWT"}' "$(claims 'pass')" "hs:$T/pub.raw")"
denied 'alg "eddsa" (wrong case)' "$(forge '{"alg":"eddsa","typ":"JWT"}' "$(claims 'pass')" ed)"
denied 'header with a jku' "$(forge '{"alg":"EdDSA","typ":"JWT","jku":"http://127.0.0.1:1/k"}' "$(claims 'pass')" ed)"
denied "wrong audience" "$(forge "$H" "$(claims "c['aud']='someone-else'")" ed)" "audience"
denied "wrong issuer" "$(forge "$H" "$(claims "c['iss']='someone-else'")" ed)" "issuer"
denied "a token without exp" "$(forge "$H" "$(claims "del c['exp']")" ed)"
denied "a token for a user id that does not exist" "$(forge "$H" "$(claims "c['sub']='00000000-0000-4000-8000-000000000000'")" ed)"

# The role comes from the database, not from the token: alice's claims saying admin, validly
# signed, still cannot reach admin routes.
ROLEFORGED=$(forge "$H" "$(claims "c['role']='admin'")" ed)
code=$(req "$BASE/audit" -H "Authorization: Bearer $ROLEFORGED")
[ "$code" = 403 ] || [ "$code" = 401 ] || fail "a user token claiming admin reached /audit: $code"
ok "a user's token claiming role admin does not grant admin ($code)"

# Refresh tokens: single use, not usable as access tokens.
read -r A2 R2 < <(login_pair alice alice-password)
denied "a refresh token used as an access token" "$R2"
expect_status 201 "refresh with the refresh token" -X POST "$BASE/users/tokens/refresh" -H "Authorization: Bearer $R2"
NEWA=$(json_get "$T/body" 'd["access_token"]')
expect_status 200 "the refreshed access token works" "$BASE/backends" -H "Authorization: Bearer $NEWA"
expect_status 401 "the same refresh token a second time: 401" -X POST "$BASE/users/tokens/refresh" -H "Authorization: Bearer $R2"
expect_status 401 "an access token cannot refresh" -X POST "$BASE/users/tokens/refresh" -H "Authorization: Bearer $A2"

# Ownership: bob cannot see or touch alice's backend; admin can.
BID=$(mkbackend "$ALICE" alice-box 10.0.0.7)
expect_status 200 "alice reads her backend" "$BASE/backends/$BID" -H "Authorization: Bearer $ALICE"
expect_status 404 "bob cannot read alice's backend (404)" "$BASE/backends/$BID" -H "Authorization: Bearer $BOB"
expect_status 404 "bob cannot update alice's backend" -X PUT "$BASE/backends/$BID" -H "Authorization: Bearer $BOB" \
	-H 'Content-Type: application/json' -d '{"name":"pwned","description":"","address":"10.0.0.8"}'
expect_status 404 "bob cannot terminate alice's backend (GET)" "$BASE/backends/terminate/$BID/1" -H "Authorization: Bearer $BOB"
expect_status 404 "bob cannot terminate alice's backend (POST)" -X POST "$BASE/backends/$BID/terminate" \
	-H "Authorization: Bearer $BOB" -H 'Content-Type: application/json' -d '{"type":1}'
expect_status 404 "bob cannot read alice's backend information" "$BASE/backends/$BID/info" -H "Authorization: Bearer $BOB"
expect_status 404 "bob cannot delete alice's backend" -X DELETE "$BASE/backends/$BID" -H "Authorization: Bearer $BOB"
expect_status 200 "bob's list does not show alice's backend" "$BASE/backends" -H "Authorization: Bearer $BOB"
body_has 'd["total"] == 0 and d["backends"] == []' "bob's list is empty"
expect_status 200 "alice's backend is unchanged" "$BASE/backends/$BID" -H "Authorization: Bearer $ALICE"
body_has 'd["name"] == "alice-box" and d["status"] == "unverified"' "alice's backend kept its name and status"
expect_status 200 "admin reads alice's backend" "$BASE/backends/$BID" -H "Authorization: Bearer $ADMIN"
expect_status 200 "admin lists every backend" "$BASE/backends" -H "Authorization: Bearer $ADMIN"
body_has 'd["total"] == 1' "admin sees alice's backend in the list"

# Admin-only routes.
expect_status 403 "a user cannot create users" -X POST "$BASE/users" -H "Authorization: Bearer $BOB" \
	-H 'Content-Type: application/json' -d '{"username":"mallory","password":"mallory-pw","role":"admin"}'
expect_status 403 "a user cannot read the audit log" "$BASE/audit" -H "Authorization: Bearer $BOB"
expect_status 403 "a user cannot list users" "$BASE/users" -H "Authorization: Bearer $BOB"
expect_status 403 "a user cannot make themselves admin" -X PATCH "$BASE/users/$BOB_ID" -H "Authorization: Bearer $BOB" \
	-H 'Content-Type: application/json' -d '{"role":"admin"}'

# Disabled and deleted users: their tokens stop working at once.
expect_status 200 "admin disables bob" -X PATCH "$BASE/users/$BOB_ID" -H "Authorization: Bearer $ADMIN" \
	-H 'Content-Type: application/json' -d '{"disabled":true}'
denied "a disabled user's token" "$BOB"
expect_status 401 "a disabled user cannot log in" -X POST "$BASE/users/tokens/issue" -H 'Content-Type: application/json' \
	-d '{"username":"bob","password":"bob-password-1"}'
expect_status 204 "admin deletes alice" -X DELETE "$BASE/users/$ALICE_ID" -H "Authorization: Bearer $ADMIN"
denied "a deleted user's token" "$ALICE"
denied "a deleted user's refreshed token" "$NEWA"
expect_status 404 "a deleted user's backends are gone" "$BASE/backends/$BID" -H "Authorization: Bearer $ADMIN"
req "$BASE/users?limit=100" -H "Authorization: Bearer $ADMIN" >/dev/null
ADMIN_ID=$(json_get "$T/body" '[u["id"] for u in d["users"] if u["username"]=="admin"][0]')
expect_status 409 "the last admin cannot be deleted" -X DELETE "$BASE/users/$ADMIN_ID" \
	-H "Authorization: Bearer $ADMIN"
expect_status 409 "the last admin cannot be demoted" -X PATCH "$BASE/users/$ADMIN_ID" \
	-H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d '{"role":"user"}'

# Login: same answer for an unknown user and a wrong password; backoff after repeated failures.
expect_status 401 "wrong password: 401" -X POST "$BASE/users/tokens/issue" -H 'Content-Type: application/json' \
	-d '{"username":"admin","password":"wrong-password"}'
M1=$(cat "$T/body")
expect_status 401 "unknown user: 401" -X POST "$BASE/users/tokens/issue" -H 'Content-Type: application/json' \
	-d '{"username":"nobody","password":"wrong-password"}'
[ "$M1" = "$(cat "$T/body")" ] || fail "unknown user and wrong password give different answers"
ok "unknown user and wrong password give the same answer"
for _ in 1 2 3 4 5 6; do
	req -X POST "$BASE/users/tokens/issue" -H 'Content-Type: application/json' \
		-d '{"username":"admin","password":"wrong-password"}' >/dev/null
done
expect_status 429 "repeated failed logins: 429" -X POST "$BASE/users/tokens/issue" -H 'Content-Type: application/json' \
	-d "{\"username\":\"admin\",\"password\":\"$ADMIN_PW\"}"
expect_header "429 carries Retry-After" 'Retry-After: [0-9]+'

# Every denial is audited.
audit_has "$ADMIN" auth.denied denied || fail "no auth.denied entry in the audit log"
audit_has "$ADMIN" authz.denied denied || fail "no authz.denied entry in the audit log"
audit_has "$ADMIN" auth.login failed || fail "no failed auth.login entry"
ok "denied requests and failed logins are in the audit log"

# A flood of bad tokens: every denial is recorded (written in batches off the polling threads).
N=800
urls=$(for _ in $(seq 1 $N); do printf '%s ' "$BASE/flood-check"; done)
# shellcheck disable=SC2086
curl -s -o /dev/null --max-time 60 -H "Authorization: Bearer not-a-token" $urls
count_flood() {
	python3 - "$BASE" "$ADMIN" <<'PY'
import json, sys, urllib.request
base, tok = sys.argv[1], sys.argv[2]
n, before = 0, 0
for _ in range(50):
    q = f"{base}/audit?limit=1000" + (f"&before={before}" if before else "")
    r = urllib.request.urlopen(urllib.request.Request(q, headers={"Authorization": "Bearer " + tok}), timeout=10)
    d = json.load(r)
    n += sum(1 for e in d["entries"] if e["action"] == "auth.denied" and e["resource"] == "/flood-check")
    if not d["next_before"] or not d["entries"]:
        break
    before = d["next_before"]
print(n)
PY
}
got=0
for _ in $(seq 1 50); do
	got=$(count_flood)
	[ "$got" -ge $N ] && break
	sleep 0.2
done
[ "$got" = $N ] || fail "$got of $N denials of a flood are in the audit log"
ok "all $N denials of a bad-token flood are in the audit log"
stop_cloisterd

# HS256 server: EdDSA tokens from before are refused, HS256 tokens work, EdDSA-signed tokens
# presented to it are refused.
write_config 'jwt_alg = "HS256"'
start_cloisterd
[ "$(stat -c %a "$T/state/jwt-hs256.key")" = 600 ] || fail "the HS256 key is not 0600"
denied "an EdDSA token presented to an HS256 server" "$ADMIN"
HSADMIN=$(login admin "$ADMIN_PW") # the login backoff is per process: a restart clears it
[ "$(python3 -c 'import base64,json,sys; p=sys.argv[1].split(".")[0]; print(json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4)))["alg"])' "$HSADMIN")" = HS256 ] ||
	fail "the HS256 server does not issue HS256 tokens"
expect_status 200 "an HS256 token works on the HS256 server" "$BASE/users" -H "Authorization: Bearer $HSADMIN"
H2=$(hdr_of "$HSADMIN")
EDH=$(python3 -c 'import json,sys; h=json.loads(sys.argv[1]); h["alg"]="EdDSA"; print(json.dumps(h,separators=(",",":")))' "$H2")
PAY=$(python3 -c 'import base64,sys; p=sys.argv[1].split(".")[1]; print(base64.urlsafe_b64decode(p+"="*(-len(p)%4)).decode())' "$HSADMIN")
denied "an EdDSA-signed token with valid claims presented to the HS256 server" "$(forge "$EDH" "$PAY" ed)"
stop_cloisterd
