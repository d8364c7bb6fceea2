#!/bin/bash
# persistence.sh - the event log beyond system-api: it survives restarts (same events, seq
# continues), is evicted by count and by bytes, pages with ?after=&limit=, streams with
# ?follow=1; and the named pipe: several writers, an unterminated last line, a long line cut at
# event_max_bytes, and no CPU use while idle.
set -eu
. "${SRCDIR:?}/tests/integration/lib.sh"

# messages FILE: the messages of a JSON event list, comma-separated.
messages() { json_get "$1" '",".join(e["message"] for e in d)'; }

# ------------------------------------------------------------------ restart
cat >config.toml <<'EOF'
[general]
log_max_entries = 5
[cloister]
events_file = "events.log"
EOF
start_agent config.toml
for m in one two three; do
	expect_status 200 "new_event $m" "$BASE/api/v1/new_event?message=$m"
done
c "$BASE/api/v1/events" >before.json
[ "$(stat -c %a events.log)" = 600 ] || fail "events.log mode $(stat -c %a events.log), want 600"
ok "events.log is mode 0600"
stop_agent
start_agent config.toml
c "$BASE/api/v1/events" >after.json
cmp -s before.json after.json || fail "events differ after restart: $(cat before.json) vs $(cat after.json)"
ok "events survive a restart (same list, same timestamps)"
expect_status 200 "new_event after restart" "$BASE/api/v1/new_event?message=four"
c "$BASE/api/v1/events?after=0" >seq.json
[ "$(json_get seq.json '[e["seq"] for e in d]')" = "[1, 2, 3, 4]" ] ||
	fail "seq does not continue across the restart: $(cat seq.json)"
ok "seq continues across the restart (1,2,3 then 4)"

# Eviction by count (log_max_entries = 5), also across a restart.
for m in five six seven; do
	expect_status 200 "new_event $m" "$BASE/api/v1/new_event?message=$m"
done
c "$BASE/api/v1/events" >ev.json
[ "$(messages ev.json)" = "three,four,five,six,seven" ] ||
	fail "eviction by count: got $(messages ev.json)"
ok "log_max_entries = 5 keeps the 5 newest"
stop_agent
start_agent config.toml
c "$BASE/api/v1/events?after=0" >ev.json
[ "$(messages ev.json)" = "three,four,five,six,seven" ] ||
	fail "after restart, eviction by count: got $(messages ev.json)"
[ "$(json_get ev.json '[e["seq"] for e in d]')" = "[3, 4, 5, 6, 7]" ] ||
	fail "after restart, seqs: $(cat ev.json)"
ok "after a restart the same 5 events remain, with their seqs"

# Lowering log_max_entries at restart trims the replayed log.
sed -i 's/log_max_entries = 5/log_max_entries = 2/' config.toml
stop_agent
start_agent config.toml
c "$BASE/api/v1/events" >ev.json
[ "$(messages ev.json)" = "six,seven" ] || fail "restart with log_max_entries = 2: $(messages ev.json)"
ok "a lower log_max_entries at restart keeps the newest 2"
stop_agent

# ------------------------------------------------------------------ eviction by bytes
rm -f events.log
cat >config.toml <<'EOF'
[general]
log_max_entries = 1000
[cloister]
events_max_bytes = 4096
event_max_bytes = 1024
EOF
start_agent config.toml
for i in 1 2 3 4 5; do
	python3 -c 'import sys; sys.stdout.write(sys.argv[1] * 1000)' "$i" >msg.txt
	expect_status 200 "1000-byte event #$i" --data-binary @msg.txt "$BASE/api/v1/new_event"
done
c "$BASE/api/v1/events" >ev.json
got=$(json_get ev.json '",".join(e["message"][0] + ":" + str(len(e["message"])) for e in d)')
[ "$got" = "2:1000,3:1000,4:1000,5:1000" ] ||
	fail "events_max_bytes = 4096 with five 1000-byte events: got $got"
ok "events_max_bytes = 4096: five 1000-byte events leave the newest four"
stop_agent
start_agent config.toml
c "$BASE/api/v1/events" >ev2.json
cmp -s ev.json ev2.json || fail "byte eviction differs after restart"
ok "byte eviction gives the same set after a restart"
stop_agent

# ------------------------------------------------------------------ cursor
rm -f events.log
cat >config.toml <<'EOF'
[general]
log_max_entries = 1000
EOF
start_agent config.toml
for i in 1 2 3 4 5; do
	[ "$(req "$BASE/api/v1/new_event?message=e$i")" = 200 ] || fail "new_event e$i"
