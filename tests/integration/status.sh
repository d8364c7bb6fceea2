#!/bin/bash
# status.sh - the sek8s System Status API of cloister-agent (/health, /services, /services/{id}/
# status and logs, /gpu/nvidia-smi, /gpu, /overview), black box, against:
#   - recorded real `systemctl show` and `nvidia-smi` outputs (../shared/testdata) replayed by the
#     fake_cmd fixture ($FAKE_CMD), which also logs every argv so the command lines can be checked;
#   - the REAL /usr/bin/journalctl reading copies of the real journal files in
#     testdata/systemd/journal_file/ (journal_directory), for the log contents.
# Every status code the API documents is provoked: 404 unknown id, 422 bad query, 502 command
# failed, 503 binary missing, 504 timeout (the child's whole process group must be gone), 400 bad
# gpu. Raw stderr of a failed command must never reach the body. Caching (cache_ttl_ms) is checked
# by counting runs in fake_cmd's argv.log. Config errors of [status] / [services.*] end the file.
set -eu
. "${SRCDIR:?}/tests/integration/lib.sh"

: "${FAKE_CMD:?FAKE_CMD must point at the fake_cmd fixture binary}"
case "$FAKE_CMD" in /*) ;; *) FAKE_CMD="$OLDPWD/$FAKE_CMD" ;; esac
[ -x "$FAKE_CMD" ] || fail "FAKE_CMD=$FAKE_CMD is not executable"
TD=${TESTDATA:-$SRCDIR/../shared/testdata}
if [ ! -d "$TD/systemd" ] || [ ! -d "$TD/nvidia-smi" ]; then
	echo "SKIP: test data not found at $TD (set TESTDATA)"
	exit 77
fi
JOURNALCTL=/usr/bin/journalctl
FIX=$SRCDIR/tests/fixtures/status
US=$'\x1f'

# ---------------------------------------------------------------- helpers

# mkfakes BIN CTL: BIN/{systemctl,journalctl,nvidia-smi} are copies of fake_cmd controlled by CTL.
mkfakes() {
	mkdir -p "$1" "$2"
	local n
	for n in systemctl journalctl nvidia-smi; do
		cp "$FAKE_CMD" "$1/$n"
	done
	echo "$2" >"$1/fake_cmd.dir"
}

# runs CTL NAME: how many times NAME ran (argv.log lines whose argv[0] is NAME).
runs() {
	[ -f "$1/argv.log" ] || {
		echo 0
		return
	}
	awk -F "$US" -v n="$2" '$1 == n { c++ } END { print c + 0 }' "$1/argv.log"
}

# last_argv CTL NAME: the last argv of NAME, one element per line.
last_argv() { awk -F "$US" -v n="$2" '$1 == n { l = $0 } END { print l }' "$1/argv.log" | tr "$US" '\n'; }

# jt EXPR MSG: the Python expression EXPR over the last body `d` is true, else fail with MSG.
jt() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
		"$T/body" "$1" 2>"$T/jt.err" || {
		echo "--- body ---" >&2
		head -c 3000 "$T/body" >&2
		echo >&2
		cat "$T/jt.err" >&2
		fail "$2 ($1)"
	}
	ok "$2"
}

# body_lacks TEXT NAME: TEXT does not appear anywhere in the last body.
body_lacks() {
	if grep -qF -- "$1" "$T/body"; then
		cat "$T/body" >&2
		fail "$2: the body contains '$1'"
	fi
	ok "$2"
}

# dead PID: the process is gone (or a zombie waiting for a reaper: it no longer runs).
dead() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || true
	[ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]
}

# expect_group_killed CTL NAME: the fake's NAME.pid and NAME.child.pid processes are both gone.
expect_group_killed() {
	local p c
	[ -s "$1/$2.pid" ] || fail "$2 never started (no $2.pid)"
	wait_for 5 "$2.child.pid to be written" test -s "$1/$2.child.pid"
	p=$(cat "$1/$2.pid")
	c=$(cat "$1/$2.child.pid")
	wait_for 5 "$2 (pid $p) to be killed" dead "$p"
	wait_for 5 "$2's child (pid $c, same process group) to be killed" dead "$c"
	rm -f "$1/$2.pid" "$1/$2.child.pid"
	ok "$2 timed out: the process and its child (one process group) are both gone"
}

ms_now() { date +%s%3N; }

# ---------------------------------------------------------------- agent A: fakes, no cache

BIN=$T/bin
CTL=$T/ctl
mkfakes "$BIN" "$CTL"
cp "$FIX/systemctl_show_running.txt" "$CTL/systemctl.out"
cp "$TD/nvidia-smi/plain/h100x8_550.90.07_gpud.txt" "$CTL/nvidia-smi.default.out"
cp "$TD/nvidia-smi/query/h200_x1_550.90.12_gls.txt" "$CTL/nvidia-smi.q.out"
cp "$TD/nvidia-smi/xml/v100s_pcie_x8_460.73.01_datakit.xml" "$CTL/nvidia-smi.qx.out"
printf 'Sep 17 19:24:16 archlinux web[1]: fake line\n' >"$CTL/journalctl.out"

cat >a.toml <<EOF
[status]
systemctl_path = "$BIN/systemctl"
journalctl_path = "$BIN/journalctl"
nvidia_smi_path = "$BIN/nvidia-smi"
cache_ttl_ms = 0
command_timeout_ms = 1500
log_lines_max = 100
[services.web]
unit = "web.service"
description = "The web front end"
[services.db]
unit = "mariadb.service"
[services.jt]
unit = "journald-test.service"
log_identifier = "journald-test-1"
EOF
start_agent a.toml

expect_status 200 "GET /health" "$BASE/health"
jt 'd == {"status":"ok"}' "/health is sek8s's {\"status\":\"ok\"}"
expect_status 200 "GET /services" "$BASE/services"
jt '[s["id"] for s in d["services"]] == ["web","db","jt"]' "/services lists the configured ids in order"
jt 'd["services"][0] == {"id":"web","unit":"web.service","description":"The web front end"}' \
	"/services entries carry id, unit and description"

# --- 404: unknown id, nothing run
n0=$(runs "$CTL" systemctl)
expect_status 404 "status of an unknown service: 404" "$BASE/services/nope/status"
jt 'd == {"detail":"service not allowed"}' "404 body is sek8s's detail"
expect_status 404 "logs of an unknown service: 404" "$BASE/services/nope/logs"
expect_status 404 "a unit name instead of an id: 404" "$BASE/services/web.service/status"
[ "$(runs "$CTL" systemctl)" = "$n0" ] && [ "$(runs "$CTL" journalctl)" = 0 ] ||
	fail "a 404 ran a command"
ok "a 404 runs no command"

# --- 200: healthy unit, exact argv
expect_status 200 "status of a running unit" "$BASE/services/web/status"
jt 'd["healthy"] is True and d["error"] is None' "running unit: healthy, no error"
jt 'd["status"] == {"load_state":"loaded","active_state":"active","sub_state":"running","unit_file_state":"enabled","main_pid":"1234","exit_code":"0","exit_status":"0"}' \
	"running unit: sek8s status fields"
jt 'd["service"] == {"id":"web","unit":"web.service","description":"The web front end"}' "status names the service"
want="systemctl show web.service --no-pager --property=Id --property=LoadState --property=ActiveState --property=SubState --property=MainPID --property=ExecMainStatus --property=ExecMainCode --property=UnitFileState"
[ "$(last_argv "$CTL" systemctl | tr '\n' ' ' | sed 's/ $//')" = "$want" ] ||
	fail "systemctl argv: $(last_argv "$CTL" systemctl | tr '\n' ' ')"
ok "systemctl runs as 'systemctl show UNIT --no-pager --property=...'"

# --- recorded real systemctl outputs (RHEL 7)
cp "$TD/systemd/systemctl_show/rhel7_mariadb_service.txt" "$CTL/systemctl.mariadb.service.out"
expect_status 200 "recorded rhel7 mariadb output: 200" "$BASE/services/db/status"
jt 'd["status"]["load_state"] == "loaded" and d["status"]["unit_file_state"] == "enabled" and d["status"]["active_state"] is None' \
	"mariadb: LoadState/UnitFileState read, absent ActiveState is null"
jt 'd["healthy"] is False' "mariadb without ActiveState is not healthy"
cp "$TD/systemd/systemctl_show/rhel_limited_props_info.txt" "$CTL/systemctl.mariadb.service.out"
expect_status 200 "recorded multi-unit --property output: 200" "$BASE/services/db/status"
jt 'd["status"]["unit_file_state"] == "static" and d["status"]["sub_state"] == "dead"' \
	"multi-unit output: the first unit is reported"
cp "$TD/systemd/systemctl_show_edge/rhel7_multi_services_truncated_lines.txt" "$CTL/systemctl.mariadb.service.out"
expect_status 200 "recorded output with cut lines: 200" "$BASE/services/db/status"
cp "$FIX/systemctl_show_failed.txt" "$CTL/systemctl.mariadb.service.out"
expect_status 200 "failed unit: 200" "$BASE/services/db/status"
jt 'd["healthy"] is False and d["status"]["active_state"] == "failed"' "failed unit: unhealthy"
: >"$CTL/systemctl.mariadb.service.out"
expect_status 502 "systemctl printing nothing: 502" "$BASE/services/db/status"
jt 'd["detail"]["error"] == "parse_failed"' "empty systemctl output: parse_failed"
rm -f "$CTL/systemctl.mariadb.service.out"

# --- 502: systemctl fails; its stderr is never returned
printf 'exit 4\nstderr SECRET-SYSTEMCTL-STDERR Unit web.service could not be found.\n' >"$CTL/systemctl.web.service.mode"
expect_status 502 "systemctl exiting 4: 502" "$BASE/services/web/status"
jt 'd["detail"] == {"error":"command_failed","command":"systemctl","exit_code":4}' "502 detail: command_failed, exit code"
body_lacks SECRET-SYSTEMCTL-STDERR "systemctl's stderr is not in the 502 body"

# --- 504: systemctl hangs; the whole process group is killed
printf 'sleep 20\nstderr SECRET-SLOW-STDERR\n' >"$CTL/systemctl.web.service.mode"
t0=$(ms_now)
expect_status 504 "systemctl hanging past command_timeout_ms: 504" "$BASE/services/web/status"
el=$(($(ms_now) - t0))
jt 'd["detail"] == {"error":"timeout","command":"systemctl"}' "504 detail: timeout"
body_lacks SECRET-SLOW-STDERR "a timed-out command's stderr is not returned"
[ "$el" -ge 1400 ] && [ "$el" -lt 6000 ] || fail "the 504 took ${el} ms, want about 1500"
ok "the 504 came after command_timeout_ms (${el} ms)"
expect_group_killed "$CTL" systemctl
rm -f "$CTL/systemctl.web.service.mode"
expect_status 200 "after a timeout the next call runs again (not cached)" "$BASE/services/web/status"

# --- logs: 422 on bad queries, nothing run
nj=$(runs "$CTL" journalctl)
for q in "lines=0" "lines=-1" "lines=abc" "lines=" "lines=1.5" "since_minutes=0" "since_minutes=1441" \
	"since_minutes=-5" "since_minutes=x" "lines=99999999999999999999"; do
	expect_status 422 "logs?$q: 422" "$BASE/services/web/logs?$q"
	jt 'd["detail"][0]["loc"][0] == "query" and d["detail"][0]["loc"][1] in ("lines","since_minutes") and d["detail"][0]["msg"]' \
		"logs?$q: FastAPI's 422 shape"
done
[ "$(runs "$CTL" journalctl)" = "$nj" ] || fail "a 422 ran journalctl"
ok "a 422 runs no command"

# --- logs: argv (fake journalctl), lines clamped to log_lines_max = 100
expect_status 200 "logs?lines=1 (lower bound)" "$BASE/services/web/logs?lines=1"
jt 'd["service"] == {"id":"web","unit":"web.service"} and d["requested_lines"] == 1' "logs name the service and echo lines"
jt 'd["logs"] == ["Sep 17 19:24:16 archlinux web[1]: fake line"] and d["returned_lines"] == 1 and d["stdout_truncated"] is False' \
	"logs carry journalctl's lines"
[ "$(last_argv "$CTL" journalctl | tr '\n' ' ' | sed 's/ $//')" = "journalctl --unit=web.service --no-pager --output=short -q --lines=1" ] ||
	fail "journalctl argv: $(last_argv "$CTL" journalctl | tr '\n' ' ')"
ok "journalctl runs as 'journalctl --unit=UNIT --no-pager --output=short -q --lines=N', no --since, no --directory"
expect_status 200 "logs?lines=100 (= log_lines_max)" "$BASE/services/web/logs?lines=100"
last_argv "$CTL" journalctl | grep -qx -- '--lines=100' || fail "lines=100 not passed as --lines=100"
jt 'd["requested_lines"] == 100' "lines=100 echoed"
expect_status 200 "logs?lines=101 (one past log_lines_max)" "$BASE/services/web/logs?lines=101"
last_argv "$CTL" journalctl | grep -qx -- '--lines=100' || fail "lines=101 not clamped: $(last_argv "$CTL" journalctl)"
jt 'd["requested_lines"] == 101' "lines=101: requested_lines echoes 101"
ok "lines=101 is clamped to --lines=100"
expect_status 200 "logs without lines" "$BASE/services/web/logs"
last_argv "$CTL" journalctl | grep -qx -- '--lines=100' || fail "default lines (200) not clamped to 100"
jt 'd["requested_lines"] == 200' "default lines is sek8s's 200"
expect_status 200 "logs?lines=1000000" "$BASE/services/web/logs?lines=1000000"
last_argv "$CTL" journalctl | grep -qx -- '--lines=100' || fail "lines=1000000 not clamped"
ok "huge lines clamped to --lines=100"
expect_status 200 "logs of a service with log_identifier" "$BASE/services/jt/logs?lines=5"
last_argv "$CTL" journalctl | grep -qx -- '--identifier=journald-test-1' || fail "no --identifier: $(last_argv "$CTL" journalctl)"
last_argv "$CTL" journalctl | grep -q -- '^--unit' && fail "--unit passed with log_identifier"
ok "log_identifier gives --identifier=ID instead of --unit"

# --since=@<epoch>, rounded down to the minute
for m in 1 5 1440; do
	before=$(date +%s)
	expect_status 200 "logs?since_minutes=$m" "$BASE/services/web/logs?since_minutes=$m"
	after=$(date +%s)
	s=$(last_argv "$CTL" journalctl | sed -n 's/^--since=@\([0-9]*\)$/\1/p')
	[ -n "$s" ] || fail "no --since=@EPOCH in $(last_argv "$CTL" journalctl | tr '\n' ' ')"
	lo=$(((before - m * 60) / 60 * 60))
	hi=$(((after - m * 60) / 60 * 60))
	[ "$s" -ge "$lo" ] && [ "$s" -le "$hi" ] && [ $((s % 60)) = 0 ] ||
		fail "since_minutes=$m gave --since=@$s, want in [$lo,$hi], a whole minute"
	ok "since_minutes=$m gives --since=@$s (now - ${m} min, whole minute)"
done

# journalctl failing / hanging
printf 'exit 1\nstderr SECRET-JOURNAL-STDERR Failed to open /var/log/journal: Permission denied\n' >"$CTL/journalctl.web.service.mode"
expect_status 502 "journalctl exiting 1: 502" "$BASE/services/web/logs"
jt 'd["detail"] == {"error":"command_failed","command":"journalctl","exit_code":1}' "journalctl 502 detail"
body_lacks SECRET-JOURNAL-STDERR "journalctl's stderr is not in the 502 body"
body_lacks "Permission denied" "no stderr fragment in the 502 body"
printf 'sleep 20\n' >"$CTL/journalctl.web.service.mode"
expect_status 504 "journalctl hanging: 504" "$BASE/services/web/logs"
jt 'd["detail"] == {"error":"timeout","command":"journalctl"}' "journalctl 504 detail"
expect_group_killed "$CTL" journalctl
rm -f "$CTL/journalctl.web.service.mode"

# --- GPU: every recorded nvidia-smi -q -x gives 200 with the right GPU count
for f in "$TD"/nvidia-smi/xml/*.xml; do
	b=$(basename "$f")
	cp "$f" "$CTL/nvidia-smi.qx.out"
	ngpu=$(grep -c '<gpu id=' "$f")
	name=$(sed -n 's/.*<product_name>\(.*\)<\/product_name>.*/\1/p' "$f" | head -n 1)
	drv=$(sed -n 's/.*<driver_version>\(.*\)<\/driver_version>.*/\1/p' "$f" | head -n 1)
	expect_status 200 "GET /gpu with $b" "$BASE/gpu"
	jt "len(d['gpus']) == $ngpu and [g['index'] for g in d['gpus']] == list(range($ngpu))" "$b: $ngpu GPU(s), indexed 0.."
	pdrv=None
	[ -z "$drv" ] || pdrv="'$drv'"
	jt "d['gpus'][0]['name'] == '$name' and d['driver_version'] == $pdrv" "$b: name '$name', driver ${drv:-absent (null)}"
	jt "len(set(g['uuid'] for g in d['gpus'])) == $ngpu" "$b: one distinct uuid per GPU"
