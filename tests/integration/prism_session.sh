#!/usr/bin/env bash
# prism_session.sh - the Ultraviolet Prism backends documentation's curl session, replayed
# verbatim against a real cloisterd (host aside): the curl commands are read at run time from
# ../shared/seeds/000_fdc9c7ca6975b5ea.txt (create, update, list, view, terminate, delete, in the
# document's order), with only `https://prism.ultraviolet.rs` replaced by the test server and the
# placeholders <user_token>, <backend_id> and <termination_type> filled in. Each reply is checked
# against the documented one: status line, Content-Type, Location, Content-Length and body shape.
# Then the backend-information file of the same page (PUT and download).
set -eu
. "$(dirname "$0")/cp_lib.sh"
: "${SRCDIR:?SRCDIR must point at the source tree}"
SEED="${SEEDS:-$SRCDIR/../shared/seeds}/000_fdc9c7ca6975b5ea.txt"
[ -f "$SEED" ] || fail "the Prism seed $SEED is missing"

start_cloisterd
TOKEN=$(login admin "$ADMIN_PW")
ok "admin logs in with the first-start password"

# Extract every "curl ..." command with its here-document, in order, into $T/cmd.N.
python3 - "$SEED" "$T" <<'PY'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
out, i, n = sys.argv[2], 0, 0
while i < len(lines):
    l = lines[i]
    if l.startswith("curl -sSiX "):
        cmd = [l]
        if "<< EOF" in l:
            i += 1
            while lines[i] != "EOF":
                cmd.append(lines[i]); i += 1
            cmd.append("EOF")
        n += 1
        open(f"{out}/cmd.{n}", "w").write("\n".join(cmd) + "\n")
    i += 1
print(n)
PY
[ -f "$T/cmd.6" ] || fail "expected 6 curl commands in the seed"
ok "6 curl commands read from the Prism seed"

ID=""
# run_seed N: runs command N with the host and placeholders substituted; -i output in $T/out.N
run_seed() {
	local n=$1
	sed -e "s|https://prism.ultraviolet.rs|$BASE|" -e "s|<user_token>|$TOKEN|" \
		-e "s|<backend_id>|$ID|" -e "s|<termination_type>|1|" "$T/cmd.$n" >"$T/run.$n"
	grep -q 'prism.ultraviolet.rs' "$T/run.$n" && fail "host not substituted in command $n"
	(cd "$T" && timeout 20 bash "$T/run.$n") >"$T/out.$n" || fail "command $n failed: $(cat "$T/run.$n")"
	tr -d '\r' <"$T/out.$n" | sed '/^$/,$d' >"$T/h.$n"
	tr -d '\r' <"$T/out.$n" | sed '1,/^$/d' >"$T/b.$n"
}
has_line() { grep -qiE "^$2\$" "$T/h.$1" || { cat "$T/h.$1" >&2; fail "command $1: no header line '$2'"; }; }
no_line() { if grep -qiE "^$2" "$T/h.$1"; then cat "$T/h.$1" >&2; fail "command $1: unexpected '$2'"; fi; }
bshape() {
	python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read()); sys.exit(0 if eval(sys.argv[2]) else 1)' \
		"$T/b.$1" "$2" || { cat "$T/b.$1" >&2; fail "command $1: body does not satisfy $2"; }
}

# 1. Creating a Backend -> 201 Created, Location: /backends/<uuid>, Content-Length: 0
run_seed 1
grep -q "sSiX POST" "$T/run.1" || fail "command 1 is not the POST"
has_line 1 'HTTP/1.1 201 Created'
has_line 1 'Content-Type: application/json'
has_line 1 'Location: /backends/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'
has_line 1 'Content-Length: 0'
has_line 1 'Date: .* GMT'
[ ! -s "$T/b.1" ] || fail "create: the body is not empty"
ID=$(sed -n 's|^Location: /backends/||Ip' "$T/h.1")
ok "POST /backends: 201 Created, Location with a UUIDv4, Content-Type json, empty body"

# 2. Updating backend -> 200 OK, Content-Length: 0
run_seed 2
has_line 2 'HTTP/1.1 200 OK'
has_line 2 'Content-Type: application/json'
has_line 2 'Content-Length: 0'
[ ! -s "$T/b.2" ] || fail "update: the body is not empty"
ok "PUT /backends/<id>: 200 OK, empty body"