done
expect_status 200 "events?after=0&limit=2" "$BASE/api/v1/events?after=0&limit=2"
expect_header "X-Last-Seq is 5" 'x-last-seq: 5'
[ "$(json_get "$T/body" '[(e["seq"], e["message"]) for e in d]')" = "[(1, 'e1'), (2, 'e2')]" ] ||
	fail "page 1: $(cat "$T/body")"
ok "page 1 carries seq 1,2"
expect_status 200 "events?after=2&limit=2" "$BASE/api/v1/events?after=2&limit=2"
[ "$(json_get "$T/body" '[e["seq"] for e in d]')" = "[3, 4]" ] || fail "page 2: $(cat "$T/body")"
expect_status 200 "events?after=4&limit=2" "$BASE/api/v1/events?after=4&limit=2"
[ "$(json_get "$T/body" '[e["seq"] for e in d]')" = "[5]" ] || fail "page 3: $(cat "$T/body")"
expect_status 200 "events?after=5 (end)" "$BASE/api/v1/events?after=5"
expect_body_eq '[]
' "after the last seq the page is []"
expect_header "X-Last-Seq on the empty page" 'x-last-seq: 5'
expect_status 200 "events?after=99999 (past the end)" "$BASE/api/v1/events?after=99999"
expect_body_eq '[]
' "past the end the page is []"
expect_status 200 "events?after=3&format=text" "$BASE/api/v1/events?after=3&format=text"
[ "$(sed -E 's/^[^ ]+ \t //' "$T/body" | tr '\n' ,)" = "e4,e5," ] ||
	fail "text page: $(cat -A "$T/body")"
ok "format=text pages too"
expect_status 200 "plain events list" "$BASE/api/v1/events"
[ "$(json_get "$T/body" 'all("seq" not in e for e in d)')" = True ] ||
	fail "seq appears without a cursor (system-api clients get extra fields): $(cat "$T/body")"
if grep -qi '^x-last-seq' "$T/hdr"; then fail "X-Last-Seq without a cursor"; fi
ok "without after/limit the list is system-api's (no seq, no X-Last-Seq)"

# ------------------------------------------------------------------ follow
curl -sS -N --max-time 4 "$BASE/api/v1/events?follow=1&after=5" >follow.out 2>follow.err &
fpid=$!
bg_track $fpid
curl -sS -N --max-time 4 "$BASE/api/v1/events?follow=1&after=5&format=text" >followt.out 2>/dev/null &
tpid=$!
bg_track $tpid
curl -sS -N --max-time 4 "$BASE/api/v1/events?follow=1" >followall.out 2>/dev/null &
apid=$!
bg_track $apid
sleep 0.5
expect_status 200 "new_event while followers wait" "$BASE/api/v1/new_event?message=live"
wait_for 3 "the JSON follower to see the live event" grep -q '"live"' follow.out
wait_for 3 "the text follower to see the live event" grep -q 'live' followt.out
wait $fpid || true
wait $tpid || true
wait $apid || true
python3 - follow.out <<'EOF' || fail "follow stream: $(cat follow.out)"
import json, sys
lines = [l for l in open(sys.argv[1]).read().split("\n") if l.strip()]
objs = [json.loads(l) for l in lines]
assert [o["message"] for o in objs] == ["live"], objs
assert objs[0]["seq"] == 6, objs
EOF
ok "follow=1&after=5 streams the new event as NDJSON with seq 6, and nothing older"
grep -qE "^[0-9T:-]+Z $(printf '\t') live\$" followt.out || fail "text follow: $(cat -A followt.out)"
[ "$(grep -c . followt.out)" = 1 ] || fail "text follow has extra lines: $(cat -A followt.out)"
ok "follow=1&format=text streams 'RFC3339Z \\t live'"
n=$(grep -c '"message"' followall.out || true)
[ "$n" = 6 ] || fail "follow without after: want the 5 old + 1 new, got $n: $(cat followall.out)"
ok "follow=1 without after replays the log, then the new event"
stop_agent

# ------------------------------------------------------------------ the pipe
rm -f events.log
cat >config.toml <<'EOF'
[general]
pipe_file = "pipe.fifo"
log_max_entries = 1000
[cloister]
event_max_bytes = 64
EOF
start_agent config.toml
for w in a b c; do
	timeout 10 bash -c 'for i in $(seq 1 20); do echo "writer-'$w'-$i"; done > pipe.fifo' &
	bg_track $!
