#!/bin/bash
# systemapi_session.sh - flashbots system-api compatibility, black box: the README's curl
# sessions (getting started, basic auth, TLS) replayed as written (only host, port and the
# upload destination differ), and system-api's own unit tests (TestGeneralHandlers,
# TestBasicAuth, TestMaxEntries) ported to HTTP.
set -eu
. "${SRCDIR:?}/tests/integration/lib.sh"

TS_RE='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
TAB=$'\t'

# ------------------------------------------------------------------ README: getting started
cat >config.toml <<EOF
[general]
listen_addr = "0.0.0.0:3535"
pipe_file = "pipe.fifo"
log_json = false
log_debug = true
log_max_entries = 1000

[actions]
echo_test = "echo test"

[file_uploads]
testfile = "$T/testfile.txt"
EOF
start_agent config.toml
[ -p pipe.fifo ] || fail "the agent did not create pipe.fifo"
ok "pipe.fifo created as a FIFO"

# README.md of 1991 bytes, the size in the README's log excerpt.
python3 -c 'import sys; sys.stdout.write(("System API README line\n" * 100)[:1990] + "\n")' >README.md
[ "$(stat -c %s README.md)" = 1991 ] || fail "README.md fixture is not 1991 bytes"

timeout 5 bash -c 'echo "hello world" > pipe.fifo' || fail "writing to pipe.fifo"
wait_for 5 "the pipe line to become an event" has_event "hello world"
ok "echo \"hello world\" > pipe.fifo"

expect_status 200 "curl localhost:PORT/api/v1/new_event?message=this+is+a+test" \
	"localhost:$PORT/api/v1/new_event?message=this+is+a+test"
expect_body_eq "" "new_event answers with an empty body"
if tr -d '\r' <"$T/hdr" | grep -qi '^content-type:'; then
	fail "new_event reply has a Content-Type (system-api sends none)"
fi
ok "new_event reply has no Content-Type"

out=$(curl -sS -v --max-time 10 "localhost:$PORT/api/v1/actions/echo_test" 2>"$T/verbose") ||
	fail "curl -v actions/echo_test failed"
grep -q '< HTTP/1.1 200' "$T/verbose" || fail "actions/echo_test: not 200: $(cat "$T/verbose")"
printf '%s' "$out" >"$T/body"
[ "$(json_get "$T/body" 'd["message"]')" = "Action executed successfully" ] ||
	fail "actions/echo_test: message: $out"
[ "$(json_get "$T/body" 'd["stdout"]')" = "test" ] || fail "actions/echo_test: stdout: $out"
ok "curl -v localhost:PORT/api/v1/actions/echo_test"

out=$(curl -sS -v --max-time 10 --data-binary "@README.md" \
	"localhost:$PORT/api/v1/file-upload/testfile" 2>"$T/verbose") || fail "curl upload failed"
grep -q '< HTTP/1.1 200' "$T/verbose" || fail "file-upload: not 200: $(cat "$T/verbose")"
printf '%s' "$out" >"$T/body"
[ "$(json_get "$T/body" 'd["message"]')" = "File uploaded successfully" ] || fail "upload: $out"
[ "$(json_get "$T/body" 'd["file"]')" = "$T/testfile.txt" ] || fail "upload file: $out"
# system-api sends size_bytes as a string.
[ "$(json_get "$T/body" 'repr(d["size_bytes"])')" = "'1991'" ] || fail "upload size_bytes: $out"
cmp -s README.md testfile.txt || fail "uploaded file differs from README.md"
ok "curl -v --data-binary @README.md localhost:PORT/api/v1/file-upload/testfile"

c "localhost:$PORT/logs" >logs.txt
[ "$(wc -l <logs.txt)" = 6 ] || fail "/logs has $(wc -l <logs.txt) lines, want 6: $(cat logs.txt)"
if grep -vqE "^$TS_RE $TAB " logs.txt; then
	fail "/logs line not in 'RFC3339Z \\t message' form: $(cat -A logs.txt)"
