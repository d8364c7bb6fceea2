#!/usr/bin/env bash
# cp_restart.sh - nothing is lost on restart: users, backends, backend information, the audit
# log and issued tokens (access and refresh) survive a clean restart; a kill -9 in the middle of
# a burst of concurrent writes leaves a consistent SQLite database that holds every write the
# server acknowledged (201), and the server starts on it again. Files are private (0600/0700).
set -eu
. "$(dirname "$0")/cp_lib.sh"
command -v sqlite3 >/dev/null || fail "the sqlite3 command line is missing (scripts/install-deps)"

start_cloisterd
DB="$T/state/cloisterd.db"
[ -f "$DB" ] || fail "no database at $DB"
[ "$(stat -c %a "$DB")" = 600 ] || fail "the database is not 0600: $(stat -c %a "$DB")"
[ "$(stat -c %a "$T/state")" = 700 ] || fail "the state dir is not 0700"
[ "$(sqlite3 "$DB" 'PRAGMA journal_mode')" = wal ] || fail "the database is not in WAL mode"
ok "state dir 0700, database 0600 in WAL mode"

read -r ADMIN AREF < <(login_pair admin "$ADMIN_PW")
UID1=$(mkuser "$ADMIN" carol carol-password)
CAROL=$(login carol carol-password)
B1=$(mkbackend "$CAROL" carol-1 node1.example.com:7001)
B2=$(mkbackend "$CAROL" carol-2 "[2001:db8::1]:443")
printf '{"snp_policy":{"policy":196608,"vmpl":{"value":2}},"root_of_trust":{"product":"Genoa","check_crl":false}}' >"$T/info.json"
expect_status 200 "info stored" -X PUT "$BASE/backends/$B1/info" -H "Authorization: Bearer $CAROL" \
	-H 'Content-Type: application/json' --data-binary @"$T/info.json"
expect_status 204 "terminate b2" "$BASE/backends/terminate/$B2/0" -H "Authorization: Bearer $CAROL"
stop_cloisterd

start_cloisterd
expect_status 200 "after a restart the old access token still works" "$BASE/backends" -H "Authorization: Bearer $CAROL"
body_has 'd["total"] == 2 and sorted(b["name"] for b in d["backends"]) == ["carol-1","carol-2"]' \
	"after a restart both backends are there"
expect_status 200 "get b2" "$BASE/backends/$B2" -H "Authorization: Bearer $CAROL"
body_has 'd["status"] == "terminated" and d["address"] == "[2001:db8::1]:443"' "b2 kept its status and address"
expect_status 200 "info after restart" "$BASE/backends/$B1/info" -H "Authorization: Bearer $CAROL"
cmp -s "$T/body" "$T/info.json" || fail "the backend information changed across the restart"
expect_status 201 "after a restart the refresh token still works" -X POST "$BASE/users/tokens/refresh" \
	-H "Authorization: Bearer $AREF"
ADMIN=$(json_get "$T/body" 'd["access_token"]')
expect_status 200 "audit after restart" "$BASE/audit?limit=1000" -H "Authorization: Bearer $ADMIN"
body_has 'any(e["action"] == "backends.terminate" for e in d["entries"]) and any(e["action"] == "users.create" for e in d["entries"])' \
	"the audit log survived the restart"
[ -z "$(grep -i 'admin created' "$CP_LOG" || true)" ] || fail "a second admin was created on restart"
ok "no second admin on restart"

# kill -9 during a burst: 4 writers POST backends as fast as they can (bounded: 600 each, 20 s),
# logging each acknowledged id; the server is killed after 1.5 s.
cat >"$T/burst.py" <<'PY'
import http.client, json, sys, time
port, token, prefix, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
f = open(out, "w", buffering=1)
deadline = time.time() + 20
for i in range(600):
    if time.time() > deadline:
        break
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        body = json.dumps({"name": f"{prefix}-{i}", "description": "burst", "address": f"10.9.{i // 250}.{i % 250 + 1}"})
        c.request("POST", "/backends", body, {"Content-Type": "application/json", "Authorization": "Bearer " + token})
        r = c.getresponse(); r.read()
        if r.status == 201:
            f.write(r.getheader("Location").rsplit("/", 1)[1] + "\n")
        c.close()
    except Exception:
        break
PY
PIDS=""
for w in 1 2 3 4; do
	python3 "$T/burst.py" "$PORT" "$CAROL" "w$w" "$T/acked.$w" &
	PIDS="$PIDS $!"
done
sleep 1.5
kill9_cloisterd
for p in $PIDS; do wait "$p" || true; done
cat "$T"/acked.* >"$T/acked"
N=$(wc -l <"$T/acked")
[ "$N" -gt 10 ] || fail "only $N writes acknowledged before the kill (the burst did not run)"
ok "$N writes acknowledged before kill -9"
[ "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check failed after kill -9"
ok "PRAGMA integrity_check is ok after kill -9"
start_cloisterd
missing=0
while read -r id; do
	code=$(req "$BASE/backends/$id" -H "Authorization: Bearer $CAROL")
	[ "$code" = 200 ] || { echo "missing acknowledged backend $id ($code)" >&2; missing=$((missing + 1)); }
done <"$T/acked"
[ "$missing" = 0 ] || fail "$missing acknowledged writes are missing after kill -9"
ok "every acknowledged write is there after kill -9 and restart"
expect_status 200 "list after the crash" "$BASE/backends?name=w&limit=1000" -H "Authorization: Bearer $CAROL"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); n=int(sys.argv[2]); sys.exit(0 if n <= d["total"] <= n + 4 else 1)' "$T/body" "$N" ||
	fail "the list total is not the acknowledged count (at most one unacknowledged in flight per writer)"
ok "stored burst rows = acknowledged + at most the 4 in flight"
stop_cloisterd
