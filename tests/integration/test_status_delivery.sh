# agentctl status says how long ago reports were last delivered, from the
# age the agent measured on its monotonic clock ("last_delivery_age"), not
# from agentctl's wall clock minus the agent's stamp (issue 7, defect 14).
. tests/integration/lib.sh

make_certs
echo ok > "$T/fake.mode"
start_fake_portal server
trap 'kill $FAKE_PID 2>/dev/null; cleanup' EXIT
write_identity "https://127.0.0.1:$FAKE_PORT" "$T/certs/ca.pem" 1
write_config <<EOF2
[portal]
timeout = 3s
connect_timeout = 2s
[check.steady]
command = $PLUGINS/check_dummy 0 steady
interval = 20s
timeout = 5s
EOF2
start_agentd

delivered() {
	[ "$(report_field last_delivery_age)" != None ]
}
wait_until 30 delivered || fail "no delivery within 30 s"
age=$(report_field last_delivery_age)
expect_match "last_delivery_age" "$age" '^[0-9]+$'
[ "$age" -lt 30 ] || fail "last_delivery_age $age s for a delivery just now"
stamp=$(report_field last_delivery)
expect_match "last_delivery stamp" "$stamp" '^[0-9]+\.[0-9]+$'
out=$(ctl status) || fail "agentctl status failed"
expect_match "status line" "$out" \
    "^portal: https://127.0.0.1:$FAKE_PORT, spool [0-9]+ pending, last delivery [0-9]+s ago$"
expect_match "uptime" "$out" '^agentd .* \(pid [0-9]+\), up [0-9]+s$'
stop_agentd || fail "agentd did not stop cleanly"
echo PASS
