#!/bin/sh
# Maintenance windows on the real portal (issue 11): an enrolled agent's
# reports marked "maintenance" open no alert and send no webhook; when the
# window's until passes by the portal's clock (the agent says nothing more)
# or the agent sends "maintenance stop", the checks still non-OK get their
# alerts and webhooks. A forecast's ETA and rate reach the webhook body.
. tests/integration/lib.sh

PORTAL=$BUILD/agentd-portal
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
	echo "--- webhooks received:"
	cat "$T/hook.log" 2>/dev/null
	fail "$@"
}

sh tests/integration/portal/mkcerts.sh "$T" >/dev/null 2>&1 ||
    fail "cannot make the test certificates"
[ -s "$T/server.pem" ] && [ -s "$T/ca.pem" ] || fail "mkcerts.sh made no server.pem/ca.pem"

# --- a webhook receiver that answers 200 and logs each body on a line
cat >"$T/hook.py" <<'PY'
import http.server, os, ssl, sys
cert, key, portfile, log = sys.argv[1:5]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(log, "a") as f:
            f.write(body.decode("utf-8", "replace") + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
open(portfile + ".tmp", "w").write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
PY
python3 "$T/hook.py" "$T/server.pem" "$T/server.key" "$T/hook.port" "$T/hook.log" \
    2>"$T/hook.err" &
HOOK_PID=$!
wait_until 10 test -s "$T/hook.port" || fail "webhook receiver did not start: $(cat "$T/hook.err")"
touch "$T/hook.log"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DB=$T/portal.db
TOKEN=$("$PORTAL" token create --db "$DB" --expires 1h --log-stderr 2>/dev/null) ||
    fail "token create failed"
OPR=$("$PORTAL" operator create alice --db "$DB" --log-stderr 2>/dev/null) ||
    fail "operator create failed"
"$PORTAL" serve --listen "127.0.0.1:$PORT" --db "$DB" --tls-cert "$T/server.pem" \
    --tls-key "$T/server.key" --report-interval 60 --log-stderr \
    --webhook "https://127.0.0.1:$(cat "$T/hook.port")/hook" \
    --webhook-ca "$T/ca.pem" >>"$T/portal.log" 2>&1 &
PORTAL_PID=$!
URL=https://127.0.0.1:$PORT/api/v1
req() {
	m=$1 p=$2
	shift 2
	curl -sS --cacert "$T/ca.pem" -X "$m" -w ' %{http_code}' "$@" "$URL$p"
}
wait_until 10 req GET /hosts -H "Authorization: Bearer $OPR" ||
    pfail "portal did not answer HTTPS within 10 s"

out=$(req POST /enroll -d "{\"token\": \"$TOKEN\", \"host\": {\"hostname\": \"db-01.test\", \"machine_id\": \"5e1f\"}}")
expect_match "enrol" "$out" ' 201$'
AGENT=$(printf '%s' "${out% *}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["agent_id"])')
CRED=$(printf '%s' "${out% *}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["credential"])')

SEQ=0
# report KIND PAYLOAD: posts one report as the agent would
report() {
	SEQ=$((SEQ + 1))
	out=$(req POST "/agents/$AGENT/reports" -H "Authorization: Bearer $CRED" \
	    -H 'Content-Type: application/json' \
	    -d "{\"reports\": [{\"seq\": $SEQ, \"kind\": \"$1\", \"time\": $(date +%s), \"payload\": $2}]}")
	case $out in *' 200') ;; *) pfail "report $SEQ ($1): $out" ;; esac
}
# jq-less: python3 prints the expression evaluated on the JSON answer j
api() {
	out=$(req GET "$1" -H "Authorization: Bearer $OPR")
	printf '%s' "${out% *}" | python3 -c "import json,sys; j=json.load(sys.stdin); print($2)"
}
hooks() { wc -l <"$T/hook.log"; }

# --- a window the agent never ends: over by the portal's clock
UNTIL=$(( $(date +%s) + 4 ))
MARK="\"maintenance\": {\"until\": $UNTIL, \"reason\": \"kernel update\"}"
report maintenance "{\"event\": \"start\", \"until\": $UNTIL, \"reason\": \"kernel update\", \"by\": \"root\"}"
report state_change "{\"check\": {\"name\": \"postgres\", \"state\": \"CRITICAL\", \"summary\": \"down for the update\"}, \"previous_state\": \"OK\", $MARK}"
report heartbeat "{\"checks\": [{\"name\": \"postgres\", \"state\": \"CRITICAL\"}], $MARK}"
expect_eq "host view maintenance reason" \
    "$(api "/hosts/$AGENT" 'j["maintenance"]["reason"], j["maintenance"]["by"], j["maintenance"]["until"] == '"$UNTIL")" \
    "kernel update root True"
expect_eq "host list in_maintenance" \
    "$(api /hosts '[h["in_maintenance"] for h in j["hosts"]]')" "[True]"
expect_eq "open alerts in the window" "$(api '/alerts?open=1' 'len(j["alerts"])')" 0
sleep 1.5
[ "$(hooks)" -eq 0 ] || pfail "a webhook was sent during the maintenance window"

wait_until 15 grep -q '"event":"opened"' "$T/hook.log" ||
    pfail "no webhook after the window ended"
now=$(date +%s)
[ "$now" -ge "$UNTIL" ] || pfail "the webhook came at $now, before the window's end $UNTIL"
grep -q '"check":"postgres".*"state":"CRITICAL"' "$T/hook.log" ||
    pfail "the webhook is not the postgres CRITICAL alert"
expect_eq "open alerts after the window" "$(api '/alerts?open=1' '[a["check"] for a in j["alerts"]]')" "['postgres']"
expect_eq "host view after the window" \
    "$(api "/hosts/$AGENT" 'j["maintenance"], j["in_maintenance"]')" "None False"
grep -q "maintenance window over" "$T/portal.log" ||
    pfail "the portal did not log the window's end"

# --- a window the agent stops early
UNTIL=$(( $(date +%s) + 3600 ))
MARK="\"maintenance\": {\"until\": $UNTIL, \"reason\": \"\"}"
report maintenance "{\"event\": \"start\", \"until\": $UNTIL, \"reason\": \"\", \"by\": \"ops\"}"
report state_change "{\"check\": {\"name\": \"nginx\", \"state\": \"WARNING\", \"summary\": \"slow\"}, \"previous_state\": \"OK\", $MARK}"
sleep 1
[ "$(hooks)" -eq 1 ] || pfail "a webhook was sent during the second window"
report maintenance "{\"event\": \"stop\", \"until\": $UNTIL, \"reason\": \"\", \"by\": \"ops\"}"
wait_until 10 grep -q '"check":"nginx"' "$T/hook.log" ||
    pfail "no webhook for nginx after maintenance stop"

# --- a forecast: the ETA and rate in the alert and its webhook
report state_change '{"check": {"name": "fs", "state": "WARNING", "summary": "/var full in ~3 d 4 h", "forecast": {"item": "/var", "resource": "space", "eta": 273600, "rate": 1288490188.8, "unit": "B"}}, "previous_state": "OK", "reason": {"type": "forecast", "item": "/var", "resource": "space", "eta": 273600, "rate": 1288490188.8, "unit": "B"}}'
wait_until 10 grep -q '"check":"fs"' "$T/hook.log" || pfail "no webhook for the forecast"
grep '"check":"fs"' "$T/hook.log" | grep -q '"eta":273600' ||
    pfail "the forecast's webhook has no eta"
grep '"check":"fs"' "$T/hook.log" | grep -q '/var full in ~3 d 4 h at 1.2 GiB/day' ||
    pfail "the forecast's webhook does not say the ETA and rate"
expect_eq "host view forecast" \
    "$(api "/hosts/$AGENT" '[c["forecast"]["eta"] for c in j["checks"] if c["name"] == "fs"]')" "[273600]"

# --- a hostile window: refused by name
SEQ=$((SEQ + 1))
out=$(req POST "/agents/$AGENT/reports" -H "Authorization: Bearer $CRED" \
    -H 'Content-Type: application/json' \
    -d "{\"reports\": [{\"seq\": $SEQ, \"kind\": \"maintenance\", \"time\": 1, \"payload\": {\"event\": \"start\", \"until\": -1}}]}")
expect_match "negative until" "$out" 'payload.until.* 400$'

kill -TERM "$PORTAL_PID"
wait "$PORTAL_PID"
expect_eq "portal exit status" "$?" 0
PORTAL_PID=""
echo "PASS: test_portal_maintenance"
