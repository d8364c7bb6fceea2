#!/bin/bash
# limits.sh - every bound cloister-agent enforces, at the limit and one past it, black box.
# Each refused request must change nothing: no partial upload (destination unchanged, no temp
# file left beside it), no new event, no process left running.
set -eu
. "${SRCDIR:?}/tests/integration/lib.sh"

MARK="cloister-it-$$-$RANDOM-marker"
# A sleep duration nobody else uses, so pgrep finds only ours.
SLEEPN="1$((RANDOM % 1000)).$$"
mkdir -p "$T/up"

# A command that ignores SIGTERM and leaves a grandchild (also ignoring it) behind, both with
# $MARK on their command line: only a SIGKILL of the whole process group removes them.
cat >"$T/spawner.sh" <<'EOF'
#!/bin/bash
trap '' TERM
/bin/bash -c 'sleep 100; :' "$1-child" &
sleep 100
EOF
chmod 755 "$T/spawner.sh"

# state_save / state_same: events list, upload destination and its directory listing.
state_save() {
	events_snapshot "$T/ev.before"
	ls -A "$T/up" >"$T/ls.before"
	sha256 "$T/up/dest.bin" >"$T/sha.before"
}
state_same() {
	local what=$1
	events_snapshot "$T/ev.after"
	cmp -s "$T/ev.before" "$T/ev.after" || fail "$what: the event log changed: $(cat "$T/ev.after")"
	ls -A "$T/up" >"$T/ls.after"
	cmp -s "$T/ls.before" "$T/ls.after" ||
		fail "$what: files beside the destination changed: $(cat "$T/ls.after")"
	[ "$(sha256 "$T/up/dest.bin")" = "$(cat "$T/sha.before")" ] || fail "$what: destination changed"
	ok "$what: nothing changed (events, destination, no temp file)"
}
no_marker_left() { ! pgrep -f "$MARK" >/dev/null; }

# ------------------------------------------------------------------ uploads and events
cat >config.toml <<EOF
[general]
log_max_entries = 1000
[cloister]
upload_max_bytes = 100000
event_max_bytes = 64
action_timeout_ms = 500
[actions]
hang = ["$T/spawner.sh", "$MARK"]
hang_timeout = ["/usr/bin/timeout", "100", "/usr/bin/sleep", "$SLEEPN"]
[file_uploads]
dest = "$T/up/dest.bin"
EOF
start_agent config.toml
echo "original content" >"$T/up/dest.bin"
head -c 100000 /dev/urandom >exact.bin
head -c 100001 /dev/urandom >over.bin

state_save
expect_status 413 "upload of limit+1 bytes with Content-Length: 413" \
	--data-binary @over.bin "$BASE/api/v1/file-upload/dest"
state_same "upload over the limit (Content-Length)"

expect_status 413 "upload of limit+1 bytes, chunked: 413" -H 'Transfer-Encoding: chunked' \
	--data-binary @over.bin "$BASE/api/v1/file-upload/dest"
state_same "upload over the limit (chunked)"

head -c 300000 /dev/urandom >far-over.bin
expect_status 413 "upload of 3x the limit, chunked: 413" -H 'Transfer-Encoding: chunked' \
	--data-binary @far-over.bin "$BASE/api/v1/file-upload/dest"
state_same "upload far over the limit (chunked)"

expect_status 200 "upload of exactly upload_max_bytes: 200" --data-binary @exact.bin \
	"$BASE/api/v1/file-upload/dest"
[ "$(json_get "$T/body" 'd["sha256"]')" = "$(sha256 exact.bin)" ] ||
	fail "reply sha256 differs from sha256sum: $(cat "$T/body")"
[ "$(json_get "$T/body" 'd["size_bytes"]')" = 100000 ] || fail "size_bytes: $(cat "$T/body")"
cmp -s exact.bin "$T/up/dest.bin" || fail "destination differs from the upload"
[ "$(ls -A "$T/up")" = dest.bin ] || fail "files left beside the destination: $(ls -A "$T/up")"
ok "upload at the limit: sha256 in the reply matches sha256sum, no temp file"
expect_status 200 "upload at the limit, chunked: 200" -H 'Transfer-Encoding: chunked' \
	--data-binary @exact.bin "$BASE/api/v1/file-upload/dest"
[ "$(json_get "$T/body" 'd["sha256"]')" = "$(sha256 exact.bin)" ] || fail "chunked sha256"
ok "chunked upload at the limit: sha256 matches"
chmod 640 "$T/up/dest.bin"
expect_status 200 "upload over an existing file" --data-binary @exact.bin "$BASE/api/v1/file-upload/dest"
[ "$(stat -c %a "$T/up/dest.bin")" = 640 ] || fail "upload changed the destination's mode"
ok "an existing destination keeps its mode"

