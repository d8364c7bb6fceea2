#!/usr/bin/env bash
# server.sh - cloisterd's skeleton, black box: it starts on 127.0.0.1 (port 0), answers
# GET /health, refuses other paths and methods, refuses a port in use, and exits 0 on SIGTERM.
set -eu
: "${CLOISTERD:?CLOISTERD must point at the cloisterd binary}"
T=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "not ok - $*"
	exit 1
}
ok() { echo "ok - $*"; }

"$CLOISTERD" --listen-addr 127.0.0.1:0 2>"$T/log" &
pid=$!
port=
for _ in $(seq 1 50); do
	port=$(sed -n 's/.*listening .*port=\([0-9]*\).*/\1/p' "$T/log" | head -n 1)
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || fail "cloisterd did not log its port: $(cat "$T/log")"
body=$(curl -s --max-time 5 "http://127.0.0.1:$port/health")
echo "$body" | grep -q '"status":"ok"' || fail "/health: $body"
ok "GET /health answers {\"status\":\"ok\",...}"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/backends")
[ "$code" = 404 ] || fail "unknown path: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "http://127.0.0.1:$port/health")
[ "$code" = 405 ] || fail "POST /health: $code"
ok "unknown path 404, wrong method 405"
if "$CLOISTERD" --listen-addr "127.0.0.1:$port" 2>"$T/log2"; then
	fail "a second cloisterd on a busy port started"
fi
grep -q "cannot listen" "$T/log2" || fail "busy port error: $(cat "$T/log2")"
ok "a port in use refuses start-up with a clear error"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" = 0 ] || fail "exit status $status on SIGTERM"
ok "SIGTERM: exit 0"
