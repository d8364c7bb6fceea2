# cp_lib.sh - shared helpers for cloisterd's black-box integration tests.
#
# Sourced by the tests/integration/cp_*.sh and prism_session.sh scripts. It makes a private temp
# dir ($T, removed on exit), starts cloisterd from $CLOISTERD on 127.0.0.1 port 0 with its state
# in $T/state and a known first-admin password (the real port is read from the "listening ...
# port=N" log line), and stops it with SIGTERM requiring exit status 0 (under ASan a leak makes
# it non-zero). Every wait is bounded; traffic goes to 127.0.0.1 only.
# Conventions: "ok - <name>" per check; the first failure prints "not ok - <why>" with the log
# tail and exits 1.
set -eu

: "${CLOISTERD:?CLOISTERD must point at the cloisterd binary}"
case "$CLOISTERD" in /*) ;; *) CLOISTERD="$PWD/$CLOISTERD" ;; esac
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY || true
export no_proxy='*' NO_PROXY='*'

T=$(mktemp -d /tmp/cloister-cp.XXXXXXXX)
CP_PID=""
CP_LOG=""
CP_N=0
PORT=""
BASE=""
ADMIN_PW="admin-password-$$"
printf '%s\n' "$ADMIN_PW" >"$T/admin-pw"
chmod 600 "$T/admin-pw"

_cp_cleanup() {
	local rc=$?
	if [ -n "$CP_PID" ] && kill -0 "$CP_PID" 2>/dev/null; then
		kill -KILL "$CP_PID" 2>/dev/null || true
	fi
	cd /
	rm -rf "$T"
	exit $rc
}
trap _cp_cleanup EXIT
trap 'exit 130' INT TERM
cd "$T"

ok() { echo "ok - $*"; }
fail() {
	echo "not ok - $*" >&2
	if [ -n "$CP_LOG" ] && [ -f "$CP_LOG" ]; then
		# A sanitizer report's head (its stack traces) before the tail, which is its shadow map.
		if grep -q 'ERROR: AddressSanitizer\|runtime error:' "$CP_LOG"; then
			echo "--- cloisterd log: sanitizer report (first 80 lines) ---" >&2
			grep -A 80 -m 1 'ERROR: AddressSanitizer\|runtime error:' "$CP_LOG" >&2 || true
		fi
		echo "--- cloisterd log (last 30 lines) ---" >&2
		tail -n 30 "$CP_LOG" >&2 || true
	fi
	exit 1
}
[ -x "$CLOISTERD" ] || fail "CLOISTERD=$CLOISTERD is not an executable file"

# write_config [EXTRA_TOML]: $T/cloisterd.toml with the state dir and admin password file; the
# extra text is appended inside [auth] unless it opens its own tables. The monitor is off
# ([fleet] enabled = false: the API tests use addresses nothing answers on, which it would mark
# offline) unless the extra text has its own [fleet] table.
write_config() {
	cat >"$T/cloisterd.toml" <<TOML
[server]
state_dir = "$T/state"
[auth]
admin_password_file = "$T/admin-pw"
${1:-}
TOML
	case "${1:-}" in
	*"[fleet]"*) ;;
	*) printf '[fleet]\nenabled = false\n' >>"$T/cloisterd.toml" ;;
	esac
}

# start_cloisterd [args...]: starts cloisterd with $T/cloisterd.toml (written with defaults when
# missing) on 127.0.0.1:0 unless a --listen-addr is given; sets CP_PID, PORT, BASE, CP_LOG.
start_cloisterd() {
	[ -f "$T/cloisterd.toml" ] || write_config
	CP_N=$((CP_N + 1))
	CP_LOG="$T/cloisterd.$CP_N.log"
	: >"$CP_LOG"
	local listen=(--listen-addr 127.0.0.1:0)
	local a
	for a in "$@"; do
		[ "$a" = "--listen-addr" ] && listen=()
	done
	"$CLOISTERD" --config "$T/cloisterd.toml" "${listen[@]}" "$@" 2>"$CP_LOG" &
	CP_PID=$!
	PORT=""
	local i=0
	while [ $i -lt 150 ]; do
		PORT=$(sed -n 's/.*listening .*port=\([0-9][0-9]*\).*/\1/p' "$CP_LOG" | head -n 1)
		[ -n "$PORT" ] && break
		if ! kill -0 "$CP_PID" 2>/dev/null; then
			wait "$CP_PID" || true
			CP_PID=""
			fail "cloisterd exited during start-up"
		fi
		sleep 0.1
		i=$((i + 1))
	done
	[ -n "$PORT" ] || fail "cloisterd did not log its port within 15 s"
	BASE="http://127.0.0.1:$PORT"
}

