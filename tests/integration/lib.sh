# lib.sh - shared helpers for cloister-agent's black-box integration tests.
#
# Sourced by every tests/integration/*.sh script. It makes a private temp dir ($T, removed on
# exit), starts the agent from $AGENT on 127.0.0.1 port 0 (the real port is read from the
# agent's "listening ... port=N" log line), and stops it with SIGTERM, waiting for it and
# checking that it exits 0 (under ASan a leak makes the exit status non-zero, so this also
# catches leaks). Every wait is bounded. Traffic goes to 127.0.0.1 only.
#
# Conventions: each check prints "ok - <name>"; the first failure prints "not ok - <why>" with
# the agent's log tail and exits 1.
set -eu

: "${AGENT:?AGENT must point at the cloister-agent binary}"
: "${SRCDIR:?SRCDIR must point at the source tree}"
case "$AGENT" in /*) ;; *) AGENT="$PWD/$AGENT" ;; esac
case "$SRCDIR" in /*) ;; *) SRCDIR="$PWD/$SRCDIR" ;; esac

# Never send test traffic through a proxy.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY || true
export no_proxy='*' NO_PROXY='*'

T=$(mktemp -d /tmp/cloister-it.XXXXXXXX)
AGENT_PID=""
AGENT_LOG=""
PORT=""
BASE=""
AGENT_N=0
BG_PIDS=""

_cleanup() {
	local rc=$?
	for p in $BG_PIDS; do
		kill "$p" 2>/dev/null || true
	done
	if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
		kill -TERM "$AGENT_PID" 2>/dev/null || true
		local i=0
		while kill -0 "$AGENT_PID" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$AGENT_PID" 2>/dev/null || true
	fi
	cd /
	rm -rf "$T"
	exit $rc
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

cd "$T"

ok() { echo "ok - $*"; }

fail() {
	echo "not ok - $*" >&2
	if [ -n "$AGENT_LOG" ] && [ -f "$AGENT_LOG" ]; then
		# A sanitizer report's head (its stack traces) before the tail, which is its shadow map.
		if grep -q 'ERROR: AddressSanitizer\|runtime error:' "$AGENT_LOG"; then
			echo "--- agent log: sanitizer report (first 80 lines) ---" >&2
			grep -A 80 -m 1 'ERROR: AddressSanitizer\|runtime error:' "$AGENT_LOG" >&2 || true
		fi
		echo "--- agent log (last 30 lines) ---" >&2
		tail -n 30 "$AGENT_LOG" >&2 || true
	fi
	exit 1
}

[ -x "$AGENT" ] || fail "AGENT=$AGENT is not an executable file (build it first)"

# Remembers a background job so the trap kills it.
bg_track() { BG_PIDS="$BG_PIDS $1"; }

# start_agent CONFIG [extra args...]: starts the agent in $T with --listen-addr 127.0.0.1:0
# (unless the extra args name another one) and sets AGENT_PID, PORT, BASE, AGENT_LOG.
start_agent() {
	local cfg=$1
	shift
	AGENT_N=$((AGENT_N + 1))
	AGENT_LOG="$T/agent.$AGENT_N.log"
	: >"$AGENT_LOG"
	local listen=(--listen-addr 127.0.0.1:0)
	local a
	for a in "$@"; do
		[ "$a" = "--listen-addr" ] && listen=()
	done
	"$AGENT" --config "$cfg" "${listen[@]}" "$@" 2>"$AGENT_LOG" &
	AGENT_PID=$!
	PORT=""
	local i=0
	while [ $i -lt 100 ]; do
		PORT=$(sed -n 's/.* listening .*port=\([0-9][0-9]*\).*/\1/p' "$AGENT_LOG" | head -n 1)
		[ -n "$PORT" ] && break
		if ! kill -0 "$AGENT_PID" 2>/dev/null; then
			wait "$AGENT_PID" || true
			AGENT_PID=""
			fail "the agent exited during start-up"
		fi
		sleep 0.1
		i=$((i + 1))
	done
	[ -n "$PORT" ] || fail "the agent did not log its port within 10 s"
	BASE="http://127.0.0.1:$PORT"
}

