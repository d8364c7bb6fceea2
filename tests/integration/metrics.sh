#!/bin/bash
# metrics.sh - GET /metrics of cloister-agent, black box: after real traffic (events over HTTP and
# the pipe, actions that succeed and fail, uploads, status calls whose commands succeed, fail and
# time out, an unknown path) the exposition must pass `promtool check metrics` (format and lint)
# and carry the expected series with the expected values. GPU gauges come from the recorded
# `nvidia-smi -q -x` of an 8 x V100S host replayed by fake_cmd ($FAKE_CMD); a failing nvidia-smi
# clears them (cloister_gpu_up 0), and [status] gpu = false never runs nvidia-smi at all.
set -eu
. "${SRCDIR:?}/tests/integration/lib.sh"

: "${FAKE_CMD:?FAKE_CMD must point at the fake_cmd fixture binary}"
case "$FAKE_CMD" in /*) ;; *) FAKE_CMD="$OLDPWD/$FAKE_CMD" ;; esac
[ -x "$FAKE_CMD" ] || fail "FAKE_CMD=$FAKE_CMD is not executable"
TD=${TESTDATA:-$SRCDIR/../shared/testdata}
XML=$TD/nvidia-smi/xml/v100s_pcie_x8_460.73.01_datakit.xml
if [ ! -f "$XML" ]; then
	echo "SKIP: test data not found at $TD (set TESTDATA)"
	exit 77
fi
PROMTOOL=$(command -v promtool || true)
FIX=$SRCDIR/tests/fixtures/status
US=$'\x1f'

mkfakes() {
	mkdir -p "$1" "$2"
	local n
	for n in systemctl journalctl nvidia-smi; do
		cp "$FAKE_CMD" "$1/$n"
	done
	echo "$2" >"$1/fake_cmd.dir"
}
runs() {
	[ -f "$1/argv.log" ] || {
		echo 0
		return
	}
	awk -F "$US" -v n="$2" '$1 == n { c++ } END { print c + 0 }' "$1/argv.log"
}

# scrape NAME: GET /metrics into $T/m.txt (200, Prometheus text content type), then promtool.
scrape() {
	expect_status 200 "$1: GET /metrics" "$BASE/metrics"
	expect_header "$1: text exposition format 0.0.4" 'content-type: text/plain; version=0\.0\.4.*'
	cp "$T/body" "$T/m.txt"
	if [ -n "$PROMTOOL" ]; then
		"$PROMTOOL" check metrics <"$T/m.txt" >"$T/promtool.out" 2>&1 || {
			cat "$T/promtool.out" >&2
			fail "$1: promtool check metrics rejected the exposition"
		}
		ok "$1: promtool check metrics accepts it"
	else
		echo "ok - # SKIP promtool not installed: $1 not linted"
	fi
}

# mval 'name{labels}': the value of that exact sample in $T/m.txt, or "absent".
mval() {
	awk -v k="$1" 'substr($0, 1, length(k) + 1) == k " " { v = substr($0, length(k) + 2) } END { print (v == "" ? "absent" : v) }' "$T/m.txt"
}
# mcount NAME: how many samples of metric NAME (exactly that name) $T/m.txt has.
mcount() { awk -v n="$1" '$0 !~ /^#/ { s = $1; sub(/\{.*/, "", s); if (s == n) c++ } END { print c + 0 }' "$T/m.txt"; }
# expect_val 'name{labels}' OP NUMBER: the sample exists and compares (python operator).
expect_val() {
	local v
	v=$(mval "$1")
	[ "$v" != absent ] || {
		grep -F "${1%%\{*}" "$T/m.txt" >&2 || true
		fail "no sample $1"
	}
	python3 -c 'import sys; sys.exit(0 if eval(sys.argv[1] + sys.argv[2] + sys.argv[3]) else 1)' "float('$v')" "$2" "$3" ||
		fail "$1 is $v, want $2 $3"
	ok "$1 $2 $3 (is $v)"
}

BIN=$T/bin
CTL=$T/ctl
mkfakes "$BIN" "$CTL"
mkdir -p "$T/up"
cp "$FIX/systemctl_show_running.txt" "$CTL/systemctl.out"
cp "$XML" "$CTL/nvidia-smi.qx.out"
printf 'Sep 17 19:24:16 archlinux web[1]: a line\n' >"$CTL/journalctl.out"
cat >m.toml <<EOF
[general]
pipe_file = "pipe.fifo"
[cloister]
action_timeout_ms = 5000
[status]
systemctl_path = "$BIN/systemctl"
journalctl_path = "$BIN/journalctl"
nvidia_smi_path = "$BIN/nvidia-smi"
command_timeout_ms = 500
cache_ttl_ms = 0
[actions]
hello = "echo hello"
fails = ["/usr/bin/false"]
[file_uploads]
f = "$T/up/f.bin"
nodir = "$T/missing/x.bin"
[services.web]
unit = "web.service"
[services.bad]
unit = "bad.service"
[services.slow]
unit = "slow.service"
EOF
t_start=$(date +%s)
start_agent m.toml