# stop_cloisterd: SIGTERM, wait up to 15 s, require exit status 0.
stop_cloisterd() {
	[ -n "$CP_PID" ] || return 0
	local pid=$CP_PID
	kill -TERM "$pid" 2>/dev/null || fail "cloisterd (pid $pid) was not running at stop"
	local i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do
		[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = "Z" ] && break
		sleep 0.1
		i=$((i + 1))
	done
	if [ $i -ge 150 ]; then
		kill -KILL "$pid" 2>/dev/null || true
		fail "cloisterd did not stop within 15 s of SIGTERM"
	fi
	local rc=0
	wait "$pid" || rc=$?
	CP_PID=""
	[ $rc -eq 0 ] || fail "cloisterd exited with status $rc after SIGTERM"
}

# kill9_cloisterd: SIGKILL and reap.
kill9_cloisterd() {
	[ -n "$CP_PID" ] || return 0
	kill -KILL "$CP_PID" 2>/dev/null || true
	wait "$CP_PID" 2>/dev/null || true
	CP_PID=""
}

# req ARGS...: curl; body to $T/body, headers to $T/hdr; prints the status ("000" on failure).
req() {
	: >"$T/body"
	: >"$T/hdr"
	curl -s --max-time 15 -o "$T/body" -D "$T/hdr" -w '%{http_code}' "$@" || true
}

# expect_status CODE NAME ARGS...
expect_status() {
	local want=$1 name=$2
	shift 2
	local got
	got=$(req "$@")
	if [ "$got" != "$want" ]; then
		echo "--- body ---" >&2
		head -c 2000 "$T/body" >&2 || true
		echo >&2
		fail "$name: status $got, want $want (curl $*)"
	fi
	ok "$name"
}

# expect_header NAME REGEX: a header line of the last reply matches (whole line, case-insensitive).
expect_header() {
	local name=$1 re=$2
	tr -d '\r' <"$T/hdr" | grep -qiE "^$re\$" || {
		cat "$T/hdr" >&2
		fail "$name: no header matching '$re'"
	}
	ok "$name"
}

# json_get FILE EXPR: a value from a JSON file (EXPR is Python on the parsed document `d`).
json_get() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# body_has EXPR NAME: the last JSON body satisfies the Python expression on `d`.
body_has() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
		"$T/body" "$1" || {
		head -c 2000 "$T/body" >&2
		echo >&2
		fail "$2: body does not satisfy $1"
	}
	ok "$2"
}

# login USER PASSWORD: prints the access token (fails the test when login fails).
login() {
	local code
	code=$(req -X POST "$BASE/users/tokens/issue" -H 'Content-Type: application/json' \
		-d "{\"username\":\"$1\",\"password\":\"$2\"}")
	[ "$code" = 201 ] || fail "login $1: status $code: $(head -c 500 "$T/body")"
	json_get "$T/body" 'd["access_token"]'
}

# login_pair USER PASSWORD: prints "ACCESS REFRESH".
login_pair() {
	local code
	code=$(req -X POST "$BASE/users/tokens/issue" -H 'Content-Type: application/json' \
		-d "{\"username\":\"$1\",\"password\":\"$2\"}")
	[ "$code" = 201 ] || fail "login $1: status $code: $(head -c 500 "$T/body")"
	json_get "$T/body" 'd["access_token"] + " " + d["refresh_token"]'
}

# mkuser ADMIN_TOKEN NAME PASSWORD [ROLE]: creates a user, prints its id.
mkuser() {
	local code
	code=$(req -X POST "$BASE/users" -H "Authorization: Bearer $1" \
		-H 'Content-Type: application/json' \
		-d "{\"username\":\"$2\",\"password\":\"$3\",\"role\":\"${4:-user}\"}")
	[ "$code" = 201 ] || fail "create user $2: status $code: $(head -c 500 "$T/body")"
	json_get "$T/body" 'd["id"]'
}

# mkbackend TOKEN NAME ADDRESS: creates a backend, prints its id (from Location).
mkbackend() {
	local code
	code=$(req -X POST "$BASE/backends" -H "Authorization: Bearer $1" \
		-H 'Content-Type: application/json' \
		-d "{\"name\":\"$2\",\"description\":\"\",\"address\":\"$3\"}")
	[ "$code" = 201 ] || fail "create backend $2: status $code: $(head -c 500 "$T/body")"
	tr -d '\r' <"$T/hdr" | sed -n 's|^[Ll]ocation: /backends/||p'
}

# audit_has TOKEN ACTION RESULT: the audit log has an entry with that action and result.
audit_has() {
	req "$BASE/audit?limit=1000" -H "Authorization: Bearer $1" >/dev/null
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if any(e["action"]==sys.argv[2] and e["result"]==sys.argv[3] for e in d["entries"]) else 1)' \
		"$T/body" "$2" "$3"
}