done
[ "$(last_argv "$CTL" nvidia-smi | tr '\n' ' ' | sed 's/ $//')" = "nvidia-smi -q -x" ] || fail "GET /gpu argv: $(last_argv "$CTL" nvidia-smi)"
ok "GET /gpu runs 'nvidia-smi -q -x'"
cp "$TD/nvidia-smi/xml/v100s_pcie_x8_460.73.01_datakit.xml" "$CTL/nvidia-smi.qx.out"
expect_status 200 "GET /gpu v100s x8" "$BASE/gpu"
jt 'd["attached_gpus"] == 8 and d["gpus"][7]["pci_bus_id"] and d["gpus"][0]["memory"]["total_mib"] > 30000' \
	"v100s x8: attached_gpus 8, bus ids, 32 GB memory"
head -c 3000 "$TD/nvidia-smi/xml/v100s_pcie_x8_460.73.01_datakit.xml" >"$CTL/nvidia-smi.qx.out"
expect_status 502 "GET /gpu with cut XML: 502" "$BASE/gpu"
jt 'd["detail"]["error"] == "parse_failed" and d["detail"]["command"] == "nvidia-smi"' "cut XML: parse_failed"
cp "$TD/nvidia-smi/query/a10_535.129.03_gpud.txt" "$CTL/nvidia-smi.qx.out"
expect_status 502 "GET /gpu with text instead of XML: 502" "$BASE/gpu"
cp "$TD/nvidia-smi/xml/v100s_pcie_x8_460.73.01_datakit.xml" "$CTL/nvidia-smi.qx.out"
printf 'exit 9\nstderr SECRET-NVSMI-STDERR NVIDIA-SMI has failed\n' >"$CTL/nvidia-smi.qx.mode"
expect_status 502 "GET /gpu when nvidia-smi -q -x exits 9: 502" "$BASE/gpu"
body_lacks SECRET-NVSMI-STDERR "nvidia-smi's stderr is not in GET /gpu's 502"
rm -f "$CTL/nvidia-smi.qx.mode"

