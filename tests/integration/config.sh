#!/bin/bash
# config.sh - configuration handling, black box: `cloister-agent -n` accepts the packaging
# example and flashbots system-api's own sample configs unchanged; every mistake (unknown key,
# wrong type, out-of-range int, an action written in shell syntax, a relative upload path...)
# refuses start-up with exit 1 and "FILE:LINE:" on stderr; --listen-addr and --pipe-file
# override the file.
set -eu
. "${SRCDIR:?}/tests/integration/lib.sh"

# refused NAME LINE: config.toml (written by the caller) must be refused at line LINE.
refused() {
	local name=$1 line=$2
	run_agent_expect 1 -n --config "$T/config.toml"
	grep -qF "$T/config.toml:$line:" "$T/err" ||
		fail "$name: stderr lacks '$T/config.toml:$line:': $(cat "$T/err")"
	ok "$name: exit 1, stderr names config.toml:$line: $(sed "s|$T/||" "$T/err" | head -n 1)"
}

# ------------------------------------------------------------------ accepted as is
run_agent_expect 0 -n --config "$SRCDIR/packaging/systemapi-config.toml"
grep -q 'configuration OK' "$T/out" || fail "-n did not say the configuration is OK: $(cat "$T/out")"
ok "-n accepts packaging/systemapi-config.toml"

# flashbots system-api's systemapi-config.toml (HEAD), with the README's TLS block.
cat >sysapi.toml <<'EOF'
[general]
listen_addr = "0.0.0.0:3535"
pipe_file = "pipe.fifo"
pprof = true
log_json = false
log_debug = true

# Maximum number of entries in the log
log_max_entries = 1000

# HTTP Basic Auth
basic_auth_secret_path = "basic-auth-secret.txt" # basic auth is supported if a path is provided
basic_auth_secret_salt = "D;%yL9TS:5PalS/d"      # use a random string for the salt

# HTTP server timeouts
# http_read_timeout_ms = 2500
# http_write_timeout_ms = 2500

# TLS configuration
tls_enabled = true
tls_create_if_missing = true
tls_cert_hosts = ["localhost", ""]
tls_cert_path = "cert.pem"
tls_key_path = "key.pem"

[actions]
echo_test = "echo test"
# reboot = "reboot"
# rbuilder_restart = "/etc/init.d/rbuilder restart"
# rbuilder_stop = "/etc/init.d/rbuilder stop"

[file_uploads]
testfile = "/tmp/testfile.txt"
EOF
run_agent_expect 0 -n --config sysapi.toml
ok "-n accepts system-api's sample config (pprof, log_debug, salt, TLS block)"

# An older system-api sample: no salt, no TLS, timeouts set.
cat >sysapi-old.toml <<'EOF'
[general]
listen_addr = "0.0.0.0:3535"
pipe_file = "pipe.fifo"
pprof = true
log_json = false
log_debug = true
basic_auth_secret_path = "basic-auth-secret.txt"
http_read_timeout_ms = 2500
http_write_timeout_ms = 2500

[actions]
echo_test = "echo test"

[file_uploads]
testfile = "/tmp/testfile.txt"
EOF
run_agent_expect 0 -n --config sysapi-old.toml
ok "-n accepts an older system-api sample"

: >empty.toml
run_agent_expect 0 -n --config empty.toml
ok "-n accepts an empty config (system-api's TestEmptyConfig)"

# ------------------------------------------------------------------ refused, with file:line
cat >config.toml <<'EOF'
[general]
listen_addr = "127.0.0.1:0"
log_max_entrys = 5
EOF
refused "unknown key (typo)" 3

cat >config.toml <<'EOF'
[general]
tls_hosts = ["localhost"]
EOF
refused "unknown key tls_hosts (system-api PR #11's name)" 2

cat >config.toml <<'EOF'
[general]
log_max_entries = 5

[generall]
pipe_file = "x"
EOF
refused "unknown table" 4

cat >config.toml <<'EOF'
[general]

log_max_entries = "5"
EOF
refused "wrong type (string for an int)" 3

cat >config.toml <<'EOF'
[general]
tls_enabled = "yes"
EOF
refused "wrong type (string for a bool)" 2

cat >config.toml <<'EOF'
[general]
tls_cert_hosts = "localhost"
EOF
refused "wrong type (string for an array)" 2

cat >config.toml <<'EOF'
[general]
log_max_entries = 1000001
EOF
refused "int out of range (log_max_entries = 1000001)" 2

cat >config.toml <<'EOF'
[cloister]
action_max_concurrent = 33
EOF
refused "int out of range (action_max_concurrent = 33)" 2

cat >config.toml <<'EOF'
[cloister]
event_max_bytes = 4097
EOF
refused "int out of range (event_max_bytes = 4097)" 2

cat >config.toml <<'EOF'
[cloister]
upload_max_bytes = -1
EOF
refused "negative int (upload_max_bytes = -1)" 2

cat >config.toml <<'EOF'
[general]
log_max_entries = 99999999999999999999999
EOF
refused "int overflow" 2

cat >config.toml <<'EOF'
[general]
log_max_entries = 5
log_max_entries = 6
EOF
refused "duplicate key" 3

