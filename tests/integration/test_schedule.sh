# Calendar schedules with the real agentd: schedule and interval together
# are refused with file:line; a daily check whose last run (in the state
# dir) is two days old runs once at start; one never run does not; a
# `* * * * *` check runs at the next minute boundary.
. tests/integration/lib.sh

write_config <<EOF2
[check.both]
command = /bin/true
interval = 5m
schedule = 0 2 * * *
[check.bad]
command = /bin/true
schedule = 0 0 31 2 *
EOF2
out=$("$AGENTD" --config "$T/agentd.conf" --check-config 2>&1); rc=$?
expect_eq "check-config exit code" $rc 1
expect_match "both set" "$out" "agentd.conf:8: schedule: \[check.both\] already has an interval; set one of the two"
expect_match "never fires" "$out" "agentd.conf:11: schedule: day-of-month: '31' is in none of the months '2'"

now=$(date +%s)
mkdir -p "$T/state"
printf '%s check.daily\n%s check.recent\n' $((now - 2 * 86400)) \
    $((now - 60)) > "$T/state/calendar"
write_config <<EOF2
[check.daily]
command = $PLUGINS/check_dummy 0 "daily ran"
schedule = 0 2 * * *
[check.recent]
command = $PLUGINS/check_dummy 0 "recent ran"
schedule = 0 0 1 1 *
[check.fresh]
command = $PLUGINS/check_dummy 0 "fresh ran"
schedule = 0 2 * * *
randomized_delay = 30m
[check.minute]
command = /bin/sh -c "date +%S.%N >> $T/minute.out; echo minute ran"
schedule = * * * * *
EOF2
start_agentd

# A run missed while agentd was down: once, at start.
check_runs() {	# name: its number of runs
	ctl checks --json | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if c["name"] == sys.argv[1]:
        print(c["runs"])' "$1"
}
wait_until 10 sh -c "'$AGENTCTL' --socket '$T/control.sock' status | grep -q '^daily  *OK '" ||
    fail "the missed daily run did not happen at start: $(ctl status)"
grep -q 'calendar check.daily: the run due at .* was missed; running it now' \
    "$T/agentd.log" || fail "the catch-up was not logged"
last=$(sed -n 's/^\([0-9]*\) check.daily$/\1/p' "$T/state/calendar")
[ -n "$last" ] && [ "$last" -ge "$now" ] ||
    fail "the daily run was not recorded in the state dir: $(cat "$T/state/calendar")"
# Neither the one that ran a minute ago nor the one never seen runs now.
sleep 2
expect_eq "daily runs" "$(check_runs daily)" 1
expect_eq "recent runs" "$(check_runs recent)" 0
expect_eq "fresh runs" "$(check_runs fresh)" 0
grep -q ' check.fresh$' "$T/state/calendar" ||
    fail "a new entry was not recorded: $(cat "$T/state/calendar")"
out=$(ctl checks --json)
expect_match "schedule shown" "$out" '"schedule": "0 2 \* \* \*"'

# The next minute boundary, within a second.
wait_until 65 test -s "$T/minute.out" ||
    fail "the every-minute check did not run within 65 s"
sec=$(head -n 1 "$T/minute.out")
case $sec in
00.*|01.*) ;;
*) fail "the every-minute check ran at second $sec, not at the boundary" ;;
esac
wait_until 5 sh -c "'$AGENTCTL' --socket '$T/control.sock' status | grep -q '^minute  *OK '" ||
    fail "the every-minute check has no result: $(ctl status)"
expect_eq "daily runs after a minute" "$(check_runs daily)" 1

echo "minute check ran at second $sec"
stop_agentd || fail "agentd exited $? on SIGTERM"