# new_event: event_max_bytes = 64.
state_save
m64=$(printf 'a%.0s' $(seq 64))
m65=$(printf 'a%.0s' $(seq 65))
expect_status 413 "new_event of 65 bytes (event_max_bytes 64): 413" "$BASE/api/v1/new_event?message=$m65"
state_same "new_event over the limit"
expect_status 413 "POST new_event body of 65 bytes: 413" --data-binary "$m65" "$BASE/api/v1/new_event"
state_same "POST new_event over the limit"
head -c 5000 /dev/zero | tr '\0' a >huge.txt
expect_status 413 "POST new_event body of 5000 bytes: 413" --data-binary @huge.txt "$BASE/api/v1/new_event"
state_same "POST new_event far over the limit"
expect_status 400 "new_event with invalid UTF-8 (%FF): 400" "$BASE/api/v1/new_event?message=ab%FFcd"
state_same "new_event with invalid UTF-8"
expect_status 400 "new_event with a control character (%01): 400" "$BASE/api/v1/new_event?message=a%01b"
state_same "new_event with a control character"
expect_status 400 "new_event with an embedded newline (%0A): 400" "$BASE/api/v1/new_event?message=a%0Ab"
state_same "new_event with an embedded newline"
expect_status 400 "new_event with a NUL (%00): 400" "$BASE/api/v1/new_event?message=a%00b"
state_same "new_event with a NUL"
expect_status 200 "new_event of exactly 64 bytes: 200" "$BASE/api/v1/new_event?message=$m64"
has_event "$m64" || fail "the 64-byte event is missing"
m62e=$(printf 'a%.0s' $(seq 62))
expect_status 200 "new_event of 64 bytes ending in a 2-byte character: 200" \
	"$BASE/api/v1/new_event?message=${m62e}%C3%A9"
has_event "${m62e}é" || fail "the 64-byte UTF-8 event is missing"
ok "events at the limit are stored whole"

# /api/v1/events?limit= : 1..10000.
expect_status 200 "events?limit=10000: 200" "$BASE/api/v1/events?limit=10000"
expect_status 422 "events?limit=10001: 422" "$BASE/api/v1/events?limit=10001"
expect_status 422 "events?limit=99999999999: 422" "$BASE/api/v1/events?limit=99999999999"
expect_status 400 "events?limit=0: 400" "$BASE/api/v1/events?limit=0"

# ------------------------------------------------------------------ action timeout
state_save
t0=$(date +%s%N)
expect_status 504 "action past action_timeout_ms (ignores SIGTERM, has a grandchild): 504" \
	-X POST "$BASE/api/v1/actions/hang"
t1=$(date +%s%N)
[ "$(json_get "$T/body" 'd["code"]')" = 504 ] || fail "504 body: $(cat "$T/body")"
[ "$(json_get "$T/body" 'd["timed_out"]')" = True ] || fail "timed_out: $(cat "$T/body")"
ms=$(((t1 - t0) / 1000000))
[ $ms -lt 5000 ] || fail "the timed-out action took $ms ms to answer"
ok "504 came after ${ms} ms (timeout 500 ms + kill grace)"
wait_for 5 "no process with the marker left" no_marker_left
ok "after the 504 no process with the marker remains (whole group killed)"
events_snapshot "$T/ev.after"
grep -q 'error executing action: hang - error: timed out' "$T/ev.after" ||
	fail "no timeout event: $(cat "$T/ev.after")"
ok "the timeout is recorded in the event log"
expect_status 504 "timeout(1) wrapper past action_timeout_ms: 504" -X POST \
	"$BASE/api/v1/actions/hang_timeout"
no_sleep_left() { ! pgrep -f "sleep $SLEEPN" >/dev/null; }
wait_for 5 "timeout(1) and its sleep gone" no_sleep_left
ok "timeout(1) and its sleep $SLEEPN are gone"
stop_agent

# ------------------------------------------------------------------ concurrent actions
cat >config.toml <<EOF
[cloister]
action_max_concurrent = 1
action_timeout_ms = 10000
[actions]
slow = ["/usr/bin/sleep", "2"]
quick = ["/usr/bin/true"]
EOF
start_agent config.toml
curl -s --max-time 10 -o "$T/slow.body" -w '%{http_code}' -X POST "$BASE/api/v1/actions/slow" >"$T/slow.code" &
slow_pid=$!
bg_track $slow_pid
wait_for 5 "the slow action to start" has_event "[system-api] executing action: slow = /usr/bin/sleep 2"
state_save
expect_status 429 "second action while action_max_concurrent=1 is busy: 429" -X POST "$BASE/api/v1/actions/quick"
expect_header "429 carries Retry-After" 'retry-after: [0-9]+'
events_snapshot "$T/ev.after"
cmp -s "$T/ev.before" "$T/ev.after" || fail "the refused action left an event"
ok "the refused action left no event"
wait $slow_pid || true
[ "$(cat "$T/slow.code")" = 200 ] || fail "the slow action got $(cat "$T/slow.code")"
ok "the first (slow) action still completes with 200"
expect_status 200 "after the slot frees, the next action runs: 200" -X POST "$BASE/api/v1/actions/quick"
stop_agent

