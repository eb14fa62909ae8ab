# A spool that cannot be opened does not stop monitoring: agentd starts,
# its checks run and answer on the control socket, the failure is logged
# loudly, and the spool is tried again on a timer; once it opens, reports
# flow to the (fake) portal.
. tests/integration/lib.sh

make_certs
echo ok > "$T/fake.mode"
start_fake_portal server
trap 'kill $FAKE_PID 2>/dev/null; cleanup' EXIT
write_identity "https://127.0.0.1:$FAKE_PORT" "$T/certs/ca.pem" 1
# A file where the spool directory should be.
echo "not a directory" > "$T/state/spool"
write_config <<EOF2
[check.steady]
command = $PLUGINS/check_dummy 0 steady
interval = 2s
timeout = 1s
EOF2
start_agentd
wait_until 10 grep -q 'spool: cannot open .*/spool: Not a directory' "$T/agentd.log" ||
    fail "the spool failure was not logged"
wait_until 15 all_checks_ran || fail "checks do not run without a spool"
kill -0 "$AGENTD_PID" || fail "agentd exited without a spool"
ctl status | grep -q 'steady' || fail "status does not show the check"
[ -s "$T/fake.seqs" ] && fail "reports delivered without a spool?"

rm -f "$T/state/spool"
wait_until 30 test -d "$T/state/spool" || fail "the spool was not tried again"
wait_until 20 sh -c '[ -s "'"$T"'/fake.seqs" ]' ||
    fail "no report delivered once the spool opened"
wait_until 20 grep -q heartbeat "$T/fake.seqs" || fail "no heartbeat delivered"
grep -q inventory "$T/fake.seqs" || fail "no inventory once the spool opened"
stop_agentd || fail "agentd exited $? on SIGTERM"
exit 0