# --- GET /gpu/nvidia-smi: sek8s's object
expect_status 200 "GET /gpu/nvidia-smi" "$BASE/gpu/nvidia-smi"
python3 - "$T/body" "$TD/nvidia-smi/plain/h100x8_550.90.07_gpud.txt" <<'EOF' || fail "nvidia-smi object differs from the recorded output"
import json, sys
d = json.load(open(sys.argv[1]))
raw = open(sys.argv[2], encoding="utf-8").read()
lines = raw.split("\n")
if lines and lines[-1] == "":
    lines.pop()
assert d["command"] == ["nvidia-smi"], d["command"]
assert d["exit_code"] == 0 and d["status"] == "ok"
assert d["stdout"] == raw and d["stdout_lines"] == lines
assert d["stderr"] == "" and d["stderr_lines"] == []
assert d["stdout_truncated"] is False and d["stderr_truncated"] is False
assert d["detail"] is False and d["gpu"] == "all"
EOF
ok "nvidia-smi: command, stdout/stdout_lines of the recorded table, status ok, gpu all"
expect_status 200 "GET /gpu/nvidia-smi?detail=true" "$BASE/gpu/nvidia-smi?detail=true"
jt 'd["command"] == ["nvidia-smi","-q"] and d["detail"] is True and d["status"] == "ok"' "detail=true runs nvidia-smi -q"
jt 'd["stdout_lines"][1] == "==============NVSMI LOG==============" and "NVIDIA H200" in d["stdout"]' "detail=true returns the recorded -q output"
for v in 1 yes on t Y TRUE; do
	expect_status 200 "detail=$v" "$BASE/gpu/nvidia-smi?detail=$v"
	jt 'd["detail"] is True' "detail=$v reads as true"