fi
sed -E "s/^$TS_RE $TAB //" logs.txt >logs.msgs
cat >logs.want <<EOF
hello world
this is a test
[system-api] executing action: echo_test = echo test
[system-api] executing action success: echo_test = echo test
[system-api] file upload: testfile = $T/testfile.txt
[system-api] file upload success: testfile = $T/testfile.txt - content: 1991 bytes
EOF
diff -u logs.want logs.msgs >&2 || fail "/logs differs from the README's six lines"
ok "curl localhost:PORT/logs shows the README's six lines"
expect_status 200 "/logs is text/plain" "$BASE/logs"
expect_header "/logs Content-Type is text/plain" 'content-type: text/plain'
stop_agent
ok "agent stopped cleanly (exit 0)"

# ------------------------------------------------------------------ README: HTTP Basic Auth
rm -f events.log
cat >config.toml <<'EOF'
[general]
listen_addr = "0.0.0.0:3535"
pipe_file = "pipe.fifo"
basic_auth_secret_path = "basic-auth-secret.txt"
basic_auth_secret_salt = "D;%yL9TS:5PalS/d"
EOF
start_agent config.toml
[ -f basic-auth-secret.txt ] && [ ! -s basic-auth-secret.txt ] ||
	fail "basic-auth-secret.txt was not created empty"
[ "$(stat -c %a basic-auth-secret.txt)" = 600 ] || fail "basic-auth-secret.txt mode is not 0600"
ok "missing basic-auth-secret.txt is created empty, mode 0600"

curl -sS -v --max-time 10 "localhost:$PORT/livez" >"$T/body" 2>"$T/verbose"
grep -q '< HTTP/1.1 200' "$T/verbose" || fail "unauthenticated /livez before set: not 200"
expect_body_eq '{"status":"ok"}
' "curl -v localhost:PORT/livez (no secret yet): 200 {\"status\":\"ok\"}"

out=$(c -d "foobar" "localhost:$PORT/api/v1/set-basic-auth")
[ "$out" = '{"message":"Basic auth secret updated"}' ] || fail "set-basic-auth replied: $out"
ok "curl -d foobar localhost:PORT/api/v1/set-basic-auth"

secret=$(cat basic-auth-secret.txt)
[ -n "$secret" ] || fail "basic-auth-secret.txt is still empty"
case "$secret" in *foobar*) fail "the password is stored in clear" ;; esac
# New secrets are argon2id (libsodium); system-api's hex SHA-256 files are read, never written.
case "$secret" in '$argon2id$'*) ;; *) fail "new secret is not an argon2id hash: $secret" ;; esac
[ "$(stat -c %a basic-auth-secret.txt)" = 600 ] || fail "secret file mode changed"
ok "cat basic-auth-secret.txt shows a hash (not the password), mode 0600"

curl -sS -v --max-time 10 -o "$T/body" "localhost:$PORT/livez" 2>"$T/verbose" || true
grep -q '< HTTP/1.1 401' "$T/verbose" || fail "/livez without creds: not 401"
grep -q '< WWW-Authenticate: Basic realm="system-api"' "$T/verbose" ||
	fail "401 without WWW-Authenticate: Basic realm=\"system-api\""
expect_body_eq '{"code":401,"message":"Unauthorized"}
' "curl -v localhost:PORT/livez without creds: 401, realm system-api, JSON body"

curl -sS -v --max-time 10 -u admin:foobar -o "$T/body" "localhost:$PORT/livez" 2>"$T/verbose"
grep -q '< HTTP/1.1 200' "$T/verbose" || fail "/livez with admin:foobar: not 200"
ok "curl -v -u admin:foobar localhost:PORT/livez: 200"

c -u admin:foobar "localhost:$PORT/logs" >logs.txt
grep -qE "^$TS_RE $TAB \\[system-api\\] basic auth secret updated" logs.txt ||
	fail "/logs does not show the secret update: $(cat logs.txt)"
ok "curl -u admin:foobar localhost:PORT/logs shows the update"
stop_agent