# 3. Listing Backends -> {"total":1,"limit":10,"backends":[{"id","name","description","address"}]}
run_seed 3
has_line 3 'HTTP/1.1 200 OK'
has_line 3 'Content-Type: application/json'
has_line 3 'Content-Length: [0-9]+'
bshape 3 'list(d)[:2] == ["total","limit"] and d["total"] == 1 and d["limit"] == 10 and len(d["backends"]) == 1'
bshape 3 'list(d["backends"][0])[:4] == ["id","name","description","address"]'
python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["backends"][0]; sys.exit(0 if (b["id"],b["name"],b["description"],b["address"])==(sys.argv[2],"my dell server","new description","192.168.100.4") else 1)' \
	"$T/b.3" "$ID" || fail "list: the backend does not carry the updated values: $(cat "$T/b.3")"
ok "GET /backends: 200, {total:1, limit:10, backends:[{id,name,description,address,...}]} with the update"

# 4. View Backend -> {"id","name","description","address"}
run_seed 4
has_line 4 'HTTP/1.1 200 OK'
has_line 4 'Content-Type: application/json'
bshape 4 'list(d)[:4] == ["id","name","description","address"] and d["name"] == "my dell server"'
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["id"]==sys.argv[2] else 1)' "$T/b.4" "$ID" ||
	fail "view: wrong id"
ok "GET /backends/<id>: 200 with id, name, description, address first"

# 5. Terminate Backend (type 1, user initiated) -> 204 No Content, Content-Type json
run_seed 5
has_line 5 'HTTP/1.1 204 No Content'
has_line 5 'Content-Type: application/json'
[ ! -s "$T/b.5" ] || fail "terminate: body not empty"
code=$(req "$BASE/backends/$ID" -H "Authorization: Bearer $TOKEN")
[ "$code" = 200 ] || fail "get after terminate: $code"
body_has 'd["status"] == "terminated"' "terminate: the backend's status is terminated"
ok "GET /backends/terminate/<id>/1: 204 No Content"

# The backend-information file of the same page: PUT Prism's sample, download it back.
INFO="$T/backend_info.json"
python3 - "$SEED" "$INFO" <<'PY'
import sys
t = open(sys.argv[1], encoding="utf-8").read()
a = t.index('{\n  "snp_policy"'); depth = 0
for j in range(a, len(t)):
    depth += {"{": 1, "}": -1}.get(t[j], 0)
    if depth == 0:
        break
open(sys.argv[2], "w").write(t[a:j + 1] + "\n")
PY
expect_status 404 "info before any upload: 404" "$BASE/backends/$ID/info" -H "Authorization: Bearer $TOKEN"
expect_status 200 "PUT /backends/<id>/info with Prism's sample file" -X PUT "$BASE/backends/$ID/info" \
	-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data-binary @"$INFO"
expect_status 200 "GET /backends/<id>/info" "$BASE/backends/$ID/info" -H "Authorization: Bearer $TOKEN"
cmp -s "$T/body" "$INFO" || fail "the downloaded file differs from the uploaded one"
expect_header "info is a download" 'Content-Disposition: attachment; filename="backend_info.json"'
printf '{"snp_policy":{"policy":"x"},"root_of_trust":{"product":"Milan"}}' >"$T/bad.json"
expect_status 422 "an invalid policy file is refused" -X PUT "$BASE/backends/$ID/info" \
	-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data-binary @"$T/bad.json"
expect_status 200 "the stored file is unchanged after a refused PUT" "$BASE/backends/$ID/info" \
	-H "Authorization: Bearer $TOKEN"
cmp -s "$T/body" "$INFO" || fail "a refused PUT changed the stored file"

# 6. Delete Backend -> 204 No Content
run_seed 6
has_line 6 'HTTP/1.1 204 No Content'
has_line 6 'Content-Type: application/json'
expect_status 404 "the deleted backend is gone" "$BASE/backends/$ID" -H "Authorization: Bearer $TOKEN"
ok "DELETE /backends/<id>: 204 No Content"

stop_cloisterd
ok "cloisterd stops with status 0"
