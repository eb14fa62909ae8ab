# Without an agentd-reporter to start, agentd keeps monitoring and
# spooling, says why in `agentctl status`, and retries with back-off.
. tests/integration/lib.sh

mkdir -p "$T/bin"
cp "$AGENTD" "$T/bin/agentd"	# alone: no agentd-reporter beside it
AGENTD=$T/bin/agentd
write_identity "https://127.0.0.1:9" "/nonexistent/ca.pem" 1
write_config </dev/null
start_agentd
wait_until 15 sh -c "'$AGENTCTL' --socket '$T/control.sock' status | grep -q 'last error: cannot start .*agentd-reporter'" ||
    fail "no 'cannot start' in status: $(ctl status | head -4)"
wait_until 15 sh -c "[ \"\$(python3 tests/integration/portal/status.py '$T/control.sock' spool_depth)\" -gt 0 ]" ||
    fail "nothing spooled"
kill -0 "$AGENTD_PID" || fail "agentd died"
[ "$(grep -c 'cannot start' "$T/agentd.log")" -le 6 ] ||
    fail "no back-off: $(grep -c 'cannot start' "$T/agentd.log") attempts"
stop_agentd || fail "agentd exited $? on SIGTERM"
exit 0