# ------------------------------------------------------------------ header size
cat >config.toml <<'EOF'
[general]
log_max_entries = 10
EOF
start_agent config.toml
h8=$(head -c 8192 /dev/zero | tr '\0' x)
expect_status 200 "an 8 KiB header is served" -H "X-Big: $h8" "$BASE/livez"
h40=$(head -c 40000 /dev/zero | tr '\0' x)
code=$(req -H "X-Big: $h40" "$BASE/livez")
case "$code" in
431 | 413 | 000) ok "a 40 KiB header (> 32 KiB) is refused ($code)" ;;
*) fail "a 40 KiB header got $code" ;;
esac
expect_status 200 "the agent still serves after an oversized header" "$BASE/livez"
long=$(head -c 3000 /dev/zero | tr '\0' a)
expect_status 414 "a 3000-byte path (> 2048): 414" "$BASE/$long"

# Follow streams: 32 at once, the 33rd gets 429; clients that go away free their slots within
# one heartbeat (an empty line every 10 s on an idle stream is how the agent notices).
FPIDS=""
for _ in $(seq 1 32); do
	curl -sN --max-time 60 "$BASE/api/v1/events?follow=1" >/dev/null &
	FPIDS="$FPIDS $!"
	bg_track $!
done
wait_for 10 "32 follow streams open" sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 '$BASE/api/v1/events?follow=1' || true)\" = 429 ]"
ok "the 33rd follow stream gets 429"
for p in $FPIDS; do kill "$p" 2>/dev/null || true; done
wait_for 25 "a slot freed by the heartbeat" sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 '$BASE/api/v1/events?follow=1' || true)\" = 200 ]"
ok "follow streams whose clients left free their slots (heartbeat)"
stop_agent

# ------------------------------------------------------------------ connections
cat >config.toml <<'EOF'
[cloister]
max_connections_per_ip = 4
connection_timeout_s = 1
EOF
start_agent config.toml
cat >conns.py <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
held = []
for i in range(4):
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    held.append(s)
time.sleep(0.2)
# The 5th connection: refused, or accepted and closed without an answer.
refused = False
try:
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.settimeout(3)
    try:
        s.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        data = s.recv(100)
        refused = data == b""
        if not refused:
            print("5th connection was served: %r" % data[:60])
    except (ConnectionResetError, BrokenPipeError):
        refused = True
    s.close()
except (ConnectionRefusedError, ConnectionResetError):
    refused = True
sys.exit(0 if refused else 1)
EOF
# The held connections are idle: connection_timeout_s = 1 would close them, but the test
# takes well under a second.
timeout 20 python3 conns.py "$PORT" || fail "a 5th connection from one address was served (max_connections_per_ip = 4)"
ok "max_connections_per_ip = 4: the 5th connection is refused or closed"
wait_for 5 "the agent serving again after the 4 connections closed" \
	bash -c "[ \"\$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' $BASE/livez)\" = 200 ]"
ok "the agent serves again once they are closed"

cat >idle.py <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
t0 = time.monotonic()
s.settimeout(10)
try:
    data = s.recv(100)
except ConnectionResetError:
    data = b""
dt = time.monotonic() - t0
print("%.2f" % dt)
sys.exit(0 if data == b"" and dt <= 3.0 else 1)
EOF
dt=$(timeout 20 python3 idle.py "$PORT") || fail "an idle connection was not closed within 3 s (connection_timeout_s = 1): ${dt}s"
ok "connection_timeout_s = 1: an idle connection is closed after ${dt} s"
cat >slowloris.py <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
t0 = time.monotonic()
s.settimeout(10)
try:
    data = s.recv(100)
except ConnectionResetError:
    data = b""
dt = time.monotonic() - t0
print("%.2f" % dt)
sys.exit(0 if data == b"" and dt <= 3.0 else 1)
EOF
dt=$(timeout 20 python3 slowloris.py "$PORT") || fail "a half-sent request header was not timed out within 3 s: ${dt}s"
ok "a client that stops mid-header is cut after ${dt} s"
expect_status 200 "the agent still serves after the idle connections" "$BASE/livez"
stop_agent

echo "# limits: all checks passed"
