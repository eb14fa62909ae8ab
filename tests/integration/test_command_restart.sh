# A portal command runs at most once across an agent restart (the ids
# handled are kept in the state dir), and the portal still gets an answer:
#  1. run_check runs, the portal is down when the result is made, agentd is
#     killed (-9) with the result spooled but not acknowledged; after the
#     restart the result ("done") reaches the portal, the check ran once.
#  2. run_check is handed out, agentd is killed (-9) during the run; the
#     portal hands it out again after the restart: it is not run again, and
#     answered "failed" (interrupted).
# The plugin counts its runs in a file; its calendar schedule (1 January)
# keeps the scheduler from running it.
. tests/integration/lib.sh

make_certs
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PORTAL_PID=""
trap '[ -n "$PORTAL_PID" ] && kill $PORTAL_PID 2>/dev/null; [ -n "$AGENTD_PID" ] && kill -9 $AGENTD_PID 2>/dev/null; cleanup' EXIT

start_portal() {
	"$BUILD/agentd-portal" serve --listen "127.0.0.1:$PORT" \
	    --db "$T/portal.db" --tls-cert "$T/certs/server.pem" \
	    --tls-key "$T/certs/server.key" --report-interval 1 \
	    --log-stderr >>"$T/portal.log" 2>&1 &
	PORTAL_PID=$!
	wait_until 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT))" ||
	    fail "the portal did not listen on $PORT"
}
stop_portal() {
	kill "$PORTAL_PID"
	wait "$PORTAL_PID" 2>/dev/null
	PORTAL_PID=""
}
kill9_agentd() {
	kill -9 "$AGENTD_PID"
	wait "$AGENTD_PID" 2>/dev/null
	AGENTD_PID=""
}

# counted: one line in $T/runs per run, then sleeps $T/sleep seconds.
cat > "$T/counted" <<SH
#!/bin/sh
echo run >> $T/runs
sleep \$(cat $T/sleep)
echo "COUNTED OK"
exit 0
SH
chmod +x "$T/counted"
echo 0 > "$T/sleep"
: > "$T/runs"
write_config <<EOF2
[portal]
connect_timeout = 2s
timeout = 5s
[check.counted]
command = $T/counted
schedule = 0 0 1 1 *
timeout = 20s
EOF2

start_portal
OPR=$("$BUILD/agentd-portal" operator create it-operator --db "$T/portal.db") ||
    fail "operator create"
"$BUILD/agentd-portal" token create --db "$T/portal.db" --expires 1h > "$T/token" ||
    fail "token create"
out=$("$AGENTCTL" --config "$T/agentd.conf" enroll --portal "https://127.0.0.1:$PORT" \
    --token-file "$T/token" --ca "$T/certs/ca.pem" 2>&1) || fail "enrol: $out"
AGENT=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["agent_id"])' "$T/state/identity")

# q SQL: one value from the portal's database.
q() {
	python3 - "$T/portal.db" "$1" <<'PY'
import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()
print("" if r is None or r[0] is None else r[0])
PY
}
runs() {
	wc -l < "$T/runs"
}
runs_are() {
	[ "$(runs)" -eq "$1" ]
}
cmd_status_is() {	# ID STATUS
	[ "$(q "SELECT status FROM commands WHERE id = $1")" = "$2" ]
}
new_command() {
	out=$(curl -s --cacert "$T/certs/ca.pem" -H "Authorization: Bearer $OPR" \
	    -d '{"type": "run_check", "args": {"name": "counted"}}' \
	    "https://127.0.0.1:$PORT/api/v1/hosts/$AGENT/commands") ||
	    fail "cannot create a command: $out"
	expect_match "command created" "$out" "^\\{\"id\":\"cmd_$1\"\\}$"
}
spooled() {	# TEXT: some spool file holds it
	grep -rqs -- "$1" "$T/state/spool"
}

start_agentd
wait_until 20 sh -c "[ \"\$(python3 - '$T/portal.db' <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM reports').fetchone()[0])
PY
)\" -gt 0 ]" || fail "no report reached the portal: $(tail -3 "$T/agentd.log")"

# --- 1: the result is spooled, not acknowledged, when agentd dies.
echo 2 > "$T/sleep"
new_command 1
wait_until 20 runs_are 1 || fail "cmd_1 did not run: $(tail -5 "$T/agentd.log")"
stop_portal
wait_until 10 spooled '"command_id":"cmd_1"' ||
    fail "the result of cmd_1 was not spooled: $(tail -5 "$T/agentd.log")"
cmd_status_is 1 pending || fail "cmd_1 was answered before the kill"
kill9_agentd
[ -s "$T/state/commands" ] || fail "no command ids in the state dir"
start_portal
start_agentd
wait_until 20 cmd_status_is 1 done ||
    fail "the result of cmd_1 did not reach the portal: $(q "SELECT status || ' ' || coalesce(detail, '') FROM commands WHERE id = 1")"
sleep 2
expect_eq "runs after cmd_1" "$(runs)" 1

# --- 2: agentd dies during the run; the portal hands it out again.
echo 6 > "$T/sleep"
new_command 2
wait_until 20 runs_are 2 || fail "cmd_2 did not run: $(tail -5 "$T/agentd.log")"
kill9_agentd
cmd_status_is 2 pending || fail "cmd_2 was answered before the kill"
echo 0 > "$T/sleep"
start_agentd
wait_until 20 cmd_status_is 2 failed ||
    fail "cmd_2 got no answer after the restart: $(q "SELECT status || ' ' || coalesce(detail, '') FROM commands WHERE id = 2")"
expect_match "cmd_2 detail" "$(q "SELECT detail FROM commands WHERE id = 2")" '^interrupted: agentd restarted'
grep -q 'portal command cmd_2 came again after a restart: not run twice' "$T/agentd.log" ||
    fail "cmd_2 was not handed out again (the test proves nothing)"
sleep 2
expect_eq "runs after cmd_2" "$(runs)" 2

# agentctl check run goes through the same handler.
out=$(ctl check run counted 2>&1) || fail "check run: $out"
expect_eq "runs after check run" "$(runs)" 3
out=$(ctl check run nosuch 2>&1) && fail "check run nosuch succeeded: $out"
expect_match "check run nosuch" "$out" 'no such check'
stop_agentd || fail "agentd exited $? on SIGTERM"
exit 0
