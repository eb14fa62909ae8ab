# A backup run of the real agentd reaches the real portal: its
# backup_result report is stored and GET /api/v1/hosts/{id} shows it under
# "backups" (job, snapshot, kind, status, counts, last_ok); a failing run
# replaces the result and keeps last_ok; the fleet list gives the age of
# the last good backup. The built-in check backup.NAME of each job: UNKNOWN
# "never run" before the first run, OK after a good one, WARNING for a job
# that never ended ok, shown by `agentctl status`, reported to the portal;
# its last good time survives an agentd restart (state_dir/backup/NAME.state).
. tests/integration/lib.sh

make -s BUILD="$BUILD" "$BUILD/agentd-backup" >/dev/null ||
	fail "cannot build agentd-backup"
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
OPR=$("$BUILD/agentd-portal" operator create alice --db "$T/portal.db" \
    --log-stderr 2>>"$T/portal.log") || fail "operator create"

S=$T/src
mkdir -p "$S/d" "$T/target"
printf 'hello\n' > "$S/a"
head -c 5000 /dev/urandom > "$S/d/b"
cat > "$T/badhook" <<'SH'
#!/bin/sh
exit 3
SH
chmod 0755 "$T/badhook"
write_config <<EOF2
[portal]
connect_timeout = 2s
timeout = 5s
[backup.www]
paths = $S
target = file://$T/target
[backup.bad]
paths = $S
target = file://$T/target
pre_hook = $T/badhook
EOF2

"$BUILD/agentd-portal" token create --db "$T/portal.db" --expires 1h > "$T/token" ||
    fail "token create"
out=$("$AGENTCTL" --config "$T/agentd.conf" enroll --portal "https://127.0.0.1:$PORT" \
    --token-file "$T/token" --ca "$T/certs/ca.pem" 2>&1) || fail "enrol: $out"
ID=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["agent_id"])' \
    "$T/state/identity")
start_agentd
# line NAME: the check's line in agentctl status.
line() { ctl status | grep "^backup\.$1 "; }
expect_match "backup.www before a run" "$(line www)" '^backup\.www +UNKNOWN .*never run'

out=$(ctl backup run www 2>"$T/err") || fail "backup run www: $(cat "$T/err")"
snap=$(printf '%s\n' "$out" | tail -n 1)
ctl backup run bad >/dev/null 2>&1 && fail "backup run bad succeeded"

host() {
	curl -sS --cacert "$T/certs/ca.pem" -H "Authorization: Bearer $OPR" \
	    "https://127.0.0.1:$PORT/api/v1/hosts/$ID"
}
two_backups() {
	host | python3 -c 'import json, sys; assert len(json.load(sys.stdin)["backups"]) == 2' 2>/dev/null
}
wait_until 20 two_backups ||
	fail "GET /hosts/$ID has no two backups: $(host | head -c 600); $(tail -3 "$T/portal.log")"
host > "$T/host.json"
python3 - "$T/host.json" "$snap" <<'PY' || fail "backups in GET /hosts/{id}: $(cat "$T/host.json")"
import json, sys, time
h = json.load(open(sys.argv[1]))
b = {x["job"]: x for x in h["backups"]}
w = b["www"]
assert w["snapshot"] == sys.argv[2], w
assert w["status"] == "ok" and w["kind"] == "full", w
assert w["files"] == 2 and w["bytes"] == 5006 and w["stored_bytes"] > 0, w
assert w["duration"] >= 0 and abs(w["finished"] - time.time()) < 120, w
assert w["last_ok"] == w["finished"], w
x = b["bad"]
assert x["status"] == "failed" and x["snapshot"] == "", x
assert x["last_ok"] is None, x
assert any("badhook" in e for e in x["errors"]), x
PY

# The fleet list: the last good backup's age (www) and a job never ok.
curl -sS --cacert "$T/certs/ca.pem" -H "Authorization: Bearer $OPR" \
    "https://127.0.0.1:$PORT/api/v1/hosts" > "$T/hosts.json"
python3 - "$T/hosts.json" "$ID" <<'PY' || fail "fleet list: $(cat "$T/hosts.json")"
import json, sys
h = [x for x in json.load(open(sys.argv[1]))["hosts"] if x["id"] == sys.argv[2]][0]
assert 0 <= h["backup_age"] < 120, h
assert h["backup_jobs"] == 2 and h["backups_never_ok"] == 1, h
PY

# backup.NAME on the agent and on the portal.
expect_match "backup.www after a run" "$(line www)" '^backup\.www +OK .*last good backup [0-9]+s ago'
expect_match "backup.bad after a failed run" "$(line bad)" '^backup\.bad +WARNING .*no good backup yet'
portal_check() {
	python3 - "$T/portal.db" "$1" <<'PY'
import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute("SELECT state FROM checks WHERE name = ?", (sys.argv[2],)).fetchone()
print("" if r is None else r[0])
PY
}
bad_warns() { [ "$(portal_check backup.bad)" = WARNING ]; }
wait_until 20 bad_warns || fail "backup.bad not WARNING on the portal: '$(portal_check backup.bad)'"
[ -f "$T/state/backup/www.state" ] || fail "no state_dir/backup/www.state"
expect_eq "state file mode" "$(stat -c %a "$T/state/backup/www.state")" 600

# A restart remembers the last good backup; stale_warning takes effect.
grep -q 'portal refused report' "$T/agentd.log" && fail "the agent dropped a report"
stop_agentd || fail "agentd exited $? on SIGTERM"
start_agentd
expect_match "backup.www after a restart" "$(line www)" '^backup\.www +OK .*last good backup [0-9]+s ago'
stop_agentd || fail "agentd exited $? on SIGTERM"
sleep 2
sed -i 's/^\[backup\.www\]$/[backup.www]\nstale_warning = 1s/' "$T/agentd.conf"
grep -q '^stale_warning = 1s' "$T/agentd.conf" || fail "config edit"
"$AGENTD" --config "$T/agentd.conf" --check-config >/dev/null 2>&1 ||
	fail "stale_warning = 1s refused by --check-config"
start_agentd
expect_match "backup.www over stale_warning" "$(line www)" '^backup\.www +WARNING .*last good backup [0-9]+s ago, over 1s'
expect_match "backup.bad after a restart" "$(line bad)" '^backup\.bad +WARNING '
stop_agentd || fail "agentd exited $? on SIGTERM"
exit 0