# The secret survives a restart.
start_agent config.toml
expect_status 401 "after restart: no creds is 401" "$BASE/livez"
expect_status 200 "after restart: admin:foobar is 200" -u admin:foobar "$BASE/livez"
stop_agent

# ------------------------------------------------------------------ README: TLS
rm -f events.log
cat >config.toml <<'EOF'
[general]
listen_addr = "0.0.0.0:3535"
# TLS configuration
tls_enabled = true
tls_create_if_missing = true
tls_cert_hosts = ["localhost", ""]
tls_cert_path = "cert.pem"
tls_key_path = "key.pem"
EOF
start_agent config.toml
[ -s cert.pem ] && [ -s key.pem ] || fail "cert.pem/key.pem were not generated"
[ "$(stat -c %a cert.pem)" = 600 ] || fail "cert.pem mode $(stat -c %a cert.pem), want 600"
[ "$(stat -c %a key.pem)" = 600 ] || fail "key.pem mode $(stat -c %a key.pem), want 600"
ok "tls_create_if_missing generated cert.pem and key.pem with mode 0600"
openssl x509 -in cert.pem -noout -ext subjectAltName 2>/dev/null | grep -q 'DNS:localhost' ||
	fail "generated certificate lacks DNS:localhost"
ok "generated certificate names localhost"
out=$(c --cacert cert.pem "https://localhost:$PORT/livez") || fail "curl --cacert cert.pem https://localhost failed"
[ "$out" = '{"status":"ok"}' ] || fail "https /livez replied: $out"
ok "curl --cacert cert.pem https://localhost:PORT/livez"
code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "https://localhost:$PORT/livez" || true)
[ "$code" = 000 ] || fail "an untrusted client got $code (want a TLS verification failure)"
ok "curl without --cacert refuses the self-signed certificate"
code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/livez" || true)
[ "$code" != 200 ] || fail "plain HTTP is served on a TLS port"
ok "plain HTTP on the TLS port does not get 200"
fp1=$(openssl x509 -in cert.pem -noout -fingerprint -sha256)
stop_agent
start_agent config.toml
fp2=$(openssl x509 -in cert.pem -noout -fingerprint -sha256)
[ "$fp1" = "$fp2" ] || fail "a valid certificate was replaced at restart"
c --cacert cert.pem "https://localhost:$PORT/livez" >/dev/null || fail "https after restart"
ok "restart reuses the existing certificate"
stop_agent

# ------------------------------------------------------------------ TestGeneralHandlers
rm -f events.log
cat >config.toml <<'EOF'
[general]
log_max_entries = 1000
EOF
start_agent config.toml
expect_status 200 "TestGeneralHandlers: /livez 200" "$BASE/livez"
expect_status 200 "TestGeneralHandlers: /api/v1/events 200" "$BASE/api/v1/events"
expect_body_eq '[]
' "TestGeneralHandlers: /api/v1/events is exactly \"[]\\n\" at first"
expect_header "events Content-Type is application/json" 'content-type: application/json'
expect_status 200 "TestGeneralHandlers: new_event?message=foo 200" "$BASE/api/v1/new_event?message=foo"
c "$BASE/api/v1/events" >"$T/body"
[ "$(json_get "$T/body" 'len(d)')" = 1 ] || fail "events: want 1 event: $(cat "$T/body")"
[ "$(json_get "$T/body" 'd[0]["message"]')" = foo ] || fail "events: want foo: $(cat "$T/body")"
json_get "$T/body" 'd[0]["received_at"]' |
	grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$' ||
	fail "received_at is not RFC3339 UTC: $(cat "$T/body")"
[ "$(json_get "$T/body" 'sorted(d[0].keys())')" = "['message', 'received_at']" ] ||
	fail "event object keys differ from system-api's: $(cat "$T/body")"
