#!/bin/sh
# Remote support sessions in the real portal: support_event reports sent
# through the report API (gzip, as the agent sends them) become
# GET /api/v1/hosts/{id}/sessions with the derived state and the whole
# trail, newest session first; a retried batch is not doubled; only an
# operator reads it. Hostile: a huge and a deeply nested support_event
# and a request that trickles its body are refused in bounded time.
. tests/integration/lib.sh

PORTAL=$BUILD/agentd-portal
PORTAL_PID=""
[ -x "$PORTAL" ] || fail "$PORTAL not built"
command -v curl >/dev/null || fail "curl CLI missing"
ps_cleanup() {
	if [ -n "$PORTAL_PID" ]; then
		kill -KILL "$PORTAL_PID" 2>/dev/null
		wait "$PORTAL_PID" 2>/dev/null
	fi
	cleanup
}
trap ps_cleanup EXIT
pfail() {
	[ -s "$T/portal.log" ] && { echo "--- portal log:"; tail -n 15 "$T/portal.log"; }
	fail "$@"
}

sh tests/integration/portal/mkcerts.sh "$T" || fail "mkcerts"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DB=$T/portal.db
OPR=$("$PORTAL" operator create alice --db "$DB") || fail "operator create"
TOKEN=$("$PORTAL" token create --db "$DB") || fail "token create"
"$PORTAL" serve --listen "127.0.0.1:$PORT" --db "$DB" --tls-cert "$T/server.pem" \
    --tls-key "$T/server.key" --log-stderr --request-timeout 3 >>"$T/portal.log" 2>&1 &
PORTAL_PID=$!
URL=https://127.0.0.1:$PORT/api/v1
req() {
	m=$1 p=$2
	shift 2
	curl -sS --max-time 20 --cacert "$T/ca.pem" -X "$m" -w ' %{http_code}' "$@" "$URL$p"
}
wait_until 10 req GET /hosts -H "Authorization: Bearer $OPR" ||
    pfail "portal did not answer within 10 s"
