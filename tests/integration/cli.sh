#!/bin/bash
# cli.sh - `cloister agent ...` against a real cloister-agent on 127.0.0.1, black box: every
# command, its output and exit status, the errors a user meets (unknown action, wrong password,
# refused upload, unreachable agent, usage), the limits (message and password sizes, upload cap,
# the 64 MiB reply cap), follow mode, TLS with --cacert and mutual TLS with --cert/--key.
# A small Python server stands in for a lying or broken agent where a real one cannot
# misbehave (a wrong upload SHA-256, a malformed follow stream, an oversized reply).
# Env: AGENT (cloister-agent), CLI (cloister), SRCDIR.
set -eu
. "${SRCDIR:?}/tests/integration/lib.sh"

: "${CLI:?CLI must point at the cloister binary}"
case "$CLI" in /*) ;; *) CLI="$OLDPWD/$CLI" ;; esac
unset CLOISTER_AGENT_URL CLOISTER_AGENT_PASSWORD_FILE || true

TS_RE='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
TAB=$'\t'

# cli WANT_RC NAME ARGS...: runs `cloister ARGS` (stdin from /dev/null) bounded to 20 s, stdout
# in $T/out, stderr in $T/err, and requires exit status WANT_RC.
cli() {
	local want=$1 name=$2
	shift 2
	local rc=0
	timeout 20 "$CLI" "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "--- stdout ---" >&2
		head -c 2000 "$T/out" >&2
		echo "--- stderr ---" >&2
		head -c 2000 "$T/err" >&2
		fail "$name: cloister $* exited $rc, want $want"
	fi
}
# ca: `cloister agent --url $BASE ARGS...` (the common case).
ca() {
	local want=$1 name=$2
	shift 2
	cli "$want" "$name" agent --url "$BASE" "$@"
}
# err_is TEXT NAME: stderr is exactly TEXT (one line).
err_is() {
	[ "$(cat "$T/err")" = "$1" ] || fail "$2: stderr is '$(cat "$T/err")', want '$1'"
	ok "$2"
}
out_is() {
	[ "$(cat "$T/out")" = "$1" ] || fail "$2: stdout is '$(cat "$T/out")', want '$1'"
	ok "$2"
}

# ------------------------------------------------------------------ an agent with everything
mkdir -p up
cat >config.toml <<EOF
[general]
pipe_file = "pipe.fifo"
log_max_entries = 1000
basic_auth_secret_path = "secret.txt"

[cloister]
events_file = "events.log"
action_timeout_ms = 1000
upload_max_bytes = 2097152

[actions]
echo_test = "echo test"
fail3 = ["/usr/bin/python3", "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"]
slow = ["/bin/sleep", "5"]

[file_uploads]
testfile = "$T/up/testfile.bin"
EOF
start_agent config.toml

# ------------------------------------------------------------------ usage
cli 64 "no arguments" 
grep -q '^Usage: cloister' "$T/err" || fail "no usage on stderr"
ok "cloister without arguments: usage, exit 64"
cli 0 "--help" --help
grep -q 'agent' "$T/out" || fail "cloister --help does not name the agent noun"
ok "cloister --help: exit 0"
cli 0 "agent --help" agent --help
grep -q 'set-password' "$T/out" || fail "cloister agent --help does not list set-password"
ok "cloister agent --help lists the commands"
for c in events log action upload set-password health; do
	CLOISTER_AGENT_PASSWORD_FILE=/nonexistent cli 0 "agent $c --help" agent "$c" --help
	grep -q "^Usage: cloister agent \\[options\\] $c" "$T/out" || fail "agent $c --help: $(cat "$T/out")"
done
ok "every agent command has --help (even with an unreadable password file)"
cli 64 "unknown noun" frobnicate
cli 64 "unknown command" agent frobnicate
grep -q "unknown agent command 'frobnicate'" "$T/err" || fail "unknown command message: $(cat "$T/err")"
ok "unknown nouns and commands: exit 64"
ca 64 "agent without command"
ca 64 "log without message" log
ca 64 "log with two messages" log a b
ca 64 "upload with one argument" upload testfile
ca 64 "events --limit 0" events --limit 0
ca 64 "events --after x" events --after x
ca 64 "events --follow --limit" events --follow --limit 5
cli 64 "--timeout past the maximum" agent --timeout 86401 health
cli 64 "--cert without --key" agent --cert x.pem health
cli 64 "--url ftp://" agent --url ftp://127.0.0.1/ health
ca 64 "set-password takes no password argument" set-password hunter2
ok "usage errors exit 64"

# ------------------------------------------------------------------ health, unreachable
ca 0 "health" health
grep -q '^livez: ok$' "$T/out" || fail "health: $(cat "$T/out")"
grep -qE '^readyz: ready, version [0-9.]+, auth off, tls off, last event [0-9]+$' "$T/out" ||
	fail "health readyz line: $(cat "$T/out")"
ok "health: livez ok, readyz ready with version, auth, tls"
ca 0 "health --json" --json health
[ "$(json_get "$T/out" 'd["livez"]["status"] + "/" + d["readyz"]["status"]')" = ok/ready ] ||
	fail "health --json: $(cat "$T/out")"
ok "health --json: both replies"
CLOISTER_AGENT_URL="$BASE" cli 0 "CLOISTER_AGENT_URL" agent health
ok "CLOISTER_AGENT_URL picks the agent"
cli 2 "unreachable agent" agent --url http://127.0.0.1:1 health
grep -qE "^cloister: http://127.0.0.1:1: .*(onnect|refused)" "$T/err" ||
	fail "unreachable: stderr: $(cat "$T/err")"
ok "unreachable agent: exit 2 with curl's message"

# ------------------------------------------------------------------ log and events
ca 0 "log" log "hello world"
out_is "" "log prints nothing on success"
has_event "hello world" || fail "log: the event is not in the agent's log"
ok "log MESSAGE records the event"
weird='a&b=c d+e%25/?#x ü "q" \ end'
ca 0 "log with URL metacharacters" log "$weird"
has_event "$weird" || fail "log: '$weird' not recorded verbatim"
ok "log URL-encodes the message (&, =, +, %, /, ?, #, UTF-8 arrive verbatim)"
ca 0 "log -- -dash" log -- "-starts with a dash"
has_event "-starts with a dash" || fail "log -- -dash not recorded"
ok "log -- MESSAGE starting with '-'"
m4096=$(head -c 4096 /dev/zero | tr '\0' 'm')
ca 0 "log 4096 bytes (the limit)" log "$m4096"
has_event "$m4096" || fail "4096-byte event not recorded"
ok "log: a 4096-byte message (event_max_bytes) is recorded"
n_before=$(event_count)
ca 1 "log 4097 bytes" log "${m4096}m"
err_is "cloister: 413: message longer than 4096 bytes" "log: 4097 bytes -> 413 message, exit 1"
[ "$(event_count)" = "$n_before" ] || fail "a refused message changed the log"
ok "a refused message leaves the log unchanged"
ca 1 "log with a control character" log "$(printf 'bad\001byte')"
err_is "cloister: 400: message must be UTF-8 text without control characters" "log: 400 message"

ca 0 "events" events
c -o "$T/logs.txt" "$BASE/logs"
cmp -s "$T/out" "$T/logs.txt" || fail "events differs from GET /logs"
grep -qE "^$TS_RE $TAB hello world\$" "$T/out" || fail "events: no 'TS \\t hello world' line"
ok "events prints exactly what GET /logs shows"
ca 0 "events --json" --json events
c -o "$T/events.json" "$BASE/api/v1/events"
cmp -s "$T/out" "$T/events.json" || fail "events --json differs from GET /api/v1/events"
ok "events --json prints the agent's JSON array"
ca 0 "events --after 1 --limit 2 --json" --json events --after 1 --limit 2
[ "$(json_get "$T/out" '[e["seq"] for e in d]')" = "[2, 3]" ] || fail "paging: $(cat "$T/out")"
ok "events --after 1 --limit 2: events 2 and 3"
ca 0 "events --after 1 --limit 1 (text)" events --after 1 --limit 1
[ "$(wc -l <"$T/out")" = 1 ] && grep -qE "^$TS_RE $TAB " "$T/out" || fail "paged text: $(cat "$T/out")"
ok "events --after/--limit in text form"
ca 1 "events --limit 10001" events --limit 10001
err_is "cloister: 422: limit must be at most 10000" "events: the agent's 422 is shown"
ca 0 "events --limit 10000" events --limit 10000
ok "events --limit 10000 (the agent's page limit)"

# ------------------------------------------------------------------ follow
last=$(c "$BASE/readyz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["last_event_seq"])')
# follow_start ARGS...: starts `cloister agent ... events --follow --after $last` in the
# background under timeout 10; sets FPID (timeout's pid) and CPID (cloister's pid).
follow_start() {
	timeout 10 "$CLI" agent --url "$BASE" "$@" events --follow --after "$last" \
		>"$T/follow.out" 2>"$T/follow.err" &
	FPID=$!
	bg_track "$FPID"
	CPID=""
	wait_for 5 "cloister to start under timeout" eval 'CPID=$(pgrep -P "$FPID" | head -n 1); [ -n "$CPID" ]'
}
# follow_stop: SIGINT to cloister; requires it to exit 0 (before timeout's 10 s).
follow_stop() {
	kill -INT "$CPID"
	local rc=0
	wait "$FPID" || rc=$?
	[ "$rc" = 0 ] || fail "follow: exit $rc after SIGINT, want 0: $(cat "$T/follow.err")"
}
follow_start
sleep 0.3
ca 0 "log while following" log "followed event one"
wait_for 5 "the follower to print the new event" grep -q "followed event one" "$T/follow.out"
ca 0 "log while following" log "followed event two"
wait_for 5 "the follower to print the second event" grep -q "followed event two" "$T/follow.out"
follow_stop
[ "$(wc -l <"$T/follow.out")" = 2 ] || fail "follow printed: $(cat "$T/follow.out")"
c -o "$T/logs.txt" "$BASE/logs"
tail -n 2 "$T/logs.txt" | cmp -s - "$T/follow.out" || fail "follow lines differ from /logs"
ok "events --follow prints events posted after it started, as /logs does, and SIGINT exits 0"
follow_start --json
ca 0 "log while following --json" log "followed json"
wait_for 5 "the JSON follower to print the event" grep -q "followed json" "$T/follow.out"
follow_stop
python3 - "$T/follow.out" "$last" <<'EOF' || fail "follow --json lines: $(cat "$T/follow.out")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
evs = [json.loads(l) for l in lines]
assert [e["message"] for e in evs] == ["followed event one", "followed event two", "followed json"], evs
assert evs[0]["seq"] == int(sys.argv[2]) + 1
EOF
ok "events --follow --json prints one JSON object per event, with seq"

# ------------------------------------------------------------------ actions
ca 0 "action echo_test" action echo_test
out_is "test" "action echo_test prints the action's stdout"
ca 3 "action fail3" action fail3
out_is "out" "a failing action's stdout on stdout"
grep -qx "err" "$T/err" || fail "action fail3: stderr lacks the action's stderr: $(cat "$T/err")"
grep -qx "cloister: 500: Failed to execute action: fail3 - error: exit status 3" "$T/err" ||
	fail "action fail3: stderr: $(cat "$T/err")"
ok "action fail3: its stderr on stderr, the agent's message, exit status 3"
ca 1 "unknown action" action nope
err_is "cloister: 400: Specified action not configured" "unknown action: the agent's message, exit 1"
ca 1 "action past its timeout" action slow
grep -qx "cloister: 504: Failed to execute action: slow - error: timed out after 1000 ms" "$T/err" ||
	fail "slow action: $(cat "$T/err")"
ok "an action that times out: 504 message, exit 1"
ca 0 "action --json" --json action echo_test
[ "$(json_get "$T/out" '(d["exit_code"], d["stdout"])')" = "(0, 'test\\n')" ] ||
	fail "action --json: $(cat "$T/out")"
ok "action --json prints the agent's reply"

# ------------------------------------------------------------------ uploads
head -c 1991 /dev/urandom >small.bin
ca 0 "upload" upload testfile small.bin
cmp -s small.bin up/testfile.bin || fail "uploaded file differs"
grep -qx "sha256 $(sha256 small.bin) (verified)" "$T/out" || fail "upload output: $(cat "$T/out")"
grep -qx "size 1991" "$T/out" || fail "upload size: $(cat "$T/out")"
grep -qx "file $T/up/testfile.bin" "$T/out" || fail "upload file: $(cat "$T/out")"
ok "upload: the file arrives, size and verified SHA-256 printed"
head -c 2097152 /dev/urandom >limit.bin
ca 0 "upload at upload_max_bytes" upload testfile limit.bin
cmp -s limit.bin up/testfile.bin || fail "2 MiB upload differs"
ok "upload of exactly upload_max_bytes (2 MiB, Expect: 100-continue) is verified"
head -c 2097153 /dev/urandom >over.bin
ca 1 "upload past upload_max_bytes" upload testfile over.bin
grep -qx "cloister: 413: .*too large\|cloister: 413: upload larger than upload_max_bytes" "$T/err" ||
	fail "upload past the cap: $(cat "$T/err")"
ok "upload past upload_max_bytes: the agent's 413 message, exit 1"
cmp -s limit.bin up/testfile.bin || fail "a refused upload changed the destination"
ok "a refused upload leaves the destination unchanged"
: >empty.bin
ca 0 "upload of an empty file" upload testfile empty.bin
[ -f up/testfile.bin ] && [ ! -s up/testfile.bin ] || fail "empty upload"
grep -qx "sha256 $(sha256 empty.bin) (verified)" "$T/out" || fail "empty upload output: $(cat "$T/out")"
ok "upload of an empty file"
ca 1 "upload to an unknown name" upload nope small.bin
err_is "cloister: 400: Specified file upload not configured" "unknown upload: the agent's message"
ca 1 "upload of a missing file" upload testfile missing.bin
err_is "cloister: missing.bin: No such file or directory" "upload of a missing local file: exit 1"
ca 1 "upload of a directory" upload testfile up
err_is "cloister: up: not a regular file" "upload of a directory: exit 1"
ca 0 "upload --json" --json upload testfile small.bin
[ "$(json_get "$T/out" 'd["sha256"]')" = "$(sha256 small.bin)" ] || fail "upload --json: $(cat "$T/out")"
ok "upload --json prints the agent's reply"

# ------------------------------------------------------------------ basic auth
printf 'first-secret\n' >pw1
printf 'wrong\n' >pwbad
printf 'second-secret' >pw2
printf 'first-secret\n' | timeout 20 "$CLI" agent --url "$BASE" set-password >"$T/out" 2>"$T/err" ||
	fail "set-password from stdin: $(cat "$T/err")"
out_is "Basic auth secret updated" "set-password from stdin (trailing newline stripped)"
expect_status 200 "the new password works with curl" -u admin:first-secret "$BASE/livez"
ca 1 "no password" events
err_is "cloister: 401: Unauthorized" "without a password: the agent's 401 message, exit 1"
ca 1 "wrong password" --password-file pwbad events
err_is "cloister: 401: Unauthorized" "wrong password: 401 message, exit 1"
ca 0 "right password" --password-file pw1 health
ok "--password-file authenticates"
CLOISTER_AGENT_PASSWORD_FILE=pw1 cli 0 "password from env" agent --url "$BASE" log "via env"
has_event() {
	c -o "$T/evh.json" -u admin:first-secret "$BASE/api/v1/events" || return 1
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if any(e["message"]==sys.argv[2] for e in d) else 1)' "$T/evh.json" "$1"
}
has_event "via env" || fail "CLOISTER_AGENT_PASSWORD_FILE: event missing"
ok "CLOISTER_AGENT_PASSWORD_FILE authenticates"
ca 0 "set-password --password-file" --password-file pw1 set-password --password-file pw2
expect_status 200 "the changed password works" -u admin:second-secret "$BASE/livez"
ca 0 "the new password authenticates" --password-file pw2 health
ok "set-password --password-file changes the password"
: >pwempty
ca 1 "empty password file" --password-file pwempty health
err_is "cloister: pwempty: the password is empty" "an empty password file is refused"
printf '\n' | timeout 20 "$CLI" agent --url "$BASE" --password-file pw2 set-password \
	>"$T/out" 2>"$T/err" && fail "an empty new password was accepted"
err_is "cloister: the new password is empty" "set-password refuses an empty password"
head -c 1024 /dev/zero | tr '\0' 'p' >pw1024
printf '\n' >>pw1024
ca 0 "a 1024-byte password" --password-file pw2 set-password --password-file pw1024
ca 0 "authenticate with 1024 bytes" --password-file pw1024 health
ok "a 1024-byte password (the limit) is set and used"
head -c 1025 /dev/zero | tr '\0' 'p' >pw1025
ca 1 "a 1025-byte password" --password-file pw1024 set-password --password-file pw1025
err_is "cloister: pw1025: password file larger than 1024 bytes" "a 1025-byte password is refused"
head -c 1025 /dev/zero | tr '\0' 'p' |
	timeout 20 "$CLI" agent --url "$BASE" --password-file pw1024 set-password >"$T/out" 2>"$T/err" &&
	fail "a 1025-byte password on stdin was accepted"
err_is "cloister: password longer than 1024 bytes" "a 1025-byte password on stdin is refused"
ca 0 "still the 1024-byte password" --password-file pw1024 health
ok "refused passwords leave the secret unchanged"
# On a terminal the new password is asked twice, without echo.
cat >term_session.py <<'EOF'
import os, pty, sys, time
cli, base, cur, first, second = sys.argv[1:6]
pid, fd = pty.fork()
if pid == 0:
    os.execv(cli, [cli, "agent", "--url", base, "--password-file", cur, "set-password"])
buf = b""
def expect(s):
    global buf
    end = time.time() + 10
    while s not in buf:
        if time.time() > end:
            sys.exit("timed out waiting for %r, got %r" % (s, buf))
        try:
            buf += os.read(fd, 1024)
        except OSError:
            sys.exit("EOF waiting for %r, got %r" % (s, buf))
expect(b"New password: ")
os.write(fd, first.encode() + b"\n")
expect(b"Retype new password: ")
os.write(fd, second.encode() + b"\n")
while True:
    try:
        d = os.read(fd, 1024)
    except OSError:
        break
    if not d:
        break
    buf += d
_, st = os.waitpid(pid, 0)
if first.encode() in buf:
    sys.exit("the password was echoed: %r" % buf)
print(os.waitstatus_to_exitcode(st))
sys.stdout.write(buf.decode(errors="replace"))
EOF
timeout 20 python3 term_session.py "$CLI" "$BASE" pw1024 typed-one typed-two >"$T/out" 2>&1 || fail "term_session.py: $(cat "$T/out")"
[ "$(head -n 1 "$T/out")" = 1 ] && grep -q "cloister: the passwords do not match" "$T/out" ||
	fail "set-password on a terminal, mismatch: $(cat "$T/out")"
ok "set-password on a terminal: two different entries are refused"
timeout 20 python3 term_session.py "$CLI" "$BASE" pw1024 tty-secret tty-secret >"$T/out" 2>&1 || fail "term_session.py: $(cat "$T/out")"
[ "$(head -n 1 "$T/out")" = 0 ] && grep -q "Basic auth secret updated" "$T/out" ||
	fail "set-password on a terminal: $(cat "$T/out")"
expect_status 200 "set-password on a terminal: asked twice without echo, then set" -u admin:tty-secret "$BASE/livez"
stop_agent

# ------------------------------------------------------------------ TLS and mutual TLS
rm -f events.log
cat >config.toml <<EOF
[general]
tls_enabled = true
tls_create_if_missing = true
tls_cert_hosts = ["localhost", "127.0.0.1"]
tls_cert_path = "cert.pem"
tls_key_path = "key.pem"
EOF
start_agent config.toml
HTTPS="https://localhost:$PORT"
cli 0 "https with --cacert" agent --url "$HTTPS" --cacert cert.pem health
grep -q 'tls on' "$T/out" || fail "https health: $(cat "$T/out")"
cli 0 "log over https" agent --url "$HTTPS" --cacert cert.pem log "over tls"
cli 0 "events over https" agent --url "$HTTPS" --cacert cert.pem events
grep -qE "^$TS_RE $TAB over tls\$" "$T/out" || fail "https events: $(cat "$T/out")"
ok "TLS: --cacert trusts the agent's generated certificate"
cli 2 "https without --cacert" agent --url "$HTTPS" health
grep -qiE "certificate|SSL" "$T/err" || fail "untrusted TLS: $(cat "$T/err")"
ok "TLS: without --cacert the self-signed certificate is refused (exit 2)"
stop_agent

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
	-days 2 -subj /CN=test-ca -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key -out client.csr \
	-subj /CN=operator 2>/dev/null
printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' >client.ext
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
	-extfile client.ext -out client.pem 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout rogue.key \
	-out rogue.pem -days 2 -subj /CN=rogue -addext extendedKeyUsage=clientAuth 2>/dev/null
cat >>config.toml <<EOF

[cloister]
tls_client_ca_path = "ca.pem"
EOF
start_agent config.toml
HTTPS="https://localhost:$PORT"
cli 0 "mTLS with --cert/--key" agent --url "$HTTPS" --cacert cert.pem --cert client.pem \
	--key client.key health
ok "mTLS: a client certificate from the CA is accepted"
cli 1 "mTLS without a client certificate" agent --url "$HTTPS" --cacert cert.pem health
err_is "cloister: 403: client certificate required" "mTLS: no client certificate -> 403 message"
cli 1 "mTLS with an untrusted certificate" agent --url "$HTTPS" --cacert cert.pem \
	--cert rogue.pem --key rogue.key health
grep -q "^cloister: 403: " "$T/err" || fail "rogue client cert: $(cat "$T/err")"
ok "mTLS: a certificate from another CA is refused"
stop_agent

# ------------------------------------------------------------------ a lying or broken agent
cat >fake.py <<'EOF'
import http.server, json, sys, time
mode = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        if mode == "badsha":
            self.reply(200, json.dumps({"message": "File uploaded successfully", "file": "/x",
                "size_bytes": str(len(data)), "sha256": "00" * 32}).encode())
        elif mode == "nosha":
            self.reply(200, b'{"message":"File uploaded successfully"}')
        else:
            self.reply(500, b"<html>oops\n", "text/html")
    def do_GET(self):
        if mode == "badfollow":
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b'{"seq":1,"received_at":"2024-01-01T00:00:00.5Z","message":"fine"}\n')
            self.wfile.write(b'not json\n')
            self.wfile.flush()
        elif mode == "hang":
            time.sleep(5)
            self.reply(200, b"late\n", "text/plain")
        elif mode.startswith("big"):
            n = int(mode[3:])
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            chunk = b"x" * 65536
            while n > 0:
                self.wfile.write(chunk[:min(n, 65536)])
                n -= 65536
        else:
            self.reply(404, b"404 page not found\n", "text/plain")
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print("port=%d" % s.server_address[1], flush=True)
s.serve_forever()
EOF
# fake MODE: starts the stand-in, sets FAKE (its base URL).
FAKE_PID=""
FAKE_N=0
fake() {
	[ -z "$FAKE_PID" ] || { kill "$FAKE_PID"; wait "$FAKE_PID" 2>/dev/null || true; }
	FAKE_N=$((FAKE_N + 1))
	python3 fake.py "$1" >"fake.$FAKE_N.port" &
	FAKE_PID=$!
	bg_track "$FAKE_PID"
	wait_for 10 "the stand-in agent to start" grep -qs port= "fake.$FAKE_N.port"
	FAKE="http://127.0.0.1:$(sed 's/port=//' "fake.$FAKE_N.port")"
}
fake badsha
cli 1 "upload with a wrong SHA-256 in the reply" agent --url "$FAKE" upload testfile small.bin
grep -q "^cloister: SHA-256 MISMATCH: small.bin was sent with SHA-256 $(sha256 small.bin) but the agent stored SHA-256 0000" "$T/err" ||
	fail "sha mismatch: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "a mismatched upload printed a success: $(cat "$T/out")"
ok "upload: a SHA-256 mismatch fails loudly, exit 1"
fake nosha
cli 0 "upload to a server without SHA-256" agent --url "$FAKE" upload testfile small.bin
grep -q "warning: the agent did not return a SHA-256" "$T/err" || fail "nosha: $(cat "$T/err")"
ok "upload to flashbots system-api (no SHA-256 in the reply) warns that it is unverified"
fake html
cli 1 "an HTML error page" agent --url "$FAKE" log x
err_is "cloister: 500: Internal Server Error" "a non-JSON error reply shows the status's reason"
cli 1 "a text 404" agent --url "$FAKE" events
err_is "cloister: 404: 404 page not found" "a text error reply shows its first line"
cli 1 "health of a server without /livez" agent --url "$FAKE" health
grep -qx "livez: 404 page not found (HTTP 404)" "$T/out" || fail "health 404: $(cat "$T/out")"
ok "health reports a failing probe on stdout, exit 1"
fake hang
cli 2 "--timeout 1 against a server that does not answer" agent --url "$FAKE" --timeout 1 events
grep -q "^cloister: $FAKE: Operation timed out after 1[0-9]* milliseconds" "$T/err" ||
	fail "timeout: $(cat "$T/err")"
ok "--timeout bounds a request (exit 2, curl's message)"
fake badfollow
cli 1 "a malformed follow stream" agent --url "$FAKE" events --follow
out_is "2024-01-01T00:00:00Z $TAB fine" "follow prints the good event before the bad one"
grep -q "malformed event in the follow stream" "$T/err" || fail "badfollow: $(cat "$T/err")"
ok "a malformed follow stream stops with exit 1"
fake "big$((64 * 1024 * 1024))"
cli 0 "a 64 MiB reply (the cap)" agent --url "$FAKE" events
[ "$(stat -c %s "$T/out")" = $((64 * 1024 * 1024)) ] || fail "64 MiB reply: $(stat -c %s "$T/out") bytes"
ok "a reply of exactly 64 MiB is read"
fake "big$((64 * 1024 * 1024 + 1))"
cli 2 "a reply past 64 MiB" agent --url "$FAKE" events
err_is "cloister: $FAKE: reply larger than 64 MiB" "a reply past 64 MiB is cut off, exit 2"
[ ! -s "$T/out" ] || fail "an oversized reply was printed"
kill "$FAKE_PID"
wait "$FAKE_PID" 2>/dev/null || true

echo "all cli tests passed"
