# Soft states, flapping and maintenance with the real agentd and the real
# portal:
# - attempts = 3 with retry_interval = 1s: a failing check is re-run a
#   second apart (not at its 30 s interval), is reported once, after the
#   third failure, with reason "soft";
# - a plugin that flips on every run yields one "flapping start" and,
#   once it settles, one "flapping stop", and no state change in between;
# - a maintenance window marks every report until it is stopped, survives
#   an agent restart, and its start and stop reach the portal; a silenced
#   check's state change carries silenced_until; a check that fails during
#   the window gets no alert and no webhook until the window is stopped,
#   and then gets both.
. tests/integration/lib.sh

make_certs
python3 tests/integration/portal/webhook_receiver.py "$T/certs/server.pem" \
    "$T/certs/server.key" "$T/hook.port" "$T/hook.log" 2>"$T/hook.err" &
HOOK_PID=$!
wait_until 10 test -s "$T/hook.port" || fail "the webhook receiver did not start"
touch "$T/hook.log"
start_portal --report-interval 1 \
    --webhook "https://127.0.0.1:$(cat "$T/hook.port")/hook" \
    --webhook-ca "$T/certs/ca.pem"
trap 'kill $PORTAL_PID $HOOK_PID 2>/dev/null; cleanup' EXIT

cat > "$T/soft" <<SH
#!/bin/sh
date +%s.%N >> $T/soft.runs
echo "SOFT CRITICAL - always"
exit 2
SH
cat > "$T/flip" <<SH
#!/bin/sh
if [ -e $T/steady ]; then echo "FLIP WARNING - settled"; exit 1; fi
if [ -e $T/flip.on ]; then rm $T/flip.on; echo "FLIP OK"; exit 0; fi
touch $T/flip.on; echo "FLIP CRITICAL"; exit 2
SH
cat > "$T/mcheck" <<SH
#!/bin/sh
if [ -e $T/mbad ]; then echo "MCHECK CRITICAL - broken in maintenance"; exit 2; fi
echo "MCHECK OK"
SH
chmod +x "$T/soft" "$T/flip" "$T/mcheck"
write_config <<EOF2
[portal]
connect_timeout = 2s
timeout = 5s
[check.soft]
command = $T/soft
interval = 30s
attempts = 3
retry_interval = 1s
[check.flip]
command = $T/flip
interval = 2s
timeout = 1s
[check.mcheck]
command = $T/mcheck
interval = 2s
timeout = 1s
EOF2
enroll_agent
start_agentd

# Soft: three runs about a second apart, then one report.
state_of() {	# check: its state on the portal
	q "SELECT state FROM checks WHERE name = '$1'"
}
soft_is_critical() { [ "$(state_of soft)" = CRITICAL ]; }
wait_until 20 soft_is_critical ||
    fail "soft never became CRITICAL on the portal (retry_interval not used?): $(ctl status)"
runs=$(wc -l < "$T/soft.runs")
[ "$runs" -ge 3 ] && [ "$runs" -le 4 ] ||
    fail "soft ran $runs times before it was hard, want 3"
gap=$(awk 'NR == 1 { a = $1 } NR == 3 { printf "%d", $1 - a }' "$T/soft.runs")
[ "$gap" -le 4 ] || fail "three soft runs took $gap s: not a 1 s retry"
changes() {	# check: its state_change reports on the portal
	q "SELECT count(*) FROM reports WHERE kind = 'state_change' AND json_extract(payload, '$.check.name') = '$1'"
}
expect_eq "soft state changes" "$(changes soft)" 1
expect_eq "soft reason" "$(q "SELECT json_extract(payload, '$.reason.type') || ' ' || json_extract(payload, '$.reason.attempts') FROM reports WHERE kind = 'state_change' AND json_extract(payload, '$.check.name') = 'soft'")" "soft 3"

# Flapping: one start, then nothing until it settles, then one stop.
flap_events() {	# start|stop
	q "SELECT count(*) FROM reports WHERE kind = 'state_change' AND json_extract(payload, '$.check.name') = 'flip' AND json_extract(payload, '$.reason.type') = 'flapping' AND json_extract(payload, '$.reason.event') = '$1'"
}
has_flap_start() { [ "$(flap_events start)" = 1 ]; }
wait_until 30 has_flap_start ||
    fail "no flapping start on the portal: $(ctl status | grep flip)"
