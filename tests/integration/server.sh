#!/usr/bin/env bash
# server.sh - cloisterd's process, black box: the first start in an empty state dir creates the
# admin with a generated password (file 0600, printed once), it starts on 127.0.0.1 (port 0),
# answers GET /health, asks for a token on other paths, refuses wrong methods, a port in use and
# a bad config (-n names file:line), and exits 0 on SIGTERM.
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

"$CLOISTERD" --state-dir "$T/state" --listen-addr 127.0.0.1:0 2>"$T/log" &
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
[ "$code" = 401 ] || fail "no token: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "http://127.0.0.1:$port/health")
[ "$code" = 405 ] || fail "POST /health: $code"
ok "no token 401, wrong method 405"
pw="$T/state/initial-admin-password"
[ -f "$pw" ] && [ "$(stat -c %a "$pw")" = 600 ] || fail "no 0600 initial-admin-password file"
[ "$(grep -cF -e "$(cat "$pw")" "$T/log")" = 1 ] || fail "the generated password is not printed exactly once"
ok "first start: admin password generated into a 0600 file and printed once"
if "$CLOISTERD" --state-dir "$T/state" --listen-addr "127.0.0.1:$port" 2>"$T/log2"; then
	fail "a second cloisterd on a busy port started"
fi
grep -q "cannot listen" "$T/log2" || fail "busy port error: $(cat "$T/log2")"
ok "a port in use refuses start-up with a clear error"
printf '[server]\nstate_dir = "%s"\nbogus = 1\n' "$T/state" >"$T/bad.toml"
if "$CLOISTERD" -n --config "$T/bad.toml" 2>"$T/log3"; then
	fail "-n accepted an unknown key"
fi
grep -q "bad.toml:3" "$T/log3" || fail "-n does not name file:line: $(cat "$T/log3")"
ok "-n refuses an unknown key with file:line"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" = 0 ] || fail "exit status $status on SIGTERM"
ok "SIGTERM: exit 0"
