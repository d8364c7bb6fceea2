#!/usr/bin/env bash
# cp_api.sh - cloisterd's API beyond the Prism session: every error status with the JSON
# {"code","message"} shape and nothing changed by a refused request (400 malformed, 413 too
# large, 415 media type, 422 invalid values, 409 conflicts, 404 unknown ids, 405), list paging and
# filters, the users routes (ours and SuperMQ's body shapes), the POST termination twin and the
# switch that turns the GET one off, GET /audit paging, GET /health and GET /metrics.
set -eu
. "$(dirname "$0")/cp_lib.sh"

start_cloisterd
expect_status 200 "GET /health without a token" "$BASE/health"
body_has 'd["status"] == "ok" and d["store"] == "sqlite" and d["schema"] >= 1' "health names the store and schema"
ADMIN=$(login admin "$ADMIN_PW")
J=(-H 'Content-Type: application/json')
A=(-H "Authorization: Bearer $ADMIN")

errshape() { body_has 'isinstance(d["code"], int) and isinstance(d["message"], str) and d["message"]' "$1: JSON error with a message"; }
count() { req "$BASE/backends?limit=1000" "${A[@]}" >/dev/null; json_get "$T/body" 'd["total"]'; }

ID=$(mkbackend "$ADMIN" first 192.0.2.10)
n0=$(count)
# 400: malformed JSON, duplicate keys, unknown keys, wrong types
expect_status 400 "malformed JSON: 400" -X POST "$BASE/backends" "${A[@]}" "${J[@]}" -d '{"name":'
errshape "400"
expect_status 400 "duplicate key: 400" -X POST "$BASE/backends" "${A[@]}" "${J[@]}" -d '{"name":"a","name":"b","address":"1.2.3.4"}'
expect_status 400 "unknown key: 400" -X POST "$BASE/backends" "${A[@]}" "${J[@]}" -d '{"name":"a","address":"1.2.3.4","owner":"x"}'
grep -q owner "$T/body" || fail "the unknown-key message does not name the key"
expect_status 400 "wrong type: 400" -X POST "$BASE/backends" "${A[@]}" "${J[@]}" -d '{"name":5,"address":"1.2.3.4"}'
expect_status 400 "trailing data: 400" -X POST "$BASE/backends" "${A[@]}" "${J[@]}" -d '{"name":"a","address":"1.2.3.4"} x'
# 415
expect_status 415 "text/plain body: 415" -X POST "$BASE/backends" "${A[@]}" -H 'Content-Type: text/plain' -d '{"name":"a","address":"1.2.3.4"}'
expect_status 415 "no content type: 415" -X POST "$BASE/backends" "${A[@]}" --data-binary '{"name":"a","address":"1.2.3.4"}' -H 'Content-Type:'
expect_status 201 "charset parameter accepted" -X POST "$BASE/backends" "${A[@]}" -H 'Content-Type: application/json; charset=utf-8' -d '{"name":"charset","address":"192.0.2.11"}'
n0=$((n0 + 1))
# 413
python3 -c 'import json; print(json.dumps({"name":"big","address":"1.2.3.4","description":"x"*20000}))' >"$T/big.json"
expect_status 413 "a 20 KB body: 413" -X POST "$BASE/backends" "${A[@]}" "${J[@]}" --data-binary @"$T/big.json"
# 422: names, addresses, descriptions
bad() { expect_status 422 "$1: 422" -X POST "$BASE/backends" "${A[@]}" "${J[@]}" -d "$2"; }
bad "empty name" '{"name":"","address":"1.2.3.4"}'
bad "name with a leading space" '{"name":" x","address":"1.2.3.4"}'
bad "name with a control character" '{"name":"a\u0007b","address":"1.2.3.4"}'
bad "name of 129 bytes" "{\"name\":\"$(printf 'n%.0s' $(seq 129))\",\"address\":\"1.2.3.4\"}"
bad "address with a scheme" '{"name":"a","address":"http://1.2.3.4"}'
bad "address with a path" '{"name":"a","address":"host/x"}'
bad "port 0" '{"name":"a","address":"host:0"}'
bad "port 65536" '{"name":"a","address":"host:65536"}'
bad "label starting with -" '{"name":"a","address":"-bad.example"}'
bad "IPv6 with a port but no brackets" '{"name":"a","address":"2001:db8::1:443:x"}'
bad "address with a space" '{"name":"a","address":"a b"}'
bad "missing address" '{"name":"a"}'
grep -q address "$T/body" || fail "the 422 message does not name the field"
[ "$(count)" = "$n0" ] || fail "a refused create changed the number of backends"
ok "no refused request created a backend"
expect_status 201 "name of 128 bytes accepted" -X POST "$BASE/backends" "${A[@]}" "${J[@]}" -d "{\"name\":\"$(printf 'n%.0s' $(seq 128))\",\"address\":\"host.example:65535\"}"
for a in 10.1.2.3 10.1.2.3:22 '2001:db8::2' '[2001:db8::3]' '[2001:db8::4]:8443' backend-5.internal; do
	expect_status 201 "address $a accepted" -X POST "$BASE/backends" "${A[@]}" "${J[@]}" -d "{\"name\":\"addr $a\",\"address\":\"$a\"}"
