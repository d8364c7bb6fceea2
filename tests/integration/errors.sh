#!/bin/bash
# errors.sh - every error status cloister-agent documents, provoked black box, each checked to
# change nothing (no event, no file, no secret) and to carry system-api's JSON error shape.
set -eu
. "${SRCDIR:?}/tests/integration/lib.sh"

mkdir -p "$T/up"

ev_save() { events_snapshot "$T/ev.before"; }
ev_same() {
	events_snapshot "$T/ev.after"
	cmp -s "$T/ev.before" "$T/ev.after" || fail "$1: the event log changed: $(cat "$T/ev.after")"
	ok "$1: no event recorded"
}
# expect_json_error CODE: the last body is {"code":CODE,"message":"..."} (plus optional fields).
expect_json_error() {
	[ "$(json_get "$T/body" 'd["code"]')" = "$1" ] || fail "error body lacks code $1: $(cat "$T/body")"
	[ -n "$(json_get "$T/body" 'd["message"]')" ] || fail "error body lacks a message: $(cat "$T/body")"
}

cat >config.toml <<EOF
[general]
log_max_entries = 100
[cloister]
actions_allow_get = false
new_event_allow_get = false
[actions]
echo_test = "echo test"
fails = ["/usr/bin/false"]
[file_uploads]
dest = "$T/up/dest.bin"
nodir = "$T/missing-dir/dest.bin"
EOF
start_agent config.toml
ev_save

# Unknown upload name: 400, and nothing written anywhere.
expect_status 400 "upload to an unknown name: 400" --data-binary "hello" "$BASE/api/v1/file-upload/nope"
expect_json_error 400
[ "$(json_get "$T/body" 'd["message"]')" = "Specified file upload not configured" ] ||
	fail "unknown upload message: $(cat "$T/body")"
[ -z "$(ls -A "$T/up")" ] || fail "the unknown upload wrote $(ls -A "$T/up")"
ok "unknown upload: system-api's message, no file written"
code=$(req --data-binary "x" "$BASE/api/v1/file-upload/..%2F..%2Fup%2Fdest.bin")
case "$code" in 400 | 404) ;; *) fail "upload to an encoded traversal name got $code" ;; esac
[ -z "$(ls -A "$T/up")" ] || fail "the traversal upload wrote $(ls -A "$T/up")"
ok "upload to an encoded traversal name: $code, nothing written"
expect_status 500 "upload whose directory is missing: 500" --data-binary "hello" "$BASE/api/v1/file-upload/nodir"
expect_json_error 500
[ ! -e "$T/missing-dir" ] || fail "the failed upload created its directory"
ev_same "failed uploads"

# Unknown action: 400.
expect_status 400 "unknown action: 400" -X POST "$BASE/api/v1/actions/nope"
expect_json_error 400
[ "$(json_get "$T/body" 'd["message"]')" = "Specified action not configured" ] ||
	fail "unknown action message: $(cat "$T/body")"
ev_same "unknown action"

# A failing action: 500, recorded as a failure.
expect_status 500 "action that exits 1: 500" -X POST "$BASE/api/v1/actions/fails"
expect_json_error 500
[ "$(json_get "$T/body" 'd["exit_code"]')" = 1 ] || fail "exit_code: $(cat "$T/body")"
has_event "[system-api] error executing action: fails - error: exit status 1 (stderr: )" ||
	fail "no failure event: $(cat "$T/evh.json")"
ok "a failing action is recorded with system-api's wording"

# GET disabled: 405 with Allow: POST, nothing run, POST works.
ev_save
expect_status 405 "GET action with actions_allow_get = false: 405" "$BASE/api/v1/actions/echo_test"
expect_header "405 carries Allow: POST" 'allow: POST'
expect_json_error 405
ev_same "GET action refused"
expect_status 200 "POST action with actions_allow_get = false: 200" -X POST "$BASE/api/v1/actions/echo_test"
ev_save
expect_status 405 "GET new_event with new_event_allow_get = false: 405" "$BASE/api/v1/new_event?message=x"
ev_same "GET new_event refused"
expect_status 200 "POST new_event with new_event_allow_get = false: 200" -X POST \
	"$BASE/api/v1/new_event?message=posted"
has_event posted || fail "the POSTed event is missing"
expect_status 200 "POST new_event with the message as the body: 200" --data-binary "from body" \
	"$BASE/api/v1/new_event"
has_event "from body" || fail "the body event is missing"
ok "POST new_event records the body"

