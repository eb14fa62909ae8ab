# End to end: enrol against the real portal, stop the portal for
# OUTAGE_SECONDS (60) while a check changes state, kill -9 the agent once
# during the outage; after restart every report arrives, in order, exactly
# once. Then a revoked credential gets 401 and the agent says so.
. tests/integration/lib.sh

OUTAGE_SECONDS=${OUTAGE_SECONDS:-60}
make_certs
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PORTAL_PID=""
trap '[ -n "$PORTAL_PID" ] && kill $PORTAL_PID 2>/dev/null; cleanup' EXIT

start_portal() {
	"$BUILD/agentd-portal" serve --listen "127.0.0.1:$PORT" --db "$T/portal.db" \
	    --tls-cert "$T/certs/server.pem" --tls-key "$T/certs/server.key" \
	    --report-interval 2 --log-stderr >>"$T/portal.log" 2>&1 &
	PORTAL_PID=$!
	wait_until 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT))" ||
	    fail "the portal did not listen on $PORT: $(tail -5 "$T/portal.log")"
}

# flip: a plugin whose exit code is whatever $T/flip.state says.
cat > "$T/flip" <<SH
#!/bin/sh
s=\$(cat $T/flip.state)
echo "FLIP state \$s"
exit \$s
SH
chmod +x "$T/flip"
echo 0 > "$T/flip.state"
write_config <<EOF2
[portal]
connect_timeout = 2s
timeout = 5s
[check.flip]
command = $T/flip
interval = 2s
timeout = 1s
EOF2

start_portal
"$BUILD/agentd-portal" token create --db "$T/portal.db" --expires 1h > "$T/token" ||
    fail "token create"
out=$("$AGENTCTL" --config "$T/agentd.conf" enroll --portal "https://127.0.0.1:$PORT" \
    --token-file "$T/token" --ca "$T/certs/ca.pem" 2>&1) || fail "enrol: $out"
start_agentd
wait_until 30 spool_drained || fail "first reports not delivered: $(ctl status | head -5)"
[ "$(report_field acked)" -gt 0 ] || fail "nothing acknowledged"

# The outage: the portal goes away; the check changes state; the agent is
# killed outright once and comes back.
kill "$PORTAL_PID"; wait "$PORTAL_PID" 2>/dev/null; PORTAL_PID=""
step=$((OUTAGE_SECONDS / 5))
echo 1 > "$T/flip.state"; sleep "$step"
echo 2 > "$T/flip.state"; sleep "$step"
kill -KILL "$AGENTD_PID"; wait "$AGENTD_PID" 2>/dev/null; AGENTD_PID=""
start_agentd
sleep "$step"
echo 3 > "$T/flip.state"; sleep "$step"
echo 0 > "$T/flip.state"; sleep "$step"
[ "$(report_field spool_depth)" -gt 0 ] || fail "nothing spooled during the outage"

start_portal
# Back-off is capped at 5 min but after a 60 s outage the next try is
# within about 64 s.
wait_until 150 spool_drained || fail "spool not drained after the outage: $(ctl status | head -5)"
acked=$(report_field acked)

python3 - "$T/portal.db" "$acked" <<'PY' || fail "reports in the portal"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
acked = int(sys.argv[2])
rows = db.execute("SELECT seq, kind, received, payload FROM reports ORDER BY seq").fetchall()
seqs = [r[0] for r in rows]
# The agent keeps reporting while we look: more may have arrived since it
# said what was acknowledged, but never a gap, a duplicate or less.
assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= acked, \
    "want every seq 1..>=%d exactly once, got %d rows: %s" % (acked, len(seqs), seqs)
received = [r[2] for r in rows]
assert received == sorted(received), "reports stored out of order"
changes = [(json.loads(p)["check"]["state"], json.loads(p)["previous_state"])
           for s, k, r, p in rows
           if k == "state_change" and json.loads(p)["check"]["name"] == "flip"]
want = [("WARNING", "OK"), ("CRITICAL", "WARNING"), ("CRITICAL", "PENDING"),
        ("UNKNOWN", "CRITICAL"), ("OK", "UNKNOWN")]
assert changes == want, "flip's state changes: %s, want %s" % (changes, want)
print("portal holds reports 1..%d once each, in order; flip changes %s" % (len(seqs), changes))
PY

# A command from an operator: the agent runs the check and reports back.
"$BUILD/agentd-portal" operator create ops --db "$T/portal.db" > "$T/operator" ||
    fail "operator create"
python3 - "$T/state/identity" "$PORT" "$T/certs/ca.pem" "$T/operator" <<'PY' || fail "run_check command"
import http.client, json, ssl, sys, time
ident = json.load(open(sys.argv[1]))
ctx = ssl.create_default_context(cafile=sys.argv[3])
auth = {"Authorization": "Bearer " + open(sys.argv[4]).read().strip(),
        "Content-Type": "application/json"}
def call(method, path, body=None):
    c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[2]), context=ctx)
    c.request(method, path, body=json.dumps(body) if body else None, headers=auth)
    r = c.getresponse()
    return r.status, json.loads(r.read() or b"{}")
path = "/api/v1/hosts/%s/commands" % ident["agent_id"]
st, r = call("POST", path, {"type": "run_check", "args": {"name": "flip"}})
assert st == 201, (st, r)
for _ in range(100):
    st, r = call("GET", path)
    cmd = [c for c in r["commands"] if c["type"] == "run_check"][0]
    if cmd["status"] != "pending":
        break
    time.sleep(0.3)
assert cmd["status"] == "done" and "flip: OK" in cmd["detail"], cmd
PY

# A revoked credential: 401, logged, reports kept.
python3 - "$T/state/identity" "$PORT" "$T/certs/ca.pem" <<'PY' || fail "revoke"
import http.client, json, ssl, sys
ident = json.load(open(sys.argv[1]))
ctx = ssl.create_default_context(cafile=sys.argv[3])
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[2]), context=ctx)
c.request("DELETE", "/api/v1/agents/" + ident["agent_id"],
          headers={"Authorization": "Bearer " + ident["credential"]})
r = c.getresponse()
assert r.status == 204, (r.status, r.read())
PY
echo 1 > "$T/flip.state"
wait_until 60 grep -q "the portal refused this agent's credential" "$T/agentd.log" ||
    fail "no credential-refused log line after revocation"
grep -q "re-enrol the host with agentctl enroll" "$T/agentd.log" || fail "no hint to re-enrol"
[ "$(report_field spool_depth)" -gt 0 ] || fail "reports dropped after 401"
stop_agentd || fail "agentd exited $? on SIGTERM"
exit 0