done
# 409: same name twice for one owner
expect_status 409 "duplicate name: 409" -X POST "$BASE/backends" "${A[@]}" "${J[@]}" -d '{"name":"first","address":"192.0.2.12"}'
errshape "409"
# 404 / 405
expect_status 404 "unknown backend: 404" "$BASE/backends/00000000-0000-4000-8000-000000000000" "${A[@]}"
expect_status 404 "malformed id: 404" "$BASE/backends/not-a-uuid" "${A[@]}"
expect_status 405 "PATCH /backends: 405" -X PATCH "$BASE/backends" "${A[@]}"
# PUT: refused updates change nothing
expect_status 422 "PUT with a bad address: 422" -X PUT "$BASE/backends/$ID" "${A[@]}" "${J[@]}" -d '{"name":"first","address":"bad host"}'
expect_status 200 "get after refused PUT" "$BASE/backends/$ID" "${A[@]}"
body_has 'd["address"] == "192.0.2.10" and d["name"] == "first"' "a refused PUT changed nothing"
expect_status 200 "PUT an upper-case id" -X PUT "$BASE/backends/$(echo "$ID" | tr a-f A-F)" "${A[@]}" "${J[@]}" -d '{"name":"first","description":"d","address":"192.0.2.10:7001"}'

# One policy language for both TEEs: a TDX-only backend-information file is stored, a bad one
# (unknown field, wrong length) refused.
expect_status 200 "PUT a TDX policy (tdx_policy only)" -X PUT "$BASE/backends/$ID/info" "${A[@]}" "${J[@]}" \
	-d '{"tdx_policy":{"accepted_tcb_statuses":["UpToDate"],"mr_td":"'"$(printf '00%.0s' $(seq 48))"'"}}'
expect_status 422 "a TDX policy with an unknown field: 422" -X PUT "$BASE/backends/$ID/info" "${A[@]}" "${J[@]}" \
	-d '{"tdx_policy":{"mrtd":"00"}}'
expect_status 422 "a TDX policy with a short MRTD: 422" -X PUT "$BASE/backends/$ID/info" "${A[@]}" "${J[@]}" \
	-d '{"tdx_policy":{"mr_td":"0011"}}'
expect_status 200 "the stored TDX policy is unchanged" "$BASE/backends/$ID/info" "${A[@]}"
body_has '"tdx_policy" in d and d["tdx_policy"]["accepted_tcb_statuses"] == ["UpToDate"]' "the TDX policy is served back"

# Query bounds and paging.
expect_status 422 "limit=0: 422" "$BASE/backends?limit=0" "${A[@]}"
expect_status 422 "limit=1001: 422" "$BASE/backends?limit=1001" "${A[@]}"
expect_status 422 "limit=abc: 422" "$BASE/backends?limit=abc" "${A[@]}"
expect_status 422 "offset=-1: 422" "$BASE/backends?offset=-1" "${A[@]}"
expect_status 422 "status=bogus: 422" "$BASE/backends?status=bogus" "${A[@]}"
expect_status 422 "a 300-byte name filter: 422" "$BASE/backends?name=$(printf 'x%.0s' $(seq 300))" "${A[@]}"
total=$(count)
expect_status 200 "paging" "$BASE/backends?limit=3&offset=2" "${A[@]}"
body_has "d['total'] == $total and d['limit'] == 3 and d['offset'] == 2 and len(d['backends']) == 3" "limit/offset page with the full total"
expect_status 200 "name filter" "$BASE/backends?name=addr" "${A[@]}"
body_has 'd["total"] == 6 and all("addr" in b["name"] for b in d["backends"])' "name filter is a substring match"
expect_status 200 "name filter with %" "$BASE/backends?name=%25" "${A[@]}"
body_has 'd["total"] == 0' "% in a name filter is literal"
expect_status 204 "POST terminate twin" -X POST "$BASE/backends/$ID/terminate" "${A[@]}" "${J[@]}" -d '{"type":1,"reason":"maintenance"}'
expect_status 200 "status filter" "$BASE/backends?status=terminated" "${A[@]}"
body_has "d['total'] == 1 and d['backends'][0]['id'] == '$ID'" "status filter finds the terminated backend"
expect_status 422 "terminate type 2: 422" "$BASE/backends/terminate/$ID/2" "${A[@]}"
expect_status 422 "POST terminate type 7: 422" -X POST "$BASE/backends/$ID/terminate" "${A[@]}" "${J[@]}" -d '{"type":7}'