done
expect_status 200 "detail=off" "$BASE/gpu/nvidia-smi?detail=off"
jt 'd["detail"] is False and d["command"] == ["nvidia-smi"]' "detail=off reads as false"
expect_status 422 "detail=maybe: 422" "$BASE/gpu/nvidia-smi?detail=maybe"
jt 'd["detail"][0]["loc"] == ["query","detail"]' "detail=maybe: 422 names the parameter"
cp "$TD/nvidia-smi/plain/h200_x1_550.90.12_gls.txt" "$CTL/nvidia-smi.default.i7.out"
expect_status 200 "gpu=7" "$BASE/gpu/nvidia-smi?gpu=7"
jt 'd["command"] == ["nvidia-smi","-i","7"] and d["gpu"] == "7" and "H200" in d["stdout"]' "gpu=7 runs nvidia-smi -i 7"
expect_status 200 "gpu=007" "$BASE/gpu/nvidia-smi?gpu=007"
jt 'd["command"] == ["nvidia-smi","-i","7"] and d["gpu"] == "007"' "gpu=007: -i 7, the parameter echoed as given"
expect_status 200 "detail=1&gpu=0" "$BASE/gpu/nvidia-smi?detail=1&gpu=0"
jt 'd["command"] == ["nvidia-smi","-q","-i","0"]' "detail and gpu together: nvidia-smi -q -i 0"
expect_status 200 "gpu=all" "$BASE/gpu/nvidia-smi?gpu=all"
jt 'd["command"] == ["nvidia-smi"] and d["gpu"] == "all"' "gpu=all: no -i"
expect_status 200 "gpu=1048576 (the largest index)" "$BASE/gpu/nvidia-smi?gpu=1048576"
jt 'd["command"] == ["nvidia-smi","-i","1048576"]' "gpu=1048576 passed"
# 400 bad gpu, nothing run
nn=$(runs "$CTL" nvidia-smi)
for g in abc -1 1048577 1e3 "" " 1" 0x1 99999999999999999999999 "1;id" "1 2"; do
	expect_status 400 "gpu='$g': 400" -G "$BASE/gpu/nvidia-smi" --data-urlencode "gpu=$g"
	jt 'isinstance(d["detail"], str) and d["detail"]' "gpu='$g': 400 has a detail"