expect_match "status shows flapping" "$(ctl status | grep '^flip ')" 'flapping [0-9]+%'
at_start=$(changes flip)
sleep 5
expect_eq "state changes while flapping" "$(changes flip)" "$at_start"
touch "$T/steady"
has_flap_stop() { [ "$(flap_events stop)" = 1 ]; }
wait_until 40 has_flap_stop || fail "no flapping stop on the portal"
expect_eq "flapping starts" "$(flap_events start)" 1
expect_eq "state after flapping" "$(q "SELECT json_extract(payload, '$.check.state') FROM reports WHERE kind = 'state_change' AND json_extract(payload, '$.reason.event') = 'stop'")" WARNING
expect_eq "state changes from start to stop" "$(changes flip)" $((at_start + 1))

# Maintenance: marked reports, kept across a restart, start and stop sent.
out=$(ctl maintenance start --for 1h --reason "kernel upgrade") ||
    fail "maintenance start: $out"
expect_match "maintenance start" "$out" "maintenance until .*: kernel upgrade"
expect_match "status" "$(ctl status)" "^maintenance: until .*: kernel upgrade"
has_report() { [ "$(q "SELECT count(*) FROM reports WHERE $1")" -ge "${2:-1}" ]; }
wait_until 10 has_report "kind = 'maintenance' AND json_extract(payload, '$.event') = 'start'" ||
    fail "the portal did not get the maintenance start"
beats_marked="kind = 'heartbeat' AND json_extract(payload, '$.maintenance.reason') = 'kernel upgrade'"
wait_until 10 has_report "$beats_marked" || fail "no heartbeat marked maintenance"
# A check that breaks in the window: stored, but no alert, no webhook.
touch "$T/mbad"
mcheck_marked="kind = 'state_change' AND json_extract(payload, '$.check.name') = 'mcheck' AND json_extract(payload, '$.maintenance.until') > 0"
wait_until 15 has_report "$mcheck_marked" ||
    fail "mcheck's state change in the window did not reach the portal marked"
sleep 2
expect_eq "mcheck on the portal" "$(state_of mcheck)" CRITICAL
expect_eq "mcheck alerts in the window" "$(q "SELECT count(*) FROM alerts WHERE check_name = 'mcheck'")" 0
grep -q mcheck "$T/hook.log" && fail "a webhook for mcheck during the window: $(grep mcheck "$T/hook.log")"
out=$(ctl silence soft --for 30m) || fail "silence: $out"
expect_match "silence listed" "$out" "silenced: soft until"
out=$(ctl silence nosuch --for 30m 2>&1) && fail "silencing an unknown check worked"
expect_match "unknown check" "$out" "no check named 'nosuch'"
stop_agentd || fail "agentd exited $? on SIGTERM"
start_agentd
expect_match "window after restart" "$(ctl maintenance status)" "maintenance until .*: kernel upgrade"
expect_match "silence after restart" "$(ctl maintenance status)" "silenced: soft until"
# After the restart soft is soft again; its state change, once hard, is
# silenced and in maintenance.
soft_marked="kind = 'state_change' AND json_extract(payload, '$.check.name') = 'soft' AND json_extract(payload, '$.silenced_until') > 0 AND json_extract(payload, '$.maintenance.until') > 0"
wait_until 15 has_report "$soft_marked" ||
    fail "soft's state change after the restart is not marked silenced and in maintenance"
grep -q mcheck "$T/hook.log" && fail "a webhook for mcheck during the window"
ctl maintenance stop >/dev/null || fail "maintenance stop"
wait_until 10 has_report "kind = 'maintenance' AND json_extract(payload, '$.event') = 'stop'" ||
    fail "the portal did not get the maintenance stop"
mcheck_alert() { [ "$(q "SELECT count(*) FROM alerts WHERE check_name = 'mcheck' AND closed IS NULL")" = 1 ]; }
wait_until 10 mcheck_alert || fail "no alert for mcheck once the window ended"
wait_until 15 grep -q '^200 .*mcheck' "$T/hook.log" ||
    fail "no webhook for mcheck once the window ended: $(cat "$T/hook.log")"
out=$(ctl maintenance stop 2>&1) && fail "a second stop worked"
expect_match "second stop" "$out" "no maintenance window is open"
n=$(q "SELECT max(seq) FROM reports")
wait_until 10 has_report "kind = 'heartbeat' AND seq > $n"
expect_eq "heartbeats after the stop marked" "$(q "SELECT count(*) FROM reports WHERE kind = 'heartbeat' AND seq > $n AND json_extract(payload, '$.maintenance') IS NOT NULL")" 0
stop_agentd || fail "agentd exited $? on SIGTERM"
echo "soft: $runs runs in ${gap}s; flip: $at_start changes before flapping"
exit 0