done
wait_for 10 "60 pipe events from 3 writers" bash -c "[ \"\$(curl -s --max-time 2 $BASE/api/v1/events | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 60 ]"
c "$BASE/api/v1/events" >ev.json
python3 - ev.json <<'EOF' || fail "pipe events from several writers: $(head -c 600 ev.json)"
import json, sys
msgs = [e["message"] for e in json.load(open(sys.argv[1]))]
for w in "abc":
    mine = [m for m in msgs if m.startswith("writer-%s-" % w)]
    assert mine == ["writer-%s-%d" % (w, i) for i in range(1, 21)], mine
assert len(msgs) == 60
EOF
ok "3 concurrent writers: 60 whole lines, each writer's in order"

timeout 5 bash -c 'printf "no newline at the end" > pipe.fifo' || fail "pipe write"
wait_for 5 "the unterminated last line" has_event "no newline at the end"
ok "a last line without a newline is kept"

long=$(head -c 200 /dev/zero | tr '\0' L)
timeout 5 bash -c "printf '%s\nshort after long\n' '$long' > pipe.fifo" || fail "pipe write"
wait_for 5 "the line after the long one" has_event "short after long"
has_event "$(head -c 64 /dev/zero | tr '\0' L)" || fail "the long line was not cut to 64 bytes: $(cat "$T/evh.json" | tail -c 400)"
ok "a 200-byte pipe line is cut at event_max_bytes = 64, the next line is intact"

timeout 5 bash -c 'printf "crlf line\r\n\n\nbad \001 byte\n" > pipe.fifo' || fail "pipe write"
wait_for 5 "the control-character line" has_event "bad � byte"
has_event "crlf line" || fail "a CRLF line kept its \\r"
ok "CRLF is trimmed, empty lines skipped, control characters become U+FFFD"

n0=$(event_count)
sleep 0.3
t0=$(agent_cpu_ticks)
sleep 2
t1=$(agent_cpu_ticks)
[ $((t1 - t0)) -lt 10 ] || fail "the agent used $((t1 - t0)) CPU ticks in 2 s idle after a writer closed"
ok "idle after the writers closed: $((t1 - t0)) CPU ticks in 2 s (< 10)"
[ "$(event_count)" = "$n0" ] || fail "events appeared while idle"
# An idle writer that keeps the pipe open must not cost CPU either.
sleep 3 >pipe.fifo &
bg_track $!
sleep 0.3
t0=$(agent_cpu_ticks)
sleep 2
t1=$(agent_cpu_ticks)
[ $((t1 - t0)) -lt 10 ] || fail "the agent used $((t1 - t0)) CPU ticks in 2 s with an idle writer"
ok "with an idle writer attached: $((t1 - t0)) CPU ticks in 2 s (< 10)"
timeout 5 bash -c 'echo "after idle" > pipe.fifo' || fail "pipe write"
wait_for 5 "a line after the idle period" has_event "after idle"
ok "the pipe still works after idling"
stop_agent

# ------------------------------------------------------------------ shutdown mid-work
rm -f events.log
cat >config.toml <<'EOF'
[actions]
slow = ["/usr/bin/sleep", "2"]
EOF
start_agent config.toml
curl -s -N --max-time 20 "$BASE/api/v1/events?follow=1" >follow.out &
fpid=$!
bg_track $fpid
curl -s --max-time 20 -o slow.body -w '%{http_code}' -X POST "$BASE/api/v1/actions/slow" >slow.code &
apid=$!
bg_track $apid
wait_for 5 "the slow action to start" has_event "[system-api] executing action: slow = /usr/bin/sleep 2"
stop_agent
ok "SIGTERM with a follow stream open and an action running: exit 0"
wait $apid || true
[ "$(cat slow.code)" = 200 ] || fail "the running action was not finished at shutdown: $(cat slow.code)"
ok "the running action was finished and answered 200"
frc=0
wait $fpid || frc=$?
[ $frc -eq 0 ] || fail "the follow stream did not end cleanly at shutdown (curl exit $frc)"
ok "the follow stream ended cleanly"
start_agent config.toml
has_event "[system-api] executing action success: slow = /usr/bin/sleep 2" ||
	fail "the success event written during shutdown was lost: $(cat "$T/evh.json")"
ok "the event recorded during shutdown survived the restart"
stop_agent

echo "# persistence: all checks passed"
