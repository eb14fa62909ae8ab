# A spool lost while the identity stays: numbering restarts below what the
# portal stored. The real portal answers 409 (sequence conflict) instead of
# acknowledging without storing; the agent renumbers after the portal's
# ack, logs it with its MESSAGE_ID, and every new report is stored; the
# host gets a "sequence" alert saying how many were renumbered.
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
write_config <<EOF2
[portal]
connect_timeout = 2s
timeout = 5s
[check.steady]
command = $PLUGINS/check_dummy 0 steady
interval = 2s
timeout = 1s
EOF2
"$BUILD/agentd-portal" token create --db "$T/portal.db" --expires 1h > "$T/token" ||
    fail "token create"
out=$("$AGENTCTL" --config "$T/agentd.conf" enroll --portal "https://127.0.0.1:$PORT" \
    --token-file "$T/token" --ca "$T/certs/ca.pem" 2>&1) || fail "enrol: $out"

q() {
	python3 - "$T/portal.db" "$1" <<'PY'
import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()
print("" if r is None or r[0] is None else r[0])
PY
}
acked_at_least() {
	[ "$(report_field acked 2>/dev/null || echo 0)" -ge "$1" ]
}
stored_above() {
	[ "$(q "SELECT count(*) FROM reports WHERE seq > $1 AND kind = '$2'")" -ge 1 ]
}

start_agentd
wait_until 30 acked_at_least 8 || fail "first reports not acknowledged"
stop_agentd || fail "agentd exited $? on SIGTERM"
top=$(q "SELECT max(seq) FROM reports")
n_before=$(q "SELECT count(*) FROM reports")
[ "$top" -ge 8 ] || fail "portal holds only $top reports"

# The spool goes; the identity stays.
rm -rf "$T/state/spool"
start_agentd
wait_until 30 grep -q 'sequence reset: the portal already holds other reports up to seq' "$T/agentd.log" ||
    fail "no sequence reset logged"
grep 'sequence reset' "$T/agentd.log" | grep -q "SEQ_TO=$((top + 1))" ||
    fail "renumbered to the wrong seq (want $((top + 1)))"
grep -q 'renumbers' "$T/portal.log" || fail "the portal did not log the conflict"
# The new run's inventory (sent at start) and later heartbeats are stored.
wait_until 20 stored_above "$top" inventory || fail "the new inventory was not stored"
wait_until 20 stored_above "$top" heartbeat || fail "no new heartbeat stored"
wait_until 20 spool_drained || fail "spool not drained after the reset"
[ "$(q "SELECT count(*) FROM reports")" -gt "$n_before" ] || fail "nothing new stored"
# Nothing stored twice under one seq; the old reports are unchanged.
expect_eq "reports up to $top" "$(q "SELECT count(*) FROM reports WHERE seq <= $top")" "$n_before"
wait_until 10 stored_above "$top" sequence_reset || fail "no sequence_reset report stored"
summary=$(q "SELECT summary FROM alerts WHERE kind = 'sequence'")
expect_match "sequence alert" "$summary" '^sequence reset: [0-9]+ reports renumbered \(from seq 1 to '"$((top + 1))"'\)$'
expect_eq "sequence alert closed" "$(q "SELECT closed IS NOT NULL FROM alerts WHERE kind = 'sequence'")" 1
grep -q 'portal refused report' "$T/agentd.log" && fail "a report was dropped"
stop_agentd || fail "agentd exited $? on SIGTERM"
echo "renumbered after seq $top: $summary"
exit 0
