# The reporter against a misbehaving portal: garbage, oversized and slow
# replies, 500 and 429 cause no crash and are retried; when the portal
# behaves again every spooled report arrives, in order, once.
. tests/integration/lib.sh

make_certs
echo garbage > "$T/fake.mode"
start_fake_portal server
trap 'kill $FAKE_PID 2>/dev/null; cleanup' EXIT
write_identity "https://127.0.0.1:$FAKE_PORT" "$T/certs/ca.pem" 1
write_config <<EOF2
[portal]
timeout = 3s
connect_timeout = 2s
[check.flip]
command = $PLUGINS/check_dummy 0 steady
interval = 2s
timeout = 1s
EOF2
start_agentd

wait_until 15 grep -q 'reply is not JSON' "$T/agentd.log" ||
    fail "garbage reply not reported"
echo huge > "$T/fake.mode"
wait_until 40 grep -q 'reply larger than 1048576 bytes' "$T/agentd.log" ||
    fail "oversized reply not reported"
echo slow > "$T/fake.mode"
wait_until 60 grep -Eq 'Operation timed out|timed out' "$T/agentd.log" ||
    fail "slow reply not timed out"
echo 500 > "$T/fake.mode"
wait_until 60 grep -q 'HTTP 500: database is locked' "$T/agentd.log" ||
    fail "HTTP 500 not reported"
kill -0 "$AGENTD_PID" || fail "agentd died"
pgrep -f "agentd-reporter" >/dev/null || fail "no reporter process"

echo ok > "$T/fake.mode"
wait_until 60 sh -c '[ -s "'"$T"'/fake.seqs" ]' || fail "nothing delivered after recovery"
# Deliver everything spooled so far, then compare.
wait_until 60 spool_drained ||
    fail "spool not drained: depth $(report_field spool_depth)"
python3 - "$T/fake.seqs" <<'PY' || fail "delivered seqs"
import sys
seqs = [int(l.split()[0]) for l in open(sys.argv[1])]
assert seqs == sorted(seqs), "out of order: %s" % seqs
assert len(seqs) == len(set(seqs)), "duplicates: %s" % seqs
assert seqs == list(range(1, seqs[-1] + 1)), "gaps: %s" % seqs
kinds = {l.split()[1] for l in open(sys.argv[1])}
assert {"heartbeat", "inventory"} <= kinds, kinds
print("delivered %d reports in order after the faults" % len(seqs))
PY
stop_agentd || fail "agentd exited $? on SIGTERM"
exit 0