# A scrape before any traffic is already valid.
scrape "fresh agent"
expect_val 'cloister_build_info{version="'"$("$AGENT" --version | awk '{print $2}')"'"}' == 1
expect_val 'cloister_gpu_up' == 1

# --- traffic
for _ in 1 2 3; do c -o /dev/null "$BASE/livez"; done
c -o /dev/null "$BASE/readyz"
c -o /dev/null "$BASE/api/v1/new_event?message=one"
c -o /dev/null -X POST "$BASE/api/v1/new_event?message=two"
timeout 5 bash -c 'echo "from the pipe" > pipe.fifo' || fail "writing to pipe.fifo"
wait_for 5 "the pipe line to become an event" has_event "from the pipe"
expect_status 200 "action hello" -X POST "$BASE/api/v1/actions/hello"
expect_status 500 "action fails" -X POST "$BASE/api/v1/actions/fails"
head -c 12345 /dev/zero >"$T/payload"
expect_status 200 "upload 12345 bytes" --data-binary "@$T/payload" "$BASE/api/v1/file-upload/f"
expect_status 500 "upload into a missing directory" --data-binary "x" "$BASE/api/v1/file-upload/nodir"
expect_status 404 "an unknown path" "$BASE/secret-path-that-must-not-become-a-label"
expect_status 200 "status ok" "$BASE/services/web/status"
expect_status 200 "status ok again" "$BASE/services/web/status"
printf 'exit 3\nstderr nope\n' >"$CTL/systemctl.bad.service.mode"
expect_status 502 "status failing" "$BASE/services/bad/status"
printf 'sleep 10\n' >"$CTL/systemctl.slow.service.mode"
expect_status 504 "status timing out" "$BASE/services/slow/status"
expect_status 404 "status of an unknown id" "$BASE/services/nope/status"
expect_status 200 "logs" "$BASE/services/web/logs?lines=3"
expect_status 200 "GET /gpu" "$BASE/gpu"
expect_status 200 "GET /gpu/nvidia-smi" "$BASE/gpu/nvidia-smi"

scrape "after traffic"
# HTTP: by route pattern, method and code; never the raw path
expect_val 'cloister_http_requests_total{route="/livez",method="GET",code="200"}' == 3
expect_val 'cloister_http_requests_total{route="/readyz",method="GET",code="200"}' == 1
expect_val 'cloister_http_requests_total{route="/api/v1/new_event",method="GET",code="200"}' == 1
expect_val 'cloister_http_requests_total{route="/api/v1/new_event",method="POST",code="200"}' == 1
expect_val 'cloister_http_requests_total{route="/api/v1/actions/{name}",method="POST",code="500"}' == 1
expect_val 'cloister_http_requests_total{route="/services/{id}/status",method="GET",code="200"}' == 2
expect_val 'cloister_http_requests_total{route="/services/{id}/status",method="GET",code="502"}' == 1
expect_val 'cloister_http_requests_total{route="/services/{id}/status",method="GET",code="504"}' == 1
expect_val 'cloister_http_requests_total{route="/services/{id}/status",method="GET",code="404"}' == 1
expect_val 'cloister_http_requests_total{route="unmatched",method="GET",code="404"}' '>=' 1
expect_val 'cloister_http_requests_total{route="/metrics",method="GET",code="200"}' == 1
! grep -q 'secret-path' "$T/m.txt" || fail "a raw request path became a label"
ok "an unknown path is counted as route=\"unmatched\", never by its text"
expect_val 'cloister_http_request_duration_seconds_count{route="/livez"}' == 3
expect_val 'cloister_http_request_duration_seconds_bucket{route="/livez",le="+Inf"}' == 3
expect_val 'cloister_http_request_duration_seconds_sum{route="/livez"}' '>' 0
# events, actions, uploads
expect_val 'cloister_events_total{source="http"}' == 2
expect_val 'cloister_events_total{source="pipe"}' == 1
expect_val 'cloister_events_stored' '>=' 3
expect_val 'cloister_events_last_seq' '>=' 3
expect_val 'cloister_actions_total{name="hello",result="success"}' == 1
expect_val 'cloister_actions_total{name="fails",result="failure"}' == 1
expect_val 'cloister_uploads_total{name="f",result="success"}' == 1
expect_val 'cloister_upload_bytes_total{name="f"}' == 12345
expect_val 'cloister_http_requests_total{route="/api/v1/file-upload/{name}",method="POST",code="500"}' == 1
# status commands, by binary and result
expect_val 'cloister_commands_total{binary="systemctl",result="ok"}' == 2
expect_val 'cloister_commands_total{binary="systemctl",result="failed"}' == 1
expect_val 'cloister_commands_total{binary="systemctl",result="timeout"}' == 1
expect_val 'cloister_commands_total{binary="journalctl",result="ok"}' == 1
expect_val 'cloister_commands_total{binary="nvidia-smi",result="ok"}' '>=' 3
expect_val 'cloister_command_duration_seconds_count{binary="systemctl"}' == 4
expect_val 'cloister_command_duration_seconds_sum{binary="systemctl"}' '>=' 0.4
[ "$(runs "$CTL" systemctl)" = 4 ] || fail "systemctl ran $(runs "$CTL" systemctl) times, the metrics say 4"
ok "cloister_commands_total matches the runs fake_cmd logged"
# GPU gauges of the 8 x V100S host, checked against the XML
[ "$(mcount cloister_gpu_temperature_celsius)" = 8 ] || fail "$(mcount cloister_gpu_temperature_celsius) temperature series, want 8"
ok "cloister_gpu_temperature_celsius: 8 series for the 8-GPU host"
for m in cloister_gpu_utilization_ratio cloister_gpu_memory_used_bytes cloister_gpu_memory_total_bytes \
	cloister_gpu_power_draw_watts cloister_gpu_power_limit_watts; do
	[ "$(mcount "$m")" = 8 ] || fail "$m: $(mcount "$m") series, want 8"
	ok "$m: 8 series"