# Users: ours and SuperMQ's shape; conflicts; validation.
expect_status 201 "POST /users (SuperMQ shape)" -X POST "$BASE/users" "${A[@]}" "${J[@]}" \
	-d '{"first_name":"Dana","last_name":"D","email":"d@example.com","credentials":{"username":"dana","secret":"dana-password"},"tags":[],"metadata":{},"status":"enabled"}'
expect_header "user Location" 'Location: /users/[0-9a-f-]{36}'
body_has 'd["username"] == "dana" and d["role"] == "user" and "password" not in str(d) and "argon" not in str(d)' "the user object never carries the hash"
expect_status 409 "duplicate username: 409" -X POST "$BASE/users" "${A[@]}" "${J[@]}" -d '{"username":"dana","password":"other-password"}'
expect_status 422 "short password: 422" -X POST "$BASE/users" "${A[@]}" "${J[@]}" -d '{"username":"erin","password":"short"}'
expect_status 422 "bad username: 422" -X POST "$BASE/users" "${A[@]}" "${J[@]}" -d '{"username":"er in","password":"erin-password"}'
expect_status 422 "bad role: 422" -X POST "$BASE/users" "${A[@]}" "${J[@]}" -d '{"username":"erin","password":"erin-password","role":"root"}'
expect_status 201 "SuperMQ login names (identity/secret)" -X POST "$BASE/users/tokens/issue" "${J[@]}" -d '{"identity":"dana","secret":"dana-password"}'
body_has 'd["access_type"] == "Bearer" and d["access_token"].count(".") == 2 and d["refresh_token"].count(".") == 2' "token reply shape"
expect_status 200 "GET /users" "$BASE/users" "${A[@]}"
body_has 'd["total"] == 2 and {u["username"] for u in d["users"]} == {"admin","dana"}' "users list"

# Audit: paging, newest first, fields.
expect_status 200 "GET /audit" "$BASE/audit?limit=5" "${A[@]}"
body_has 'len(d["entries"]) == 5 and all(set(e) >= {"id","time","client","principal","action","resource","result","status"} for e in d["entries"])' "audit entries carry every field"
body_has 'd["entries"][0]["id"] > d["entries"][-1]["id"] and d["next_before"] == d["entries"][-1]["id"]' "audit is newest first with a cursor"
NB=$(json_get "$T/body" 'd["next_before"]')
expect_status 200 "GET /audit next page" "$BASE/audit?limit=5&before=$NB" "${A[@]}"
body_has "all(e['id'] < $NB for e in d['entries'])" "the next page is older"
expect_status 200 "full audit" "$BASE/audit?limit=1000" "${A[@]}"
body_has 'any(e["action"] == "backends.create" and e["result"] == "ok" and e["principal"] == "admin" and e["client"] == "127.0.0.1" for e in d["entries"])' "creates are audited with principal and client"
body_has 'any(e["action"] == "backends.terminate" for e in d["entries"])' "terminations are audited"

# Metrics.
expect_status 200 "GET /metrics without a token" "$BASE/metrics"
grep -q '^cloisterd_http_requests_total{.*code="201"' "$T/body" || fail "no request counter by code"
grep -q '^cloisterd_http_request_duration_seconds_bucket' "$T/body" || fail "no latency histogram"
grep -q '^cloisterd_backends{status="terminated"} 1' "$T/body" || fail "no backends-by-status gauge"
if command -v promtool >/dev/null; then
	promtool check metrics <"$T/body" >/dev/null 2>&1 || fail "promtool rejects /metrics"
	ok "promtool accepts /metrics"
fi
ok "metrics: requests by route and code, latency, backends by status"
stop_cloisterd

# The GET termination can be switched off; the POST twin stays.
python3 - "$T/cloisterd.toml" "$T" <<'PY'
import sys
p, t = sys.argv[1], sys.argv[2]
open(p, "w").write(f'[server]\nstate_dir = "{t}/state"\nallow_get_side_effects = false\n[auth]\nadmin_password_file = "{t}/admin-pw"\n[fleet]\nenabled = false\n')
PY
start_cloisterd
ADMIN=$(login admin "$ADMIN_PW")
expect_status 405 "GET terminate switched off: 405" "$BASE/backends/terminate/$ID/1" -H "Authorization: Bearer $ADMIN"
grep -q 'POST' "$T/body" || fail "the 405 message does not name the POST twin"
expect_status 204 "the POST twin still works" -X POST "$BASE/backends/$ID/terminate" -H "Authorization: Bearer $ADMIN" "${J[@]}" -d '{"type":0}'
stop_cloisterd