done
[ "$(runs "$CTL" nvidia-smi)" = "$nn" ] || fail "a 400 ran nvidia-smi"
ok "a bad gpu runs no command"
# large output: capped at max_output_bytes (16384 by default), head kept
cp "$TD/nvidia-smi/query/a40_x10_550.127.05_gls.txt" "$CTL/nvidia-smi.q.out"
expect_status 200 "detail=true with a 94897-byte output" "$BASE/gpu/nvidia-smi?detail=true"
jt 'd["stdout_truncated"] is True and len(d["stdout"].encode()) <= 16384 and d["stdout_lines"][1] == "==============NVSMI LOG=============="' \
	"output over max_output_bytes: stdout_truncated, at most 16384 bytes, the head kept"
cp "$TD/nvidia-smi/query/h200_x1_550.90.12_gls.txt" "$CTL/nvidia-smi.q.out"
# non-zero exit: 200 with status "error" (sek8s reports nvidia-smi's own output)
printf 'exit 9\nstderr NVIDIA-SMI has failed because it couldn'"'"'t communicate with the NVIDIA driver.\n' >"$CTL/nvidia-smi.default.mode"
expect_status 200 "nvidia-smi exiting 9: still 200" "$BASE/gpu/nvidia-smi"
jt 'd["status"] == "error" and d["exit_code"] == 9 and d["stderr_lines"][0].startswith("NVIDIA-SMI has failed")' \
	"non-zero exit: status error, exit_code 9"
printf 'sleep 20\n' >"$CTL/nvidia-smi.default.mode"
expect_status 504 "nvidia-smi hanging: 504" "$BASE/gpu/nvidia-smi"
jt 'd["detail"] == {"error":"timeout","command":"nvidia-smi"}' "nvidia-smi 504 detail"
expect_group_killed "$CTL" nvidia-smi
rm -f "$CTL/nvidia-smi.default.mode"

# --- overview
rm -f "$CTL"/systemctl.*.out "$CTL"/systemctl.*.mode
expect_status 200 "GET /overview, all healthy" "$BASE/overview"
jt 'd["status"] == "ok" and len(d["services"]) == 3 and all(s["healthy"] for s in d["services"])' "overview ok when every unit is healthy"
jt 'd["gpu"]["status"] == "ok" and d["gpu"]["command"] == ["nvidia-smi"] and d["timestamp"].endswith("+00:00")' \
	"overview embeds the nvidia-smi object and a UTC timestamp"
cp "$FIX/systemctl_show_failed.txt" "$CTL/systemctl.mariadb.service.out"
expect_status 200 "GET /overview, one unit failed" "$BASE/overview"
jt 'd["status"] == "degraded" and [s["service"]["id"] for s in d["services"] if not s["healthy"]] == ["db"]' \
	"one unhealthy unit: degraded, only that unit unhealthy"
rm -f "$CTL/systemctl.mariadb.service.out"
printf 'exit 1\nstderr SECRET-OVERVIEW-STDERR\n' >"$CTL/systemctl.web.service.mode"
expect_status 200 "GET /overview, one systemctl call failing" "$BASE/overview"
jt 'd["status"] == "degraded" and d["services"][0]["error"]["error"] == "command_failed" and d["services"][0]["status"] is None' \
	"a failing systemctl: degraded, the error embedded"
body_lacks SECRET-OVERVIEW-STDERR "the overview carries no stderr"
rm -f "$CTL/systemctl.web.service.mode"
printf 'exit 6\n' >"$CTL/nvidia-smi.default.mode"
expect_status 200 "GET /overview, nvidia-smi failing" "$BASE/overview"
jt 'd["status"] == "degraded" and d["gpu"]["status"] == "error"' "nvidia-smi exiting non-zero: degraded"
rm -f "$CTL/nvidia-smi.default.mode"
stop_agent

# ---------------------------------------------------------------- agent R: the real journalctl

