#!/bin/sh
# agentd-portal end to end on loopback: a test CA and server certificate,
# the real portal, enrolment and gzip reports with the curl CLI, the
# operator API, error codes (400/401/413/429), the dead-man's switch and
# webhook delivery (with a retry) to a python3 HTTPS receiver.
. tests/integration/lib.sh

PORTAL=$BUILD/agentd-portal
HELP=$TOP/tests/integration/portal
PORTAL_PID="" HOOK_PID=""
[ -x "$PORTAL" ] || fail "$PORTAL not built"
command -v curl >/dev/null || fail "curl CLI missing (packaging/build-deps.sh)"
command -v openssl >/dev/null || fail "openssl CLI missing"

portal_cleanup() {
	for p in $PORTAL_PID $HOOK_PID; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	cleanup
}
trap portal_cleanup EXIT

pfail() {
	if [ -s "$T/portal.log" ]; then
		echo "--- last lines of the portal's log:"
		tail -n 20 "$T/portal.log"
	fi
	fail "$@"
}

# --- a CA and a server certificate for 127.0.0.1 and localhost
cd "$T" || exit 1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ca.key -out ca.pem -days 2 -subj /CN=agentd-test-ca \
    >/dev/null 2>&1 || fail "openssl: cannot make the CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout srv.key -out srv.csr -subj /CN=localhost >/dev/null 2>&1 ||
    fail "openssl: cannot make the server key"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out srv.pem -days 2 -extfile ext >/dev/null 2>&1 ||
    fail "openssl: cannot sign the server certificate"
cd "$TOP" || exit 1

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- webhook receiver (first answer 500)
python3 "$HELP/webhook_receiver.py" "$T/srv.pem" "$T/srv.key" "$T/hook.port" \
    "$T/hook.log" 2>"$T/hook.err" &
HOOK_PID=$!
wait_until 10 test -s "$T/hook.port" || fail "webhook receiver did not start: $(cat "$T/hook.err")"
HOOK_PORT=$(cat "$T/hook.port")

# --- usage errors
"$PORTAL" serve --db "$T/db" >/dev/null 2>&1
expect_eq "serve without --listen exit status" "$?" 2
out=$("$PORTAL" token create --db "$T/db" --expires 5x 2>&1)
expect_eq "bad --expires exit status" "$?" 2
expect_match "bad --expires message" "$out" "--expires 5x"
# enrolment tokens last at most 30 days; no duration overflows
for e in 31d 99999999d 18446744073709551617s 213503982334601d; do
	out=$("$PORTAL" token create --db "$T/db" --expires $e 2>&1)
	expect_eq "--expires $e exit status" "$?" 2
done
expect_match "--expires above the limit" "$out" "at most 30d"
"$PORTAL" --help | grep -q "token create" || fail "--help does not list token create"

DB=$T/portal.db
PORT=$(free_port)
TOKEN=$("$PORTAL" token create --db "$DB" --expires 1h --log-stderr) ||
    fail "token create failed"
expect_match "token" "$TOKEN" '^enr_[A-Za-z0-9_-]{43}$'
OPR=$("$PORTAL" operator create alice --db "$DB" --log-stderr) ||
    fail "operator create failed"
expect_match "operator token" "$OPR" '^opr_[A-Za-z0-9_-]{43}$'

"$PORTAL" serve --listen "127.0.0.1:$PORT" --db "$DB" --tls-cert "$T/srv.pem" \
    --tls-key "$T/srv.key" --report-interval 1 --log-stderr \
    --webhook "https://127.0.0.1:$HOOK_PORT/hook" --webhook-ca "$T/ca.pem" \
    >>"$T/portal.log" 2>&1 &
PORTAL_PID=$!
URL=https://127.0.0.1:$PORT/api/v1

# req METHOD PATH [curl args...]: prints "BODY STATUS"
req() {
	m=$1 p=$2
	shift 2
	curl -sS --cacert "$T/ca.pem" -X "$m" -w ' %{http_code}' "$@" "$URL$p"
}
wait_until 10 req GET /hosts -H "Authorization: Bearer $OPR" ||
    pfail "portal did not answer HTTPS within 10 s"
# no plain HTTP
curl -sS "http://127.0.0.1:$PORT/api/v1/hosts" >/dev/null 2>&1 &&
    pfail "the portal answered plain HTTP"