cat >config.toml <<'EOF'
[actions]
ok = "echo ok"
piped = "echo a | b"
EOF
refused "action in shell syntax 'echo a | b'" 3

for cmd in 'echo a; reboot' 'echo $(id)' 'echo a && b' 'echo a > /tmp/x' 'echo `id`'; do
	printf '[actions]\nbad = "%s"\n' "$cmd" >config.toml
	refused "action in shell syntax '$cmd'" 2
done

cat >config.toml <<'EOF'
[actions]
nothere = "/nonexistent/cloister-test-binary --flag"
EOF
refused "action whose executable does not exist" 2

cat >config.toml <<'EOF'
[actions]
"bad name!" = "echo x"
EOF
run_agent_expect 1 -n --config config.toml
ok "action with an invalid name is refused"

cat >config.toml <<'EOF'
[file_uploads]
rel = "relative/path.txt"
EOF
refused "relative upload path" 2

cat >config.toml <<'EOF'
[file_uploads]
dir = "/tmp/"
EOF
refused "upload path naming a directory" 2

cat >config.toml <<'EOF'
[general]
tls_enabled = true
EOF
run_agent_expect 1 -n --config config.toml
grep -q 'tls_cert_path' "$T/err" || fail "tls_enabled without paths: $(cat "$T/err")"
ok "tls_enabled without tls_cert_path/tls_key_path is refused"

cat >config.toml <<'EOF'
[cloister]
tls_client_ca_path = "/etc/ssl/certs/ca-certificates.crt"
EOF
run_agent_expect 1 -n --config config.toml
ok "tls_client_ca_path without tls_enabled is refused"

cat >config.toml <<'EOF'
[general]
listen_addr = "127.0.0.1:0
EOF
refused "unterminated string" 2

run_agent_expect 1 -n --config "$T/does-not-exist.toml"
grep -qF "$T/does-not-exist.toml" "$T/err" || fail "missing config: $(cat "$T/err")"
ok "a missing config file: exit 1, stderr names it"

# A system-api secret file must be empty or 64 hex characters.
printf '%s' "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde" >bad-secret.txt
printf '[general]\nbasic_auth_secret_path = "%s"\n' "$T/bad-secret.txt" >config.toml
run_agent_expect 1 -n --config config.toml
ok "a 63-character secret file refuses start-up"

# ------------------------------------------------------------------ command line
run_agent_expect 2 --no-such-flag
ok "an unknown flag exits 2"
run_agent_expect 2 -n --config "$SRCDIR/packaging/systemapi-config.toml" extra-arg
ok "a stray argument exits 2"
run_agent_expect 0 --version
grep -q '^cloister-agent ' "$T/out" || fail "--version: $(cat "$T/out")"
ok "--version"
run_agent_expect 0 --help
grep -q -- '--listen-addr' "$T/out" || fail "--help lacks --listen-addr"
ok "--help lists the flags"

# --listen-addr and --pipe-file override the file (system-api's were dead flags).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
p_cfg=$(free_port)
p_flag=$(free_port)
cat >config.toml <<EOF
[general]
listen_addr = "127.0.0.1:$p_cfg"
pipe_file = "cfg.fifo"
EOF
start_agent config.toml --listen-addr "127.0.0.1:$p_flag" --pipe-file flag.fifo
[ "$PORT" = "$p_flag" ] || fail "--listen-addr 127.0.0.1:$p_flag: the agent listens on $PORT"
expect_status 200 "--listen-addr overrides listen_addr: served on the flag's port" "http://127.0.0.1:$p_flag/livez"
code=$(curl -s --max-time 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p_cfg/livez" || true)
[ "$code" = 000 ] || fail "the config's port $p_cfg also answers ($code)"
ok "the config file's port is not used"
[ -p flag.fifo ] || fail "--pipe-file flag.fifo was not created"
[ ! -e cfg.fifo ] || fail "the config's pipe_file was created despite --pipe-file"
timeout 5 bash -c 'echo "via flag pipe" > flag.fifo' || fail "writing flag.fifo"
wait_for 5 "the flag pipe's line" has_event "via flag pipe"
ok "--pipe-file overrides pipe_file"
stop_agent

# A port that is taken refuses start-up (system-api kept running without a listener).
python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(1); print(s.getsockname()[1], flush=True); time.sleep(30)' >busy.port &
busy=$!
bg_track $busy
wait_for 5 "the blocker socket" test -s busy.port
run_agent_expect 1 --config config.toml --listen-addr "127.0.0.1:$(cat busy.port)"
ok "a port in use refuses start-up (exit 1)"
kill $busy 2>/dev/null || true

# -n checks and writes nothing: no secret file, no generated certificate, no event log.
mkdir -p dry && cd dry
cat >dry.toml <<'EOF2'
[general]
basic_auth_secret_path = "secret.txt"
tls_enabled = true
tls_create_if_missing = true
tls_cert_path = "cert.pem"
tls_key_path = "key.pem"
EOF2
run_agent_expect 0 -n --config dry.toml
[ "$(ls)" = "dry.toml" ] || fail "-n wrote files: $(ls | tr '\n' ' ')"
ok "-n writes nothing (no secret file, no certificate)"
cd ..

echo "# config: all checks passed"