done
python3 - "$T/m.txt" "$XML" <<'EOF' || fail "GPU gauges differ from the recorded nvidia-smi XML"
import re, sys
import xml.etree.ElementTree as ET
m = open(sys.argv[1]).read()
gpus = ET.parse(sys.argv[2]).getroot().findall("gpu")
assert len(gpus) == 8
for i, g in enumerate(gpus):
    uuid = g.findtext("uuid")
    name = g.findtext("product_name")
    temp = int(g.findtext("temperature/gpu_temp").split()[0])
    total = int(g.findtext("fb_memory_usage/total").split()[0])
    lab = '{gpu="%d",uuid="%s",name="%s"}' % (i, uuid, name)
    assert "cloister_gpu_temperature_celsius%s %d\n" % (lab, temp) in m, ("temp", i, temp)
    got = re.search(re.escape("cloister_gpu_memory_total_bytes" + lab) + r" (\S+)\n", m)
    assert got and float(got.group(1)) == total * 1048576, ("mem", i, got and got.group(1))
EOF
ok "GPU temperature and memory gauges carry gpu/uuid/name labels and the XML's values"
# process metrics
expect_val 'process_resident_memory_bytes' '>' 1000000
expect_val 'process_open_fds' '>' 3
expect_val 'process_cpu_seconds_total' '>=' 0
expect_val 'process_start_time_seconds' '>=' "$((t_start - 5))"
expect_val 'process_start_time_seconds' '<=' "$(($(date +%s) + 5))"

# Counters only grow; the /metrics call itself is counted.
scrape "second scrape"
expect_val 'cloister_http_requests_total{route="/metrics",method="GET",code="200"}' == 2
expect_val 'cloister_http_requests_total{route="/livez",method="GET",code="200"}' == 3

# nvidia-smi failing: gpu_up 0 and the per-GPU gauges are gone, not stale.
printf 'exit 9\n' >"$CTL/nvidia-smi.qx.mode"
scrape "nvidia-smi failing"
expect_val 'cloister_gpu_up' == 0
[ "$(mcount cloister_gpu_temperature_celsius)" = 0 ] || fail "stale temperature series after nvidia-smi failed"
ok "nvidia-smi failing: no stale per-GPU series"
expect_val 'cloister_commands_total{binary="nvidia-smi",result="failed"}' == 1
rm -f "$CTL/nvidia-smi.qx.mode"
scrape "nvidia-smi back"
expect_val 'cloister_gpu_up' == 1
[ "$(mcount cloister_gpu_temperature_celsius)" = 8 ] || fail "temperature series did not come back"
ok "nvidia-smi back: 8 temperature series again"
stop_agent

# --- gpu = false: /metrics never runs nvidia-smi
rm -f "$CTL/argv.log"
sed -i 's/^\[status\]$/[status]\ngpu = false/' m.toml
grep -q '^gpu = false$' m.toml || fail "could not set gpu = false"
start_agent m.toml
scrape "gpu = false"
[ "$(runs "$CTL" nvidia-smi)" = 0 ] || fail "gpu = false: /metrics ran nvidia-smi"
ok "gpu = false: /metrics runs no nvidia-smi"
[ "$(mcount cloister_gpu_temperature_celsius)" = 0 ] && [ "$(mval cloister_gpu_up)" = absent ] ||
	fail "gpu = false: GPU series present"
ok "gpu = false: no GPU series"
expect_val 'process_resident_memory_bytes' '>' 0
stop_agent

echo "metrics.sh: all checks passed"