ok "TestGeneralHandlers: /api/v1/events holds exactly {received_at, message=foo}"
c "$BASE/logs" >"$T/body"
[ "$(tail -c 4 "$T/body")" = "foo" ] && [ "$(tail -c 1 "$T/body" | od -An -c | tr -d ' ')" = '\n' ] ||
	fail "/logs does not end with foo\\n: $(cat -A "$T/body")"
ok "TestGeneralHandlers: /logs contains \"foo\\n\""
c "$BASE/api/v1/events?format=text" >"$T/body2"
cmp -s "$T/body" "$T/body2" || fail "events?format=text differs from /logs"
ok "/api/v1/events?format=text equals /logs"
stop_agent

# ------------------------------------------------------------------ TestBasicAuth (legacy file)
rm -f events.log
cat >config.toml <<'EOF'
[general]
basic_auth_secret_path = "secret.txt"
basic_auth_secret_salt = "salt"
EOF
start_agent config.toml
[ -f secret.txt ] && [ ! -s secret.txt ] || fail "TestBasicAuth: secret file not created empty"
ok "TestBasicAuth: the secret file is created at start-up"
expect_status 200 "TestBasicAuth: /livez without creds 200 (no secret)" "$BASE/livez"
expect_status 200 "TestBasicAuth: /livez with wrong creds 200 (no secret)" -u admin:foo "$BASE/livez"
expect_status 200 "TestBasicAuth: set-basic-auth without creds 200" --data-binary secret \
	"$BASE/api/v1/set-basic-auth"
expect_status 401 "TestBasicAuth: no creds 401" "$BASE/livez"
expect_status 200 "TestBasicAuth: admin:secret 200" -u admin:secret "$BASE/livez"
expect_status 401 "TestBasicAuth: admin1:secret 401" -u admin1:secret "$BASE/livez"
expect_status 401 "TestBasicAuth: admin:foo 401" -u admin:foo "$BASE/livez"
expect_status 200 "TestBasicAuth: changing the secret needs the current one" -u admin:secret \
	--data-binary secret2 "$BASE/api/v1/set-basic-auth"
expect_status 401 "TestBasicAuth: set-basic-auth without creds once set is 401" \
	--data-binary evil "$BASE/api/v1/set-basic-auth"
expect_status 200 "TestBasicAuth: the new secret works" -u admin:secret2 "$BASE/livez"
expect_status 401 "TestBasicAuth: the old secret no longer works" -u admin:secret "$BASE/livez"
stop_agent

# A system-api secret file: 64 hex chars of SHA-256(password || salt), written before start.
printf '%s' "secretsalt" | sha256sum | cut -d' ' -f1 | tr -d '\n' >secret.txt
[ "$(stat -c %s secret.txt)" = 64 ] || fail "legacy fixture is not 64 bytes"
start_agent config.toml
expect_status 401 "legacy hex file: no creds 401" "$BASE/livez"
expect_status 200 "legacy hex file: admin:secret 200" -u admin:secret "$BASE/livez"
expect_status 401 "legacy hex file: admin1:secret 401" -u admin1:secret "$BASE/livez"
expect_status 401 "legacy hex file: admin:foo 401" -u admin:foo "$BASE/livez"
expect_status 401 "legacy hex file: unknown path is 401 before 404" "$BASE/no/such/path"
stop_agent

# ------------------------------------------------------------------ TestMaxEntries
rm -f events.log
cat >config.toml <<'EOF'
[general]
log_max_entries = 5
EOF
start_agent config.toml
for i in 1 2 3 4 5 6; do
	[ "$(req "$BASE/api/v1/new_event?message=$i")" = 200 ] || fail "new_event $i"
done
c "$BASE/api/v1/events" >"$T/body"
got=$(json_get "$T/body" '",".join(e["message"] for e in d)')
# system-api appends then drops the oldest (events[1:]) while over the cap.
[ "$got" = "2,3,4,5,6" ] || fail "TestMaxEntries: want 2,3,4,5,6 (oldest dropped), got $got"
ok "TestMaxEntries: log_max_entries=5, six events leave 2..6 (system-api drops the oldest)"
stop_agent

echo "# systemapi_session: all checks passed"