out=$(req POST /enroll -d "{\"token\": \"$TOKEN\", \"host\": {\"hostname\": \"h1\", \"machine_id\": \"m1\"}}")
expect_match "enrol" "$out" ' 201$'
AGENT=$(printf '%s' "${out% *}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["agent_id"])')
CRED=$(printf '%s' "${out% *}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["credential"])')

S1=ses_00000000000000a1 S2=ses_00000000000000b2 S3=ses_00000000000000c3
# post FILE: the batch in FILE, gzipped, as the agent's reporter sends it
post() {
	gzip -c "$1" > "$1.gz"
	req POST "/agents/$AGENT/reports" -H "Authorization: Bearer $CRED" \
	    -H 'Content-Type: application/json' -H 'Content-Encoding: gzip' \
	    --data-binary "@$1.gz"
}
ev() {	# seq session event at extra-json
	printf '{"seq": %s, "kind": "support_event", "time": %s, "payload": {"session": "%s", "event": "%s", "at": %s%s}}' \
	    "$1" "$4" "$2" "$3" "$4" "${5:+, $5}"
}
sessions() { req GET "/hosts/$AGENT/sessions" -H "Authorization: Bearer $OPR"; }
# state N: the state of the Nth session listed
state() { printf '%s' "${1% *}" | python3 -c "import json,sys; print(json.load(sys.stdin)[$2]['state'])"; }

{
	printf '{"reports": ['
	ev 1 $S1 requested 1000 '"by": "eve@provider", "reason": "disk full", "ttl": 3600, "origin": "portal", "ignored": {"deep": [1]}'
	printf ']}'
} > "$T/b1.json"
out=$(post "$T/b1.json")
expect_match "requested" "$out" '"ack":1.* 200$'
expect_eq "state after requested" "$(state "$(sessions)" 0)" waiting
{
	printf '{"reports": ['
	ev 2 $S1 approved 1001 '"by": "root"'; printf ','
	ev 3 $S1 opened 1002 '"bastion": "bastion.example:22", "forward_port": 40001, "expires": 4602'; printf ','
	ev 4 $S1 connection_opened 1003 '"conn": 1'
	printf ']}'
} > "$T/b2.json"
out=$(post "$T/b2.json")
expect_match "opened" "$out" '"ack":4.* 200$'
expect_eq "state after opened" "$(state "$(sessions)" 0)" open
# the same batch again (a retry): acknowledged, not stored twice
out=$(post "$T/b2.json")
expect_match "retry" "$out" '"ack":4.* 200$'
{
	printf '{"reports": ['
	ev 5 $S1 connection_closed 1004 '"conn": 1, "bytes_in": 1234, "bytes_out": 5678'; printf ','
	ev 6 $S2 requested 1005 '"by": "mallory", "reason": "curious", "ttl": 600, "origin": "portal"'; printf ','
	ev 7 $S1 closed 1006 '"reason": "closed", "by": "root"'; printf ','
	ev 8 $S2 denied 1007 '"by": "root"'; printf ','
	ev 9 $S3 requested 1008 '"by": "local", "origin": "local", "ttl": 60'; printf ','
	ev 10 $S3 expired 1068
	printf ']}'
} > "$T/b3.json"
out=$(post "$T/b3.json")
expect_match "the rest" "$out" '"ack":10.* 200$'

out=$(sessions)
expect_match "sessions answer" "$out" ' 200$'
printf '%s' "${out% *}" > "$T/sessions.json"
python3 - "$T/sessions.json" <<'PY' || fail "sessions: $(cat "$T/sessions.json")"
import json, sys
s = json.load(open(sys.argv[1]))
def check(what, got, want):
    if got != want:
        print("FAIL: %s: got %r, want %r" % (what, got, want))
        sys.exit(1)
check("sessions, newest first", [x["session"] for x in s],
      ["ses_00000000000000c3", "ses_00000000000000b2", "ses_00000000000000a1"])
check("states", [x["state"] for x in s], ["expired", "denied", "closed"])
a = s[2]
check("requested_by", a["requested_by"], "eve@provider")
check("reason", a["reason"], "disk full")
check("opened", a["opened"], 1002)
check("closed", a["closed"], 1006)
check("close_reason", a["close_reason"], "closed")
check("trail", [e["event"] for e in a["events"]],
      ["requested", "approved", "opened", "connection_opened", "connection_closed", "closed"])
check("bytes", (a["events"][4]["bytes_in"], a["events"][4]["bytes_out"]), (1234, 5678))
check("approved by", a["events"][1]["by"], "root")
check("unknown members not kept", "ignored" in a["events"][0], False)
check("received stamps", all(isinstance(e["received"], (int, float)) for e in a["events"]), True)
check("denied: reason", (s[1]["close_reason"], s[1]["requested_by"], s[1]["opened"]), ("denied", "mallory", None))
check("expired", (s[0]["close_reason"], s[0]["closed"]), ("expired", 1068))
PY
# only an operator reads it
out=$(req GET "/hosts/$AGENT/sessions" -H "Authorization: Bearer $CRED")
expect_match "an agent cannot read sessions" "$out" ' 401$'
out=$(req GET "/hosts/no-such-host/sessions" -H "Authorization: Bearer $OPR")
expect_match "no such host" "$out" ' 404$'

# --- malformed events are refused, naming the field, and nothing is kept
printf '{"reports": [%s]}' "$(ev 11 ses_XYZ opened 1)" > "$T/bad.json"
out=$(post "$T/bad.json")
expect_match "a bad session id" "$out" 'reports\[0\].payload.session: expected ses_.* 400$'
printf '{"reports": [%s]}' "$(ev 11 $S1 teleported 1)" > "$T/bad.json"
out=$(post "$T/bad.json")
expect_match "an unknown event" "$out" 'payload.event: expected requested.* 400$'

# --- hostile, each refused in bounded time
elapsed() { python3 -c 'import sys,time; print(int((time.time() - float(sys.argv[1])) * 1000))' "$1"; }
python3 -c '
import sys
d = 60
print("{\"reports\": [{\"seq\": 11, \"kind\": \"support_event\", \"time\": 1, \"payload\": {\"session\": \"ses_00000000000000d4\", \"event\": \"failed\", \"at\": 1, \"detail\": " + "[" * d + "1" + "]" * d + ", \"x\": " + "[" * 100000 + "]" * 100000 + "}}]}")' > "$T/deep.json"
t0=$(python3 -c 'import time; print(time.time())')
out=$(post "$T/deep.json")
ms=$(elapsed "$t0")
expect_match "a deeply nested support_event" "$out" 'nested deeper than .* 400$'
[ "$ms" -lt 5000 ] || fail "the deep body took $ms ms"
echo "  deep (100000 levels, $(wc -c < "$T/deep.json.gz") bytes gzipped): 400 in $ms ms"
python3 -c '
print("{\"reports\": [{\"seq\": 11, \"kind\": \"support_event\", \"time\": 1, \"payload\": {\"session\": \"ses_00000000000000d4\", \"event\": \"failed\", \"at\": 1, \"detail\": \"" + "A" * (16 * 1024 * 1024) + "\"}}]}")' > "$T/huge.json"
t0=$(python3 -c 'import time; print(time.time())')
out=$(post "$T/huge.json")
ms=$(elapsed "$t0")
expect_match "a huge support_event" "$out" 'after gzip decompression.* 413$'
[ "$ms" -lt 5000 ] || fail "the huge body took $ms ms"
echo "  huge (16 MiB inflated): 413 in $ms ms"
python3 -c '
print("{\"reports\": [{\"seq\": 11, \"kind\": \"support_event\", \"time\": 1, \"payload\": {\"session\": \"ses_00000000000000d4\", \"event\": \"failed\", \"at\": 1, \"detail\": \"" + "A" * 600 + "\"}}]}")' > "$T/long.json"
out=$(post "$T/long.json")
expect_match "a detail over 512 bytes" "$out" 'payload.detail: expected a string of at most 512 bytes.* 400$'
# a body that trickles a byte a second is cut off at --request-timeout 3
ms=$(python3 - "$PORT" "$AGENT" "$CRED" <<'PY'
import socket, ssl, sys, time
port, agent, cred = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5))
t0 = time.time()
s.sendall(("POST /api/v1/agents/%s/reports HTTP/1.1\r\nHost: x\r\n"
           "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
           "Content-Length: 1000\r\n\r\n" % (agent, cred)).encode())
try:
    for i in range(30):			# at most 30 s
        s.sendall(b" ")
        s.settimeout(1.0)
        try:
            if s.recv(1) == b"":
                break
        except socket.timeout:
            pass
        except (ssl.SSLError, OSError):
            break
except (ssl.SSLError, OSError):
    pass
print(int((time.time() - t0) * 1000))
PY
)
[ "$ms" -lt 6000 ] || fail "a trickling request was held $ms ms (--request-timeout 3)"
echo "  a trickled body: cut off after $ms ms (--request-timeout 3)"
# the portal still serves and the trail is unchanged
out=$(sessions)
expect_match "still serving" "$out" ' 200$'
n=$(printf '%s' "${out% *}" | python3 -c 'import json,sys; print(sum(len(x["events"]) for x in json.load(sys.stdin)))')
expect_eq "events kept" "$n" 10
echo "PASS: test_portal_sessions"
