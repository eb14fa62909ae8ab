# The portal's error text reaches agentd's log whatever it holds: cut to
# 300 bytes inside a two-byte UTF-8 character, it once made the
# reporter's answer unencodable, so the batch was never answered and no
# error was logged.
. tests/integration/lib.sh

make_certs
echo 500utf8 > "$T/fake.mode"
start_fake_portal server
trap 'kill $FAKE_PID 2>/dev/null; cleanup' EXIT
write_identity "https://127.0.0.1:$FAKE_PORT" "$T/certs/ca.pem" 1
write_config <<EOF2
[portal]
timeout = 3s
connect_timeout = 2s
EOF2
start_agentd
wait_until 10 grep -q 'cannot deliver reports: HTTP 500: a' "$T/agentd.log" ||
    fail "the portal's 500 was not reported: $(grep -i reporter "$T/agentd.log" | tail -n 3)"
grep -q 'did not answer batch' "$T/agentd.log" &&
    fail "agentd-reporter left the batch unanswered"
stop_agentd || fail "agentd exited $? on SIGTERM"
exit 0
