# A check that has not run yet is PENDING in the heartbeat: the real portal
# stores that heartbeat (it used to answer 400 and the agent dropped it),
# shows the check as PENDING, then its real state; after an agent restart
# a check that was CRITICAL stays CRITICAL, alert open, while it is PENDING.
. tests/integration/lib.sh

make_certs
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PORTAL_PID=""
trap '[ -n "$PORTAL_PID" ] && kill $PORTAL_PID 2>/dev/null; cleanup' EXIT

"$BUILD/agentd-portal" serve --listen "127.0.0.1:$PORT" --db "$T/portal.db" \
    --tls-cert "$T/certs/server.pem" --tls-key "$T/certs/server.key" \
    --report-interval 1 --log-stderr >>"$T/portal.log" 2>&1 &
PORTAL_PID=$!
wait_until 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT))" ||
    fail "the portal did not listen on $PORT"

# slow: its first run after $T/slow.first appears takes 12 s (longer than
# the report interval), then it is CRITICAL.
cat > "$T/slow" <<SH
#!/bin/sh
if [ -e $T/slow.first ]; then rm -f $T/slow.first; sleep 12; fi
echo "SLOW CRITICAL"
exit 2
SH
chmod +x "$T/slow"
touch "$T/slow.first"
write_config <<EOF2
[portal]
connect_timeout = 2s
timeout = 5s
[check.slow]
command = $T/slow
interval = 30s
timeout = 20s
EOF2

"$BUILD/agentd-portal" token create --db "$T/portal.db" --expires 1h > "$T/token" ||
    fail "token create"
out=$("$AGENTCTL" --config "$T/agentd.conf" enroll --portal "https://127.0.0.1:$PORT" \
    --token-file "$T/token" --ca "$T/certs/ca.pem" 2>&1) || fail "enrol: $out"

# q SQL: one value from the portal's database.
q() {
	python3 - "$T/portal.db" "$1" <<'PY'
import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()
print("" if r is None or r[0] is None else r[0])
PY
}
slow_is() {
	[ "$(q "SELECT state FROM checks WHERE name = 'slow'")" = "$1" ]
}
more_pending_beats() {
	[ "$(pending_beats)" -gt "$1" ]
}
pending_beats() {
	q "SELECT count(*) FROM reports WHERE kind = 'heartbeat' AND payload LIKE '%\"name\":\"slow\"%\"state\":\"PENDING\"%' OR (kind = 'heartbeat' AND payload LIKE '%\"state\":\"PENDING\"%\"name\":\"slow\"%')"
}

start_agentd
wait_until 20 slow_is PENDING ||
    fail "the check never showed as PENDING on the portal: $(tail -3 "$T/portal.log")"
[ "$(pending_beats)" -ge 1 ] || fail "no heartbeat with a PENDING check stored"
grep -q 'portal refused report' "$T/agentd.log" && fail "the agent dropped a report"
wait_until 20 slow_is CRITICAL ||
    fail "the check never got its real state"
expect_eq "open alerts" "$(q "SELECT count(*) FROM alerts WHERE closed IS NULL AND check_name = 'slow'")" 1

# Restart: PENDING again on the agent, CRITICAL stays on the portal.
stop_agentd || fail "agentd exited $? on SIGTERM"
before=$(pending_beats)
touch "$T/slow.first"
start_agentd
wait_until 20 more_pending_beats "$before" ||
    fail "no PENDING heartbeat stored after the restart"
expect_eq "state while PENDING" "$(q "SELECT state FROM checks WHERE name = 'slow'")" CRITICAL
expect_eq "open alerts while PENDING" "$(q "SELECT count(*) FROM alerts WHERE closed IS NULL AND check_name = 'slow'")" 1
expect_eq "alerts ever" "$(q "SELECT count(*) FROM alerts WHERE check_name = 'slow'")" 1
grep -q 'portal refused report' "$T/agentd.log" && fail "the agent dropped a report"
grep -q ' 400 \|HTTP 400' "$T/agentd.log" && fail "a 400 from the portal"
stop_agentd || fail "agentd exited $? on SIGTERM"
exit 0
