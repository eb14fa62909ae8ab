# SIGHUP and `agentctl reload`: a good config is applied, a bad one is
# rejected with file:line errors and the running config stays.
. tests/integration/lib.sh

write_config <<EOF2
[check.first]
command = $PLUGINS/check_dummy 0 "first check"
EOF2
start_agentd
wait_until 10 all_checks_ran || fail "checks never ran"
ctl status | grep -q '^first ' || fail "check first missing"

# Good config: a new check appears, the old one keeps its result.
write_config <<EOF2
[check.first]
command = $PLUGINS/check_dummy 0 "first check"
[check.second]
command = $PLUGINS/check_dummy 1 "second check"
EOF2
kill -HUP "$AGENTD_PID"
wait_until 10 sh -c "'$AGENTCTL' --socket '$T/control.sock' status | grep -q '^second  *WARNING '" ||
    fail "second check not running after SIGHUP: $(ctl status)"
grep -q 'config reloaded from' "$T/agentd.log" || fail "no reload logged"

# Bad config by SIGHUP: errors logged with file:line, old config stays
# (line 13: after the updates section write_config ends with).
cat >> "$T/agentd.conf" <<EOF2
[check.third]
command = $PLUGINS/check_dummy 0 third
colour = blue
EOF2
kill -HUP "$AGENTD_PID"
wait_until 5 grep -q "agentd.conf:13: unknown key 'colour' in \[check.third\]" "$T/agentd.log" ||
    fail "rejected reload did not log the error with file:line"
grep -q 'config reload rejected, the running config stays' "$T/agentd.log" ||
    fail "no rejection message"
kill -0 "$AGENTD_PID" || fail "agentd died on a bad config"
status=$(ctl status)
printf '%s\n' "$status" | grep -q '^second ' || fail "old config lost: $status"
printf '%s\n' "$status" | grep -q '^third ' && fail "bad config applied: $status"

# The same through agentctl: non-zero exit and every error printed.
out=$(ctl reload 2>&1); rc=$?
expect_eq "agentctl reload exit code" $rc 1
expect_match "agentctl reload errors" "$out" "agentd.conf:13: unknown key 'colour'"

# Fixed: reload succeeds.
sed -i '/^colour/d' "$T/agentd.conf"
out=$(ctl reload); expect_eq "agentctl reload exit" $? 0
wait_until 10 sh -c "'$AGENTCTL' --socket '$T/control.sock' status | grep -q '^third  *OK '" ||
    fail "third check not running after a good reload: $(ctl status)"

# A drop-in in conf.d overrides the main file.
mkdir -p "$T/conf.d"
printf '[check.third]\ncommand = %s/check_dummy 2 "from drop-in"\n' \
    "$PLUGINS" > "$T/conf.d/50-third.conf"
ctl reload >/dev/null || fail "reload with drop-in failed"
out=$(ctl check run third)
expect_eq "drop-in override" "$out" "third: CRITICAL: CRITICAL: from drop-in"

stop_agentd || fail "agentd exited $? on SIGTERM"