# stop_agent: SIGTERM, wait up to 10 s, and require exit status 0.
stop_agent() {
	[ -n "$AGENT_PID" ] || return 0
	local pid=$AGENT_PID
	kill -TERM "$pid" 2>/dev/null || fail "the agent (pid $pid) was not running at stop"
	local i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		# A zombie still answers kill -0; wait reaps it below.
		if [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = "Z" ]; then
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
	if [ $i -ge 100 ]; then
		kill -KILL "$pid" 2>/dev/null || true
		fail "the agent did not stop within 10 s of SIGTERM"
	fi
	local rc=0
	wait "$pid" || rc=$?
	AGENT_PID=""
	[ $rc -eq 0 ] || fail "the agent exited with status $rc after SIGTERM"
}

# run_agent_expect RC CONFIG [args...]: runs the agent to completion (e.g. -n) with a 20 s bound,
# output in $T/out and $T/err, and requires exit status RC.
run_agent_expect() {
	local want=$1
	shift
	local rc=0
	timeout 20 "$AGENT" "$@" >"$T/out" 2>"$T/err" || rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "--- stdout ---" >&2
		cat "$T/out" >&2
		echo "--- stderr ---" >&2
		cat "$T/err" >&2
		fail "cloister-agent $* exited $rc, want $want"
	fi
}

# c ARGS...: curl, silent but showing errors, bounded in time.
c() { curl -sS --max-time 10 "$@"; }

# req ARGS...: runs curl, body to $T/body, headers to $T/hdr; prints the status code
# ("000" when the connection failed).
req() {
	: >"$T/body"
	: >"$T/hdr"
	curl -s --max-time 10 -o "$T/body" -D "$T/hdr" -w '%{http_code}' "$@" || true
}

# expect_status CODE NAME ARGS...: req ARGS and require status CODE.
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

# expect_body_eq TEXT NAME: the last body equals TEXT byte for byte.
expect_body_eq() {
	local want=$1 name=$2
	printf '%s' "$want" >"$T/want"
	if ! cmp -s "$T/want" "$T/body"; then
		echo "--- want ---" >&2
		cat -A "$T/want" >&2
		echo "--- got ---" >&2
		cat -A "$T/body" >&2
		fail "$name: body differs"
	fi
	ok "$name"
}

# expect_header NAME REGEX: a header line of the last reply matches (case-insensitive name).
expect_header() {
	local name=$1 re=$2
	tr -d '\r' <"$T/hdr" | grep -qiE "^$re\$" || {
		cat "$T/hdr" >&2
		fail "$name: no header matching '$re'"
	}
	ok "$name"
}

# json_get FILE EXPR: prints a value from a JSON file (python3; EXPR is a Python expression on
# the parsed document `d`).
json_get() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# events_snapshot FILE: saves GET /api/v1/events into FILE.
events_snapshot() { c -o "$1" "$BASE/api/v1/events" ${AUTH:+-u "$AUTH"}; }

# wait_for TIMEOUT_S DESC CMD...: polls CMD every 0.1 s until it succeeds or time runs out.
wait_for() {
	local limit=$1 desc=$2
	shift 2
	local i=0 n=$((limit * 10))
	while [ $i -lt $n ]; do
		if "$@"; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	fail "timed out after ${limit}s waiting for: $desc"
}

# event_count: number of events (JSON list length).
event_count() {
	c -o "$T/evc.json" "$BASE/api/v1/events" ${AUTH:+-u "$AUTH"}
	json_get "$T/evc.json" 'len(d)'
}

# has_event TEXT: some event's message equals TEXT.
has_event() {
	c -o "$T/evh.json" "$BASE/api/v1/events" ${AUTH:+-u "$AUTH"} || return 1
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if any(e["message"]==sys.argv[2] for e in d) else 1)' "$T/evh.json" "$1"
}

# sha256 FILE
sha256() { sha256sum "$1" | cut -d' ' -f1; }

# agent_cpu_ticks: utime+stime of the agent from /proc/PID/stat.
agent_cpu_ticks() {
	# Fields after the ")" of comm: state is $1, utime is $12, stime $13.
	sed 's/.*) //' "/proc/$AGENT_PID/stat" | awk '{print $12 + $13}'
}
