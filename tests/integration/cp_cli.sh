#!/bin/bash
# cp_cli.sh - `cloister login|logout|backends|users` against a real cloisterd on 127.0.0.1, black
# box: every command, its output and exit status; the session file (where it lives, its modes,
# the refusal of one others can read, the refusal to send its token to another server); the
# errors a user meets (wrong password, 403/404/409/422 from the server, usage, an unreachable
# server) and the limits (the 64 KiB information file, list --limit 1..1000).
# A small Python server stands in for cloisterd where the real one cannot be made to misbehave
# on demand: an expired access token (the CLI renews the pair once and retries), a refused
# renewal, replies with control characters or that are not JSON, a create without Location.
# Env: CLOISTERD (cloisterd), CLI (cloister), SRCDIR.
set -eu
: "${CLOISTERD:?CLOISTERD must point at the cloisterd binary}"
# lib.sh starts and stops "the agent" from $AGENT: here that is cloisterd, which takes the same
# --config/--listen-addr flags and logs the same "listening ... port=N" line.
AGENT=$CLOISTERD
. "${SRCDIR:?}/tests/integration/lib.sh"

: "${CLI:?CLI must point at the cloister binary}"
case "$CLI" in /*) ;; *) CLI="$OLDPWD/$CLI" ;; esac
unset CLOISTER_SERVER XDG_CONFIG_HOME || true
export HOME="$T/home"
mkdir -m 0755 "$HOME"
SESSION="$HOME/.config/cloister/session.json"
UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'

# cli WANT_RC NAME ARGS...: runs `cloister ARGS` (stdin from /dev/null) bounded to 20 s, stdout
# in $T/out, stderr in $T/err, and requires exit status WANT_RC.
cli() {
	local want=$1 name=$2
	shift 2
	cli_in /dev/null "$want" "$name" "$@"
}
# cli_in FILE WANT_RC NAME ARGS...: the same with stdin from FILE.
cli_in() {
	local in=$1 want=$2 name=$3
	shift 3
	local rc=0
	timeout 20 "$CLI" "$@" >"$T/out" 2>"$T/err" <"$in" || rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "--- stdout ---" >&2
		head -c 2000 "$T/out" >&2
		echo "--- stderr ---" >&2
		head -c 2000 "$T/err" >&2
		fail "$name: cloister $* exited $rc, want $want"
	fi
}
err_is() {
	[ "$(cat "$T/err")" = "$1" ] || fail "$2: stderr is '$(cat "$T/err")', want '$1'"
	ok "$2"
}
out_is() {
	[ "$(cat "$T/out")" = "$1" ] || fail "$2: stdout is '$(cat "$T/out")', want '$1'"
	ok "$2"
}
err_has() {
	grep -qF -- "$1" "$T/err" || fail "$2: stderr lacks '$1': $(cat "$T/err")"
	ok "$2"
}
mode_of() { stat -c %a "$1"; }

# ------------------------------------------------------------------ a cloisterd with a known admin
printf 'admin-password-1\n' >admin.pw
chmod 600 admin.pw
mkdir -m 0700 state
cat >cloisterd.toml <<EOF
[server]
state_dir = "$T/state"

[auth]
admin_password_file = "$T/admin.pw"

[fleet]
# The backends here have addresses nothing answers on; the monitor would mark them offline.
enabled = false
EOF
start_agent cloisterd.toml --state-dir "$T/state"

# ------------------------------------------------------------------ usage, before any session
cli 0 "--help lists the control-plane nouns" --help
for n in login logout backends users; do
	grep -q "^  $n " "$T/out" || fail "cloister --help does not list $n"
done
ok "cloister --help lists login, logout, backends and users"
for c in create list get update delete terminate info; do
	cli 0 "backends $c --help" backends "$c" --help
	grep -q "^Usage: cloister backends $c" "$T/out" || fail "backends $c --help: $(cat "$T/out")"
done
cli 0 "users create --help" users create --help
cli 0 "users list --help" users list --help
cli 0 "login --help" login --help
ok "every control-plane command has --help, without a session"
cli 64 "backends without command" backends
cli 64 "unknown backends command" backends frobnicate
err_has "unknown backends command 'frobnicate'" "an unknown command names itself"
cli 64 "get without ID" backends get
cli 64 "get with two IDs" backends get 1 2
cli 64 "an ID that is not a UUID" backends get ../users
[ "$(head -n 1 "$T/err")" = "cloister: '../users' is not a backend ID (a UUID)" ] || fail "bad id: $(cat "$T/err")"
ok "a malformed ID is a usage error (no argument can reach another path)"
cli 64 "list --limit 0" backends list --limit 0
cli 64 "list --limit 1001" backends list --limit 1001
cli 64 "list --offset -1" backends list --offset -1
cli 64 "create without --address" backends create --name x
cli 64 "update with nothing to change" backends update 00000000-0000-4000-8000-000000000000
cli 64 "terminate --type 2" backends terminate 00000000-0000-4000-8000-000000000000 --type 2
cli 64 "info -o with --set" backends info 00000000-0000-4000-8000-000000000000 -o a --set b
cli 64 "--timeout x" backends --timeout x list
cli 64 "users create without --username" users create
cli 64 "users create --role root" users create --username x --role root
cli 64 "login without --username on a non-terminal stdin" login --server "$BASE"
cli 64 "login --server ftp://" login --server ftp://x --username admin
ok "usage errors exit 64"
cli 1 "backends list before login" backends list
err_is "cloister: not logged in; run \`cloister login --server URL\` first" "not logged in: a clear message, exit 1"
[ ! -e "$SESSION" ] || fail "a session file appeared before login"

# ------------------------------------------------------------------ login
printf 'wrong-password\n' >wrong.pw
cli 1 "login with a wrong password" login --server "$BASE" --username admin --password-file wrong.pw
err_is "cloister: invalid credentials (HTTP 401)" "a wrong password: the server's message and status, exit 1"
[ ! -e "$SESSION" ] || fail "a failed login wrote a session"
ok "a failed login writes no session"
cli 2 "login to a closed port" login --server http://127.0.0.1:1 --username admin --password-file admin.pw
grep -q "^cloister: http://127.0.0.1:1: " "$T/err" || fail "unreachable: $(cat "$T/err")"
ok "an unreachable server exits 2"
cli 1 "login with a missing password file" login --server "$BASE" --username admin --password-file nope.pw
err_is "cloister: nope.pw: No such file or directory" "a missing password file is named"

cli 0 "login" login --server "$BASE/" --username admin --password-file admin.pw
out_is "logged in to $BASE as admin" "login prints the server and the user"
[ "$(mode_of "$SESSION")" = 600 ] || fail "session mode $(mode_of "$SESSION")"
[ "$(mode_of "$HOME/.config/cloister")" = 700 ] || fail "dir mode $(mode_of "$HOME/.config/cloister")"
[ "$(mode_of "$HOME/.config")" = 700 ] || fail ".config mode $(mode_of "$HOME/.config")"
ok "the session is $SESSION, mode 0600, in directories created 0700"
python3 - "$SESSION" "$BASE" <<'EOF' || fail "session content: $(cat "$SESSION")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["server"] == sys.argv[2] and d["username"] == "admin", d
assert d["access_token"].count(".") == 2 and d["refresh_token"].count(".") == 2, d
assert "cacert" not in d and "password" not in json.dumps(d), d
EOF
! grep -q admin-password-1 "$SESSION" || fail "the password is in the session file"
ok "the session holds server, username and the token pair (never the password)"

# The password as one line of stdin (not a terminal); the server comes from the session.
printf 'admin-password-1\nignored second line\n' >stdin.pw
cli_in stdin.pw 0 "login with the password on stdin" login --username admin
out_is "logged in to $BASE as admin" "login reads one line of stdin when it is not a terminal"
# XDG_CONFIG_HOME, when absolute, moves the session.
XDG_CONFIG_HOME="$T/xdg" cli 0 "login under XDG_CONFIG_HOME" login --server "$BASE" \
	--username admin --password-file admin.pw
[ "$(mode_of "$T/xdg/cloister/session.json")" = 600 ] || fail "no session under XDG_CONFIG_HOME"
XDG_CONFIG_HOME="$T/xdg" cli 0 "logout under XDG_CONFIG_HOME" logout
[ ! -e "$T/xdg/cloister/session.json" ] || fail "logout left the XDG session"
[ -e "$SESSION" ] || fail "logout under XDG_CONFIG_HOME removed the HOME session"
ok "XDG_CONFIG_HOME/cloister/session.json is used when XDG_CONFIG_HOME is set"

# ------------------------------------------------------------------ the session file's safety
chmod 644 "$SESSION"
cli 1 "a group/other-readable session" backends list
err_has "can be read or changed by other users" "a 0644 session is refused"
err_has "chmod 600 $SESSION" "the refusal says how to fix it"
chmod 600 "$SESSION"
cli 1 "another --server than the session's" backends list --server http://127.0.0.1:1
err_is "cloister: the session is for $BASE, not http://127.0.0.1:1; run \`cloister login --server http://127.0.0.1:1\` to use that server" \
	"the token is never sent to another server (--server)"
CLOISTER_SERVER=http://127.0.0.1:1 cli 1 "another CLOISTER_SERVER" backends list
err_has "the session is for $BASE" "nor to CLOISTER_SERVER's"
CLOISTER_SERVER="$BASE/" cli 0 "CLOISTER_SERVER naming the same server" backends list
ok "a CLOISTER_SERVER equal to the session's server (trailing '/' aside) is fine"

# ------------------------------------------------------------------ backends
cli 0 "create" backends create --name web-1 --address 10.0.0.1:8443 --description "first one"
ID1=$(cat "$T/out")
[[ $ID1 =~ $UUID_RE ]] || fail "create printed '$ID1', not a UUIDv4"
ok "create prints the new id (from Location)"
LONG="a very long backend name that goes on and on past forty characters"
cli 0 "create --json" backends --json create --name "$LONG" --address example.com
ID2=$(json_get "$T/out" 'd["id"]')
[[ $ID2 =~ $UUID_RE ]] || fail "create --json: $(cat "$T/out")"
ok "create --json prints {\"id\":...}"
cli 1 "create with a bad address" backends create --name bad --address "no spaces allowed"
grep -q "^cloister: .*address.* (HTTP 422)$" "$T/err" || fail "bad address: $(cat "$T/err")"
ok "a refused create: the server's message and (HTTP 422), exit 1"

cli 0 "list" backends list
python3 - "$T/out" "$ID1" "$ID2" "$LONG" <<'EOF' || fail "list table: $(cat "$T/out")"
import sys
lines = open(sys.argv[1]).read().split("\n")
id1, id2, long = sys.argv[2:5]
assert lines[-1] == "" and lines[-2] == "2 of 2", lines
head = lines[0]
assert head.split() == ["ID", "NAME", "ADDRESS", "STATUS", "LAST_SEEN"], head
# Columns sized to content, two spaces apart: ID is 36 wide, the cut name 40.
assert head.index("NAME") == 38 and head.index("ADDRESS") == 38 + 40 + 2, head
rows = {l[:36]: l for l in lines[1:3]}
r1, r2 = rows[id1], rows[id2]
assert r1[38:].startswith("web-1 ") and "10.0.0.1:8443" in r1 and "unverified" in r1, r1
assert r2[38:78] == long[:37] + "...", r2
assert r1.endswith("  -") and r2.endswith("  -"), (r1, r2)
EOF
ok "list: ID NAME ADDRESS STATUS LAST_SEEN sized to content, names cut at 40 with '...', 'N of TOTAL'"
cli 0 "list --limit 1" backends list --limit 1
[ "$(tail -n 1 "$T/out")" = "1 of 2" ] || fail "list --limit 1: $(cat "$T/out")"
cli 0 "list --limit 1000" backends list --limit 1000
[ "$(tail -n 1 "$T/out")" = "2 of 2" ] || fail "list --limit 1000: $(cat "$T/out")"
cli 0 "list --offset 1" backends list --offset 1
[ "$(tail -n 1 "$T/out")" = "1 of 2" ] || fail "list --offset 1: $(cat "$T/out")"
cli 0 "list --name web-1" backends list --name web-1
[ "$(tail -n 1 "$T/out")" = "1 of 1" ] && grep -q "^$ID1 " "$T/out" || fail "list --name: $(cat "$T/out")"
cli 0 "list --status terminated" backends list --status terminated
[ "$(tail -n 1 "$T/out")" = "0 of 0" ] || fail "list --status: $(cat "$T/out")"
ok "list --limit (1 and 1000), --offset, --name and --status reach the server"
cli 0 "list --json" backends list --json
[ "$(json_get "$T/out" 'd["total"]')" = 2 ] || fail "list --json: $(cat "$T/out")"
c -o "$T/raw.json" -H "Authorization: Bearer $(json_get "$SESSION" 'd["access_token"]')" "$BASE/backends"
cmp -s "$T/out" "$T/raw.json" || fail "list --json differs from the server's reply"
ok "list --json prints the server's reply byte for byte"

cli 0 "get" backends get "$ID1"
grep -qx "id           $ID1" "$T/out" && grep -qx "name         web-1" "$T/out" &&
	grep -qx "description  first one" "$T/out" && grep -qx "status       unverified" "$T/out" &&
	grep -qx "has_info     no" "$T/out" || fail "get: $(cat "$T/out")"
ok "get prints one 'key value' line per field"
cli 0 "get --json (after the ID)" backends get "$ID1" --json
[ "$(json_get "$T/out" 'd["name"]')" = web-1 ] || fail "get --json: $(cat "$T/out")"
ok "get --json prints the backend object; options may follow the ID"
cli 1 "get an unknown backend" backends get 00000000-0000-4000-8000-000000000000
err_is "cloister: backend not found (HTTP 404)" "an unknown id: 404 with the server's message"

cli 0 "update --name" backends update "$ID1" --name web-one
out_is "updated $ID1" "update confirms"
cli 0 "get after update" backends get "$ID1" --json
[ "$(json_get "$T/out" 'd["name"], d["address"], d["description"]')" = "('web-one', '10.0.0.1:8443', 'first one')" ] ||
	fail "update merged wrongly: $(cat "$T/out")"
ok "update changes only the fields given (GET, then PUT of the merged object)"
cli 0 "update --address --description" backends update "$ID1" --address 10.0.0.2 --description ""
cli 0 "get after the second update" backends get "$ID1" --json
[ "$(json_get "$T/out" 'd["name"], d["address"], d["description"]')" = "('web-one', '10.0.0.2', '')" ] ||
	fail "second update: $(cat "$T/out")"
ok "update --address and --description \"\""
cli 1 "update to a bad address" backends update "$ID1" --address "-bad-"
grep -q "(HTTP 422)$" "$T/err" || fail "bad update: $(cat "$T/err")"
cli 0 "get after a refused update" backends get "$ID1" --json
[ "$(json_get "$T/out" 'd["address"]')" = 10.0.0.2 ] || fail "a refused update changed the backend"
ok "a refused update changes nothing"

# ------------------------------------------------------------------ backend information
cat >policy.json <<'EOF'
{
  "snp_policy": {
    "policy": 1966081,
    "family_id": "AA==",
    "image_id": "AA==",
    "vmpl": {
      "value": 0
    },
    "minimum_tcb": 1506397780360888800,
    "minimum_launch_tcb": 1506397780360888800,
    "require_author_key": false,
    "measurement": "AA==",
    "host_data": "AA==",
    "report_id_ma": "AA==",
    "chip_id": "GrFqQtRklrsjBslu9pcQ6X4rkftFW1Ar1oT+I4guQ1sVC6qakgSvEtE4P/SLSJ6mHNp0kY0mHnGpvz1Ov+k/w==",
    "minimum_build": 7,
    "minimum_version": "1.55",
    "permit_provisional_firmware": false,
    "require_id_block": false
  },
  "root_of_trust": {
    "product": "Milan",
    "check_crl": true,
    "disallow_network": false
  }
}
EOF
cli 1 "info before any upload" backends info "$ID1"
err_is "cloister: no backend information stored for this backend (HTTP 404)" "info with nothing stored: 404"
cli 0 "info --set" backends info "$ID1" --set policy.json
out_is "stored the information of $ID1" "info --set uploads the file"
cli 0 "info" backends info "$ID1"
cmp -s "$T/out" policy.json || fail "info printed something else than the stored file"
ok "info prints the stored file byte for byte"
cli 0 "info -o" backends info "$ID1" -o "$T/got.json"
cmp -s "$T/got.json" policy.json || fail "info -o wrote something else"
[ ! -s "$T/out" ] || fail "info -o also printed: $(cat "$T/out")"
ok "info -o FILE writes the stored file"
cli 0 "get shows has_info" backends get "$ID1"
grep -qx "has_info     yes" "$T/out" || fail "has_info: $(cat "$T/out")"
printf '{"snp_policy":{"policy":"x"},"root_of_trust":{"product":"Milan"}}' >bad-policy.json
cli 1 "info --set of an invalid policy" backends info "$ID1" --set bad-policy.json
grep -q "(HTTP 422)$" "$T/err" || fail "invalid policy: $(cat "$T/err")"
cli 0 "info after a refused upload" backends info "$ID1"
cmp -s "$T/out" policy.json || fail "a refused upload changed the stored file"
ok "an invalid policy is refused (422) and the stored file stays"
# The 64 KiB limit: the policy padded with spaces to exactly 65536 bytes is sent, one byte more
# is refused here, before any request.
python3 -c 'import sys; d=open("policy.json","rb").read(); open("at.json","wb").write(d + b" " * (65536 - len(d))); open("past.json","wb").write(d + b" " * (65537 - len(d)))'
cli 0 "info --set of a 64 KiB file" backends info "$ID1" --set at.json
cli 1 "info --set of a 64 KiB + 1 file" backends info "$ID1" --set past.json
err_is "cloister: past.json: larger than 64 KiB (cloisterd's limit)" "an information file past 64 KiB is refused locally"
cli 1 "info --set of a missing file" backends info "$ID1" --set missing.json
err_is "cloister: missing.json: No such file or directory" "a missing information file is named"

# ------------------------------------------------------------------ terminate, delete
cli 0 "terminate" backends terminate "$ID2" --reason "decommissioned"
out_is "terminated $ID2" "terminate confirms"
cli 0 "get after terminate" backends get "$ID2" --json
[ "$(json_get "$T/out" 'd["status"]')" = terminated ] || fail "status after terminate: $(cat "$T/out")"
ok "terminate (type 1 by default) sets the status to terminated"
cli 0 "terminate --type 0" backends terminate "$ID1" --type 0
cli 0 "list --status terminated" backends list --status terminated
[ "$(tail -n 1 "$T/out")" = "2 of 2" ] || fail "terminated list: $(cat "$T/out")"
ok "terminate --type 0"
cli 0 "delete" backends delete "$ID2"
out_is "deleted $ID2" "delete confirms"
cli 1 "get after delete" backends get "$ID2"
err_is "cloister: backend not found (HTTP 404)" "a deleted backend is gone"
cli 1 "delete twice" backends delete "$ID2"
err_is "cloister: backend not found (HTTP 404)" "deleting it again: 404, exit 1"

# ------------------------------------------------------------------ users
printf 'bob-password-1\n' >bob.pw
cli 0 "users create" users create --username bob --password-file bob.pw
BOB=$(cat "$T/out")
[[ $BOB =~ $UUID_RE ]] || fail "users create printed '$BOB'"
ok "users create prints the new user's id"
printf 'carol-password-1\n' >carol.pw
cli_in carol.pw 0 "users create with the password on stdin" users create --username carol --role admin
CAROL=$(cat "$T/out")
cli 0 "users create --json" users create --username dave --password-file bob.pw --json
[ "$(json_get "$T/out" 'd["username"], d["role"]')" = "('dave', 'user')" ] || fail "users create --json: $(cat "$T/out")"
ok "users create --json prints the user object (role user by default)"
cli 1 "users create of an existing name" users create --username bob --password-file bob.pw
grep -q "(HTTP 409)$" "$T/err" || fail "duplicate user: $(cat "$T/err")"
ok "a duplicate user name: 409, exit 1"
printf 'short\n' >short.pw
cli 1 "users create with a short password" users create --username eve --password-file short.pw
grep -q "(HTTP 422)$" "$T/err" || fail "short password: $(cat "$T/err")"
cli 0 "users list" users list
python3 - "$T/out" "$BOB" "$CAROL" <<'EOF' || fail "users table: $(cat "$T/out")"
import sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[0].split() == ["ID", "USERNAME", "ROLE", "DISABLED", "CREATED_AT"], lines[0]
assert lines[-2] == "4 of 4", lines
rows = {l[:36]: l.split() for l in lines[1:5]}
assert rows[sys.argv[2]][1:4] == ["bob", "user", "no"], rows
assert rows[sys.argv[3]][1:4] == ["carol", "admin", "no"], rows
EOF
ok "users list: ID USERNAME ROLE DISABLED CREATED_AT and 'N of TOTAL'"
cli 0 "users list --limit 1 --offset 1" users list --limit 1 --offset 1
[ "$(tail -n 1 "$T/out")" = "1 of 4" ] || fail "users list --limit: $(cat "$T/out")"
cli 0 "users list --json" users list --json
[ "$(json_get "$T/out" 'd["total"]')" = 4 ] || fail "users list --json: $(cat "$T/out")"
ok "users list --limit/--offset and --json"

# A user sees only their own backends and cannot manage users.
cli 0 "login as bob" login --username bob --password-file bob.pw
out_is "logged in to $BASE as bob" "a second login replaces the session"
cli 0 "bob's list" backends list
[ "$(tail -n 1 "$T/out")" = "0 of 0" ] || fail "bob sees: $(cat "$T/out")"
cli 1 "bob gets admin's backend" backends get "$ID1"
err_is "cloister: backend not found (HTTP 404)" "another user's backend is not found"
cli 1 "bob lists users" users list
grep -q "(HTTP 403)$" "$T/err" || fail "bob users list: $(cat "$T/err")"
ok "a user cannot list users (403, exit 1)"

# ------------------------------------------------------------------ logout
cli 0 "logout" logout
out_is "logged out" "logout"
[ ! -e "$SESSION" ] || fail "logout left the session"
cli 0 "logout again" logout
out_is "not logged in" "logout without a session is not an error"
cli 1 "a command after logout" backends list
err_has "not logged in" "after logout the session is gone"
stop_agent
ok "cloisterd exits 0 on SIGTERM after the session"

# ------------------------------------------------------------------ a stand-in cloisterd
cat >fake.py <<'EOF'
import http.server, json, sys
mode, log = sys.argv[1], open(sys.argv[2], "a")
BACKEND = {"id": "8f0c6e1e-4c1e-4d8a-9c1e-0123456789ab", "name": "evil\x1b[2J\nname",
           "address": "h\x07", "status": "ok\x9b31m", "has_info": False}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, code, body=b"", ctype="application/json", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def err(self, code, msg):
        self.reply(code, json.dumps({"code": code, "message": msg}).encode() + b"\n")
    def handle_any(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        auth = self.headers.get("Authorization", "")
        log.write("%s %s %s %s\n" % (self.command, self.path, auth,
                                    self.headers.get("Content-Type", "-")))
        log.flush()
        if self.path == "/users/tokens/refresh":
            if mode == "norefresh" or auth != "Bearer old.refresh":
                return self.err(401, "token revoked")
            return self.reply(201, b'{"access_token":"new.access","refresh_token":"new.refresh",'
                                   b'"access_type":"Bearer","expires_in":900}\n')
        if mode in ("expire", "norefresh") and auth == "Bearer old.access":
            return self.err(401, "token expired")
        if mode == "badsig":
            return self.err(401, "bad signature")
        if mode == "nolocation" and self.command == "POST":
            return self.reply(201)
        if mode == "notjson":
            return self.reply(200, b"<html>not json</html>", "text/html")
        page = {"total": 1, "limit": 10, "offset": 0, "backends": [BACKEND]}
        if self.path.startswith("/backends/"):
            return self.reply(200, json.dumps(BACKEND).encode() + b"\n")
        return self.reply(200, json.dumps(page).encode() + b"\n")
    do_GET = do_POST = do_PUT = do_DELETE = handle_any
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print("port=%d" % s.server_address[1], flush=True)
s.serve_forever()
EOF
FAKE_PID=""
FAKE_N=0
# fake MODE: starts the stand-in (requests logged to $T/fake.log), sets FAKE and writes a session
# for it holding the tokens old.access / old.refresh.
fake() {
	[ -z "$FAKE_PID" ] || { kill "$FAKE_PID"; wait "$FAKE_PID" 2>/dev/null || true; }
	FAKE_N=$((FAKE_N + 1))
	: >"$T/fake.log"
	python3 fake.py "$1" "$T/fake.log" >"fake.$FAKE_N.port" &
	FAKE_PID=$!
	bg_track "$FAKE_PID"
	wait_for 10 "the stand-in cloisterd to start" grep -qs port= "fake.$FAKE_N.port"
	FAKE="http://127.0.0.1:$(sed 's/port=//' "fake.$FAKE_N.port")"
	mkdir -p "$(dirname "$SESSION")"
	printf '{"server":"%s","username":"u","access_token":"old.access","refresh_token":"old.refresh"}\n' \
		"$FAKE" >"$SESSION"
	chmod 600 "$SESSION"
}

fake expire
cli 0 "a list with an expired access token" backends list --json
printf '%s\n' "GET /backends Bearer old.access -" "POST /users/tokens/refresh Bearer old.refresh application/json" \
	"GET /backends Bearer new.access -" | cmp -s - "$T/fake.log" || fail "refresh sequence: $(cat "$T/fake.log")"
[ "$(json_get "$SESSION" 'd["access_token"], d["refresh_token"]')" = "('new.access', 'new.refresh')" ] ||
	fail "the renewed pair was not saved: $(cat "$SESSION")"
[ "$(mode_of "$SESSION")" = 600 ] || fail "the renewed session's mode is $(mode_of "$SESSION")"
ok "an expired access token: one refresh with the refresh token, the new pair saved (0600), the request repeated"
fake norefresh
cli 1 "an expired token whose refresh is refused" backends list
err_is "cloister: the session expired and could not be renewed: token revoked (HTTP 401); run \`cloister login\`" \
	"a refused refresh says to log in again"
[ "$(grep -c refresh "$T/fake.log")" = 1 ] || fail "refresh attempts: $(cat "$T/fake.log")"
ok "the refresh is tried once, never in a loop"
fake badsig
cli 1 "a 401 that is not an expiry" backends list
err_is "cloister: bad signature (HTTP 401)" "other 401s are shown, not refreshed"
! grep -q refresh "$T/fake.log" || fail "refreshed on a bad signature"
grep -q "Basic" "$T/fake.log" && fail "Basic credentials were sent"
ok "the token goes as Bearer, never with Basic"

fake plain
cli 0 "a hostile list" backends list
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$T/out" || LC_ALL=C grep -q $'\xc2[\x80-\x9f]' "$T/out"; then
	fail "control characters reached the terminal: $(cat -A "$T/out")"
fi
[ "$(wc -l <"$T/out")" = 3 ] || fail "a name with a newline forged a line: $(cat -A "$T/out")"
ok "list: control characters (C0, C1, ESC) and newlines in replies never reach the terminal"
cli 0 "a hostile get" backends get 8f0c6e1e-4c1e-4d8a-9c1e-0123456789ab
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$T/out"; then
	fail "get: control characters reached the terminal: $(cat -A "$T/out")"
fi
ok "get: the same"
fake notjson
cli 1 "--json with a reply that is not JSON" backends list --json
err_is "cloister: $FAKE: malformed reply (not JSON)" "--json validates the reply before printing it"
cli 1 "a table from a reply that is not JSON" backends list
err_is "cloister: $FAKE: malformed reply (not a page of backends)" "a malformed page is an error, exit 1"
fake nolocation
cli 1 "a create without Location" backends create --name x --address y
err_is "cloister: $FAKE: malformed reply (no backend id in Location)" "a create reply without Location is an error"
grep -q "^POST /backends Bearer old.access application/json$" "$T/fake.log" || fail "create request: $(cat "$T/fake.log")"
ok "create sends JSON with the bearer token"

# A session whose token could inject a header line is refused, not sent.
printf '{"server":"%s","username":"u","access_token":"a\\r\\nX-Evil: 1","refresh_token":"r"}\n' "$FAKE" >"$SESSION"
: >"$T/fake.log"
cli 1 "a session with a token that is not header text" backends list
err_is "cloister: $SESSION is not a valid session file; run \`cloister login\` again" "a token with CR/LF is refused"
[ ! -s "$T/fake.log" ] || fail "a request was sent: $(cat "$T/fake.log")"
ok "nothing is sent with such a token"
echo "all cp_cli checks passed"