JD=$T/journal
mkdir -p "$JD"
cp "$TD"/systemd/journal_file/*.journal "$JD/"
chmod u+w "$JD"/*.journal
cat >r.toml <<EOF
[status]
systemctl_path = "$BIN/systemctl"
journalctl_path = "$JOURNALCTL"
nvidia_smi_path = "$BIN/nvidia-smi"
journal_directory = "$JD"
cache_ttl_ms = 0
max_output_bytes = 1024
[services.jt]
unit = "journald-test.service"
log_identifier = "journald-test-1"
[services.other]
unit = "other.service"
EOF
if [ ! -x "$JOURNALCTL" ]; then
	echo "ok - # SKIP $JOURNALCTL not installed: real journal checks skipped"
else
	start_agent r.toml
	expect_status 200 "real journalctl, lines=3" "$BASE/services/jt/logs?lines=3"
	jt 'd["returned_lines"] == 3 and [l[-14:] for l in d["logs"]] == ["[ 8] log entry","[ 9] log entry","[10] log entry"]' \
		"the newest 3 entries of the real journal, oldest first"
	jt 'all(" journald-test-1[" in l for l in d["logs"]) and d["stdout_truncated"] is False' "short format lines of journald-test-1"
	expect_status 200 "real journalctl, all entries" "$BASE/services/jt/logs?lines=100"
	jt 'd["returned_lines"] == 10 and d["logs"][0].endswith("[ 1] log entry") and d["logs"][-1].endswith("[10] log entry")' \
		"both journal files hold the same 10 entries: 10 lines, no duplicates"
	jt 'd["logs"][0].endswith(" archlinux journald-test-1[7136]: [ 1] log entry") and d["logs"][0].startswith("Sep 1")' \
		"short format: date, host, identifier[pid], message as recorded"
	expect_status 200 "real journalctl, since_minutes=1440" "$BASE/services/jt/logs?since_minutes=1440"
	jt 'd["returned_lines"] == 0 and d["logs"] == []' "--since=@EPOCH is accepted by journalctl 252 (entries are from 2025: none)"
	expect_status 200 "real journalctl, a unit with no entries" "$BASE/services/other/logs"
	jt 'd["returned_lines"] == 0' "--unit with no entries: 200, empty"
	# A journal directory holding only the truncated file: journalctl 252 skips the file
	# ("is truncated, ignoring file" on stderr) and exits 0, so there is nothing to report.
	rm -f "$JD"/*.journal
	cp "$TD"/systemd/journal_file_invalid/*.journal "$JD/"
	expect_status 200 "real journalctl, only a truncated journal file" "$BASE/services/jt/logs"
	jt 'd["returned_lines"] == 0' "a truncated journal file is skipped by journalctl: no lines"
	body_lacks "ignoring file" "journalctl's warning is not returned"
	cp "$TD"/systemd/journal_file/beats_archlinux_compact.journal "$JD/"
	expect_status 200 "real journalctl, a truncated file beside a valid one" "$BASE/services/jt/logs?lines=2"
	jt 'd["returned_lines"] == 2 and d["logs"][-1].endswith("[10] log entry")' "the valid file is still read"
	# journalctl itself failing: the directory is gone.
	rm -rf "$JD"
	expect_status 502 "real journalctl failing (journal directory gone): 502" "$BASE/services/jt/logs"
	jt 'd["detail"]["error"] == "command_failed" and d["detail"]["command"] == "journalctl" and d["detail"]["exit_code"] != 0' \
		"real journalctl failure: command_failed with its exit code"
	body_lacks "$JD" "journalctl's stderr (it names the directory) is not returned"
	body_lacks "No such file" "no stderr text in the body"
	stop_agent
fi

# ---------------------------------------------------------------- agent D: tail kept over max_output_bytes

CTLD=$T/ctld
BIND=$T/bind
mkfakes "$BIND" "$CTLD"
# Two recorded journalctl outputs back to back (793 + 1 + 730 bytes), newest last.
{
	cat "$TD/systemd/journal_short/haos_odroid_short.txt"
	echo
	cat "$TD/systemd/journal_json_generated/beats_archlinux_compact.short-iso.txt"
} >"$CTLD/journalctl.out"
[ "$(wc -c <"$CTLD/journalctl.out")" -gt 1024 ] || fail "the replayed journal output is not over 1024 bytes"
head -c 1024 "$CTLD/journalctl.out" >"$CTLD/journalctl.small.service.out"
cp "$FIX/systemctl_show_running.txt" "$CTLD/systemctl.out"
cat >d.toml <<EOF
[status]
systemctl_path = "$BIND/systemctl"
journalctl_path = "$BIND/journalctl"
nvidia_smi_path = "$BIND/nvidia-smi"
max_output_bytes = 1024
cache_ttl_ms = 0
[services.big]
unit = "big.service"
[services.small]
unit = "small.service"
EOF
start_agent d.toml
expect_status 200 "logs over max_output_bytes = 1024" "$BASE/services/big/logs"
python3 - "$T/body" "$CTLD/journalctl.out" <<'EOF' || fail "over max_output_bytes: the newest lines were not kept"
import json, sys
d = json.load(open(sys.argv[1]))
src = open(sys.argv[2], encoding="utf-8").read().split("\n")[:-1]
logs = d["logs"]
assert d["stdout_truncated"] is True, d["stdout_truncated"]
assert logs[-1].endswith("[10] log entry"), logs[-1]
assert logs == src[len(src) - len(logs):], "not a suffix of whole source lines"
assert sum(len(l.encode()) + 1 for l in logs) <= 1024
assert len(logs) >= 10 and d["returned_lines"] == len(logs)
EOF
ok "over max_output_bytes: stdout_truncated, the newest whole lines kept, last is '[10] log entry'"
expect_status 200 "logs of exactly max_output_bytes" "$BASE/services/small/logs"
jt 'd["stdout_truncated"] is False and d["logs"][0].startswith("Oct 11 20:46:22 odroid-dev systemd[1]: Started Hostname Service.")' "exactly 1024 bytes: not truncated, the first line kept"
stop_agent

# ---------------------------------------------------------------- agent B: VM without a GPU, default services

CTLB=$T/ctlb
BINB=$T/binb
mkfakes "$BINB" "$CTLB"
cp "$FIX/systemctl_show_running.txt" "$CTLB/systemctl.out"
cp "$FIX/systemctl_show_masked.txt" "$CTLB/systemctl.nvidia-fabricmanager.service.out"
cat >b.toml <<EOF
[status]
systemctl_path = "$BINB/systemctl"
journalctl_path = "$T/missing/journalctl"
nvidia_smi_path = "$T/missing/nvidia-smi"
gpu = false
cache_ttl_ms = 0
EOF
start_agent b.toml
expect_status 200 "GET /services with no [services.*]" "$BASE/services"
jt '[s["id"] for s in d["services"]] == ["admission-controller","attestation-service","k3s","nvidia-persistenced","nvidia-fabricmanager"]' \
	"no [services.*]: sek8s's five services"
jt 'd["services"][2]["unit"] == "k3s.service"' "default units are <id>.service"
expect_status 200 "overview: gpu = false, nvidia-smi missing, fabric manager masked" "$BASE/overview"
jt 'd["status"] == "ok" and d["gpu"] is None' "gpu = false: a missing nvidia-smi does not degrade, \"gpu\": null"
jt 'd["services"][4]["healthy"] is True and d["services"][4]["status"]["load_state"] == "masked"' \
	"masked nvidia-fabricmanager is healthy (masked_ok)"
[ "$(runs "$CTLB" nvidia-smi)" = 0 ] || fail "gpu = false still ran nvidia-smi"
ok "gpu = false never runs nvidia-smi"
cp "$FIX/systemctl_show_masked.txt" "$CTLB/systemctl.k3s.service.out"
expect_status 200 "overview: k3s masked" "$BASE/overview"
jt 'd["status"] == "degraded" and d["services"][2]["healthy"] is False' "a masked unit without masked_ok is unhealthy"
expect_status 404 "GET /gpu with gpu = false: 404" "$BASE/gpu"
jt 'd["detail"]["error"] == "no_gpu"' "gpu = false: no_gpu"
expect_status 503 "logs with journalctl missing: 503" "$BASE/services/k3s/logs"
jt 'd["detail"] == {"error":"missing_binary","binary":"journalctl"}' "503 detail: missing_binary journalctl"
body_lacks "$T/missing" "the 503 does not reveal the configured path"
stop_agent

# ---------------------------------------------------------------- agent C: binaries missing

cat >c.toml <<EOF
[status]
systemctl_path = "$T/missing/systemctl"
journalctl_path = "$T/notexec/journalctl"
nvidia_smi_path = "$T/missing/nvidia-smi"
gpu = true
[services.web]
unit = "web.service"
EOF
mkdir -p "$T/notexec"
cp "$FAKE_CMD" "$T/notexec/journalctl"
chmod a-x "$T/notexec/journalctl"
start_agent c.toml
expect_status 503 "status with systemctl missing: 503" "$BASE/services/web/status"
jt 'd["detail"] == {"error":"missing_binary","binary":"systemctl"}' "503 detail: missing_binary systemctl"
expect_status 503 "GET /gpu with nvidia-smi missing: 503" "$BASE/gpu"
jt 'd["detail"] == {"error":"missing_binary","binary":"nvidia-smi"}' "503 detail: missing_binary nvidia-smi"
expect_status 503 "GET /gpu/nvidia-smi with nvidia-smi missing: 503" "$BASE/gpu/nvidia-smi"
expect_status 200 "overview with gpu = true and everything missing: 200" "$BASE/overview"
jt 'd["status"] == "degraded" and d["gpu"]["status"] == "error" and d["gpu"]["error"]["error"] == "missing_binary"' \
	"gpu = true, nvidia-smi missing: degraded, not 503"
jt 'd["services"][0]["healthy"] is False and d["services"][0]["error"]["error"] == "missing_binary"' \
	"systemctl missing: the service is unhealthy with missing_binary"
expect_status 503 "logs with a journalctl that is not executable: 503" "$BASE/services/web/logs"
jt 'd["detail"] == {"error":"missing_binary","binary":"journalctl"}' "a non-executable binary counts as missing"
stop_agent

# ---------------------------------------------------------------- agent E: caching

CTLE=$T/ctle
BINE=$T/bine
mkfakes "$BINE" "$CTLE"
cp "$FIX/systemctl_show_running.txt" "$CTLE/systemctl.out"
cp "$TD/nvidia-smi/xml/a10g_telegraf.xml" "$CTLE/nvidia-smi.qx.out"
cat >e.toml <<EOF
[status]
systemctl_path = "$BINE/systemctl"
journalctl_path = "$BINE/journalctl"
nvidia_smi_path = "$BINE/nvidia-smi"
cache_ttl_ms = 5000
[cloister]
http_threads = 4
[services.web]
unit = "web.service"
[services.slow]
unit = "slow.service"
EOF
start_agent e.toml
expect_status 200 "cache_ttl_ms = 5000: first status call" "$BASE/services/web/status"
expect_status 200 "cache_ttl_ms = 5000: second status call" "$BASE/services/web/status"
[ "$(runs "$CTLE" systemctl)" = 1 ] || fail "two identical calls within the TTL ran systemctl $(runs "$CTLE" systemctl) times"
ok "two identical calls within cache_ttl_ms: one systemctl run"
expect_status 200 "logs?lines=5" "$BASE/services/web/logs?lines=5"
expect_status 200 "logs?lines=6" "$BASE/services/web/logs?lines=6"
expect_status 200 "logs?lines=5 again" "$BASE/services/web/logs?lines=5"
[ "$(runs "$CTLE" journalctl)" = 2 ] || fail "logs: $(runs "$CTLE" journalctl) runs, want 2 (one per distinct argv)"
ok "distinct arguments are distinct cache entries, identical ones share"
expect_status 200 "GET /gpu" "$BASE/gpu"
expect_status 200 "GET /gpu again" "$BASE/gpu"
[ "$(runs "$CTLE" nvidia-smi)" = 1 ] || fail "GET /gpu twice ran nvidia-smi $(runs "$CTLE" nvidia-smi) times"
ok "GET /gpu twice within the TTL: one nvidia-smi run"
printf 'sleep 1\n' >"$CTLE/systemctl.slow.service.mode"
t0=$(ms_now)
pids=""
for i in 1 2 3 4 5 6 7 8; do
	curl -s --max-time 15 -o "$T/par.$i" -w '%{http_code}' "$BASE/services/slow/status" >"$T/par.$i.code" &
	pids="$pids $!"
done
for p in $pids; do wait "$p" || fail "a parallel request failed"; done
el=$(($(ms_now) - t0))
for i in 1 2 3 4 5 6 7 8; do
	[ "$(cat "$T/par.$i.code")" = 200 ] || fail "parallel request $i: $(cat "$T/par.$i.code")"
	cmp -s "$T/par.1" "$T/par.$i" || fail "parallel request $i got a different body"
done
[ "$(runs "$CTLE" systemctl)" = 2 ] || fail "8 concurrent identical requests ran systemctl $(($(runs "$CTLE" systemctl) - 1)) times"
ok "8 concurrent identical requests on a 1 s command: one run, 8 identical 200s (${el} ms)"
[ "$el" -lt 5000 ] || fail "the 8 concurrent requests took ${el} ms"
stop_agent

sed -i 's/^cache_ttl_ms = 5000$/cache_ttl_ms = 0/' e.toml
rm -f "$CTLE/argv.log" "$CTLE"/systemctl.slow.service.mode
start_agent e.toml
for i in 1 2 3; do
	expect_status 200 "cache_ttl_ms = 0: status call $i" "$BASE/services/web/status"
done
[ "$(runs "$CTLE" systemctl)" = 3 ] || fail "cache_ttl_ms = 0: $(runs "$CTLE" systemctl) runs for 3 calls"
ok "cache_ttl_ms = 0: every call runs systemctl"
stop_agent

# ---------------------------------------------------------------- config errors

bad_config() { # NAME EXPECTED-REGEX: -n refuses the config in $T/bad.toml with a matching message
	run_agent_expect 1 --config "$T/bad.toml" -n
	grep -qE -- "$2" "$T/err" || {
		cat "$T/err" >&2
		fail "$1: message does not match '$2'"
	}
	ok "$1 refused: $(head -n 1 "$T/err")"
}
printf '[status]\nsystemctl_path = "usr/bin/systemctl"\n' >bad.toml
bad_config "relative systemctl_path" 'bad\.toml.*systemctl_path.*absolute'
printf '[status]\njournalctl_path = "journalctl"\n' >bad.toml
bad_config "relative journalctl_path" 'bad\.toml.*absolute'
printf '[status]\nnvidia_smi_path = "./nvidia-smi"\n' >bad.toml
bad_config "relative nvidia_smi_path" 'bad\.toml.*absolute'
printf '[status]\njournal_directory = "var/log/journal"\n' >bad.toml
bad_config "relative journal_directory" 'bad\.toml.*absolute'
printf '# services\n[services.ok]\nunit = "ok.service"\n\n[services.x]\ndescription = "no unit"\n' >bad.toml
bad_config "[services.x] without unit" 'bad\.toml:5: .*services\.x.*unit'
printf '[status]\ngpu = true\n[services.empty]\n' >bad.toml
bad_config "an empty [services.empty] table" 'bad\.toml:3: .*services\.empty.*unit'
printf '[services.x]\nunit = "x.service"\nbogus = 1\n' >bad.toml
bad_config "an unknown key in [services.x]" 'bad\.toml:3: '
printf '[services.x]\nunit = "--global"\n' >bad.toml
bad_config "a unit that reads as an option" 'bad\.toml:2: '
printf '[services.x]\nunit = "a b.service"\n' >bad.toml
bad_config "a unit with a space" 'bad\.toml:2: '
printf '[status]\nlog_lines_max = 99\n' >bad.toml
bad_config "log_lines_max = 99 (below 100)" 'bad\.toml:2: '
printf '[status]\nlog_lines_max = 10001\n' >bad.toml
bad_config "log_lines_max = 10001 (past 10000)" 'bad\.toml:2: '
printf '[status]\nmax_output_bytes = 1023\n' >bad.toml
bad_config "max_output_bytes = 1023 (below 1024)" 'bad\.toml:2: '
printf '[status]\ncommand_timeout_ms = 60001\n' >bad.toml
bad_config "command_timeout_ms = 60001 (past 60000)" 'bad\.toml:2: '
printf '[status]\ncache_ttl_ms = 600001\n' >bad.toml
bad_config "cache_ttl_ms = 600001 (past 600000)" 'bad\.toml:2: '
printf '[status]\nlog_lines_max = 10000\nmax_output_bytes = 1000000\ncommand_timeout_ms = 60000\ncache_ttl_ms = 600000\nsystemctl_path = "/x/systemctl"\n[services.x]\nunit = "x.service"\nmasked_ok = true\nlog_identifier = "x"\n' >bad.toml
run_agent_expect 0 --config "$T/bad.toml" -n
ok "every [status] limit at its ceiling, absolute paths and a full [services.x]: accepted"

echo "status.sh: all checks passed"