# Events cursor errors.
for q in "after=abc" "after=-1" "after=1.5" "after=" "limit=abc" "limit=-3" "follow=maybe"; do
	expect_status 400 "events?$q: 400" "$BASE/api/v1/events?$q"
	expect_json_error 400
done

# Unknown path: chi's text 404. Wrong method: 405.
expect_status 404 "unknown path: 404" "$BASE/api/v1/nope"
expect_body_eq "404 page not found
" "unknown path body is chi's '404 page not found'"
expect_status 404 "unknown path under actions: 404" "$BASE/api/v1/actions/a/b"
expect_status 405 "DELETE /livez: 405" -X DELETE "$BASE/livez"
expect_status 405 "PUT /api/v1/events: 405" -X PUT "$BASE/api/v1/events"
expect_status 405 "GET /api/v1/file-upload/dest: 405" "$BASE/api/v1/file-upload/dest"
expect_status 405 "GET /api/v1/set-basic-auth: 405" "$BASE/api/v1/set-basic-auth"
expect_status 405 "POST /logs: 405" -X POST "$BASE/logs"
expect_status 405 "unknown method BREW /livez: 405" -X BREW "$BASE/livez"
[ ! -e "$T/up/dest.bin" ] || fail "a refused request wrote the upload destination"
ok "refused requests wrote nothing"

# No basic_auth_secret_path: set-basic-auth is 501.
ev_save
expect_status 501 "set-basic-auth without basic_auth_secret_path: 501" --data-binary pw \
	"$BASE/api/v1/set-basic-auth"
ev_same "set-basic-auth 501"
expect_status 200 "auth stays off after the 501" "$BASE/livez"
stop_agent

# ------------------------------------------------------------------ set-basic-auth errors
cat >config.toml <<'EOF'
[general]
basic_auth_secret_path = "secret.txt"
[cloister]
auth_allow_first_secret_over_network = false
EOF
start_agent config.toml
ev_save
expect_status 403 "first secret over the network disabled: 403" --data-binary pw \
	"$BASE/api/v1/set-basic-auth"
expect_json_error 403
[ -f secret.txt ] && [ ! -s secret.txt ] || fail "the secret file is not empty after the 403"
ok "the secret file is still empty after the 403"
ev_same "set-basic-auth 403"
expect_status 200 "auth stays off after the 403" "$BASE/livez"
stop_agent

cat >config.toml <<'EOF'
[general]
basic_auth_secret_path = "secret.txt"
EOF
start_agent config.toml
ev_save
expect_status 400 "set-basic-auth with an empty password: 400" -X POST "$BASE/api/v1/set-basic-auth"
[ ! -s secret.txt ] || fail "the empty password was stored"
head -c 1025 /dev/zero | tr '\0' p >pw.long
expect_status 413 "set-basic-auth with a 1025-byte password: 413" --data-binary @pw.long \
	"$BASE/api/v1/set-basic-auth"
[ ! -s secret.txt ] || fail "the long password was stored"
ev_same "refused passwords"
head -c 1024 /dev/zero | tr '\0' p >pw.max
expect_status 200 "set-basic-auth with a 1024-byte password: 200" --data-binary @pw.max \
	"$BASE/api/v1/set-basic-auth"
[ -s secret.txt ] || fail "the 1024-byte password was not stored"
expect_status 200 "the 1024-byte password authenticates" -u "admin:$(cat pw.max)" "$BASE/livez"
stop_agent

# ------------------------------------------------------------------ failed-login backoff
rm -f secret.txt events.log
cat >config.toml <<'EOF'
[general]
basic_auth_secret_path = "secret.txt"
EOF
start_agent config.toml
expect_status 200 "set the secret" --data-binary right "$BASE/api/v1/set-basic-auth"
for i in 1 2 3 4 5; do
	expect_status 401 "wrong password #$i: 401" -u admin:wrong "$BASE/livez"
done
expect_status 429 "after 5 failures, even the right password waits: 429" -u admin:right "$BASE/livez"
expect_header "429 carries Retry-After" 'retry-after: [0-9]+'
ra=$(tr -d '\r' <"$T/hdr" | sed -n 's/^[Rr]etry-[Aa]fter: *//p')
[ "$ra" -ge 1 ] && [ "$ra" -le 60 ] || fail "Retry-After $ra is not within 1..60"
expect_json_error 429
sleep "$ra"
sleep 0.2
expect_status 200 "after Retry-After, the right password works: 200" -u admin:right "$BASE/livez"
expect_status 401 "the counter was reset by the success: one wrong password is a 401" \
	-u admin:wrong "$BASE/livez"
stop_agent

echo "# errors: all checks passed"