# --- enrolment
host='{"hostname": "web-01.test", "machine_id": "0f8c5a1e9b7d4c3a8e2f6b1d0c9a7e5f", "os": "Debian", "cpus": 2}'
out=$(req POST /enroll -d "{\"token\": \"$TOKEN\", \"host\": $host}")
expect_match "enrol" "$out" ' 201$'
AGENT=$(printf '%s' "${out% *}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["agent_id"])')
CRED=$(printf '%s' "${out% *}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["credential"])')
expect_match "credential" "$CRED" '^agc_'
expect_match "report_interval" "$out" '"report_interval":1'
expect_match "bastion" "$out" '"bastion":null'
out=$(req POST /enroll -d "{\"token\": \"$TOKEN\", \"host\": $host}")
expect_match "used token" "$out" '^\{"error":"token: .*\} 401$'
out=$(req POST /enroll -d '{"token": "enr_x", "host": {"hostname": "h"}}')
expect_match "enrol without machine_id" "$out" 'host.machine_id: missing.* 400$'

# --- gzip reports, idempotent
cat >"$T/batch.json" <<JSON
{"reports": [
 {"seq": 1, "kind": "heartbeat", "time": 1795430400.1, "payload": {"agent": {"version": "0.1.0"},
  "checks": [{"name": "disk", "kind": "collector", "state": "OK", "summary": "fine", "when": 100},
             {"name": "load", "state": "OK", "summary": "fine", "when": 100}]}},
 {"seq": 2, "kind": "state_change", "time": 1795430401.5, "payload": {"check":
  {"name": "nginx", "kind": "external", "state": "CRITICAL", "summary": "connection refused", "when": 101},
  "previous_state": "OK"}},
 {"seq": 3, "kind": "inventory", "time": 1795430402, "payload": {"host": {"hostname": "web-01.test", "kernel": "6.1"}}},
 {"seq": 4, "kind": "some_future_kind", "time": 1795430403, "payload": {}}
]}
JSON
gzip -c "$T/batch.json" >"$T/batch.gz"
auth="Authorization: Bearer $CRED"
post_gz() {
	req POST "/agents/$AGENT/reports" -H "$auth" -H 'Content-Type: application/json' \
	    -H 'Content-Encoding: gzip' --data-binary "@$1"
}
out=$(post_gz "$T/batch.gz")
expect_match "first post" "$out" '^\{"ack":4,"commands":\[\]\} 200$'
out=$(post_gz "$T/batch.gz")
expect_match "same batch again" "$out" '^\{"ack":4,"commands":\[\]\} 200$'
n=$(sqlite3 "$DB" "SELECT count(*) FROM reports WHERE agent_id = '$AGENT'" 2>/dev/null ||
    python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM reports').fetchone()[0])" "$DB")
expect_eq "reports stored once" "$n" 4
out=$(req GET "/hosts" -H "Authorization: Bearer $OPR")
expect_match "hosts list" "$out" "\"id\":\"$AGENT\",\"hostname\":\"web-01.test\",\"status\":\"critical\".*\"counts\":\\{\"OK\":2,\"WARNING\":0,\"CRITICAL\":1,\"UNKNOWN\":0\\}.* 200$"
out=$(req GET "/hosts/$AGENT" -H "Authorization: Bearer $OPR")
expect_match "host detail" "$out" '"inventory":\{"hostname":"web-01.test","kernel":"6.1"\}.*"checks":\[.*"name":"nginx".*\].* 200$'
out=$(req GET "/alerts?open=1" -H "Authorization: Bearer $OPR")
expect_match "nginx alert open" "$out" '"kind":"check","check":"nginx","state":"CRITICAL"'

# --- commands round trip
out=$(req POST "/hosts/$AGENT/commands" -H "Authorization: Bearer $OPR" -d '{"type": "run_check", "args": {"name": "disk"}}')
expect_match "command queued" "$out" '^\{"id":"cmd_1"\} 201$'
out=$(req POST "/hosts/$AGENT/commands" -H "Authorization: Bearer $OPR" -d '{"type": "reboot", "args": {}}')
expect_match "bad command type" "$out" '"type: expected .* 400$'
printf '{"reports": [{"seq": 5, "kind": "heartbeat", "time": 1795430404, "payload": {"checks": []}}]}' >"$T/b5.json"
out=$(req POST "/agents/$AGENT/reports" -H "$auth" --data-binary "@$T/b5.json")
expect_match "command handed out" "$out" '^\{"ack":5,"commands":\[\{"id":"cmd_1","type":"run_check","args":\{"name":"disk"\}\}\]\} 200$'
printf '{"reports": [{"seq": 6, "kind": "command_result", "time": 1795430405, "payload": {"command_id": "cmd_1", "type": "run_check", "status": "done", "detail": "disk: OK"}}]}' >"$T/b6.json"
out=$(req POST "/agents/$AGENT/reports" -H "$auth" --data-binary "@$T/b6.json")
expect_match "command result" "$out" '^\{"ack":6,"commands":\[\]\} 200$'
out=$(req GET "/hosts/$AGENT/commands" -H "Authorization: Bearer $OPR")
expect_match "command done" "$out" '"status":"done","detail":"disk: OK"'

# --- errors
out=$(req POST "/agents/$AGENT/reports" -H "Authorization: Bearer agc_wrong" --data-binary "@$T/b5.json")
expect_match "wrong credential" "$out" ' 401$'
out=$(req POST "/agents/$AGENT/reports" --data-binary "@$T/b5.json")
expect_match "no credential" "$out" 'Authorization: missing.* 401$'
out=$(req POST "/agents/00000000-0000-4000-8000-000000000000/reports" -H "$auth" --data-binary "@$T/b5.json")
expect_match "unknown agent" "$out" ' 404$'
out=$(req POST "/agents/$AGENT/reports" -H "$auth" -d '{"reports": [{"seq": "7", "kind": "x", "time": 1, "payload": {}}]}')
expect_match "400 names the field" "$out" '^\{"error":"reports\[0\]\.seq: expected an integer"\} 400$'
out=$(req POST "/agents/$AGENT/reports" -H "$auth" -d 'not json')
expect_match "400 for garbage" "$out" 'body: invalid JSON.* 400$'
out=$(req POST "/agents/$AGENT/reports" -H "$auth" -H 'Content-Encoding: gzip' -d 'not gzip')
expect_match "400 for a corrupt gzip body" "$out" 'gzip.* 400$'
head -c 1100000 /dev/zero | tr '\0' ' ' >"$T/big"
out=$(req POST "/agents/$AGENT/reports" -H "$auth" --data-binary "@$T/big")
expect_match "413 for > 1 MiB" "$out" ' 413$'
head -c 9000000 /dev/zero | tr '\0' ' ' | gzip -c >"$T/bomb.gz"
out=$(post_gz "$T/bomb.gz")
expect_match "413 for > 8 MiB inflated" "$out" 'after gzip decompression.* 413$'
python3 -c 'import json; print(json.dumps({"reports": [{"seq": i, "kind": "x", "time": 1, "payload": {}} for i in range(1, 102)]}))' >"$T/101.json"
out=$(req POST "/agents/$AGENT/reports" -H "$auth" --data-binary "@$T/101.json")
expect_match "413 for 101 reports" "$out" 'at most 100 per request.* 413$'
out=$(req GET /hosts -H "Authorization: Bearer opr_wrong")
expect_match "wrong operator token" "$out" ' 401$'
out=$(req GET /nothing)
expect_match "unknown endpoint" "$out" '"error".* 404$'
out=$(curl -sS --cacert "$T/ca.pem" -w ' %{http_code}' "https://127.0.0.1:$PORT/api/v2/hosts")
expect_match "v2 not served" "$out" ' 404$'
# %00 would truncate the host id: refused, as is any escaped control byte
out=$(req GET "/hosts/$AGENT%00trailing" -H "Authorization: Bearer $OPR")
expect_match "%00 in the path" "$out" 'URL: escaped NUL.* 400$'
out=$(req POST "/agents/$AGENT%00x/reports" -H "$auth" --data-binary "@$T/b5.json")
expect_match "%00 in an agent path" "$out" ' 400$'
out=$(req GET "/hosts/$AGENT%0a" -H "Authorization: Bearer $OPR")
expect_match "%0a in the path" "$out" ' 400$'
# duplicate keys: refused as the agent refuses them
out=$(req POST "/agents/$AGENT/reports" -H "$auth" -d '{"reports": [], "reports": [{"seq": 1}]}')
expect_match "duplicate keys" "$out" 'duplicate object key.* 400$'
# alert paging (a second alert: disk critical)
out=$(req POST "/agents/$AGENT/reports" -H "$auth" -d '{"reports": [{"seq": 7, "kind": "state_change", "time": 1, "payload": {"check": {"name": "disk", "state": "CRITICAL"}}}]}')
expect_match "second alert" "$out" ' 200$'
out=$(req GET "/alerts?limit=0" -H "Authorization: Bearer $OPR")
expect_match "limit=0" "$out" 'limit: expected an integer from 1 to 1000.* 400$'
out=$(req GET "/alerts?before=x" -H "Authorization: Bearer $OPR")
expect_match "before=x" "$out" 'before: expected an integer.* 400$'
out=$(req GET "/alerts?limit=1" -H "Authorization: Bearer $OPR")
expect_match "one alert a page" "$out" '^\{"alerts":\[\{"id":[0-9]+,[^]]*\],"next":[0-9]+\} 200$'
next=$(printf '%s' "${out% *}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["next"])')
out=$(req GET "/alerts?limit=1000&before=$next" -H "Authorization: Bearer $OPR")
expect_match "last page" "$out" '"next":null\} 200$'

# --- rate limit: 20/s, bursts of 100
out=$(python3 "$HELP/burst.py" "$T/ca.pem" "$PORT" "$AGENT" "$CRED" 150) ||
    pfail "burst.py failed"
expect_match "rate limit" "$out" '^ok=[0-9]+ limited=[1-9][0-9]* retry_after=[1-9]'
ok=${out#ok=}
ok=${ok%% *}
[ "$ok" -ge 100 ] || pfail "rate limit: only $ok of the burst accepted ($out)"

# --- dead-man's switch (report interval 1 s: unreachable after 3 s)
sleep 1
deadman() {
	req GET "/hosts/$AGENT" -H "Authorization: Bearer $OPR" | grep -q '"status":"unreachable"'
}
wait_until 6 deadman || pfail "host not unreachable within ~4 s of silence"
out=$(req GET "/alerts?open=1" -H "Authorization: Bearer $OPR")
expect_match "unreachable alert" "$out" '"kind":"unreachable"'
grep -q 'unreachable' "$T/portal.log" || pfail "no unreachable log line"
out=$(req POST "/agents/$AGENT/reports" -H "$auth" -d '{"reports": []}')
expect_match "report after silence" "$out" ' 200$'
out=$(req GET "/alerts?open=1" -H "Authorization: Bearer $OPR")
printf '%s' "$out" | grep -q '"kind":"unreachable"' && pfail "unreachable alert still open: $out"
out=$(req GET "/hosts/$AGENT" -H "Authorization: Bearer $OPR")
expect_match "host back" "$out" '"status":"critical"'

# --- webhook: first attempt 500, retried, delivered
delivered() { grep -q '^200 .*"event":"opened"' "$T/hook.log"; }
wait_until 15 delivered || pfail "webhook not delivered: $(cat "$T/hook.log" 2>/dev/null)"
grep -q '^500 ' "$T/hook.log" || pfail "receiver never answered 500 (no retry tested)"
first=$(head -n 1 "$T/hook.log" | cut -d' ' -f2-)
grep -qF "200 $first" "$T/hook.log" || pfail "the refused event was not retried"

# --- unenrol revokes the credential
out=$(req DELETE "/agents/$AGENT" -H "$auth")
expect_match "unenrol" "$out" ' 204$'
out=$(req POST "/agents/$AGENT/reports" -H "$auth" -d '{"reports": []}')
expect_match "revoked credential" "$out" ' 401$'
out=$(req GET "/hosts" -H "Authorization: Bearer $OPR")
expect_match "unenrolled host" "$out" '"status":"unenrolled"'

# --- clean stop
kill -TERM "$PORTAL_PID"
wait "$PORTAL_PID"
rc=$?
PORTAL_PID=""
expect_eq "exit status after SIGTERM" "$rc" 0
grep -q 'agentd-portal stopped' "$T/portal.log" || pfail "no stop message"
echo "PASS: test_portal"
