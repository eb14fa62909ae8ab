# Retry policy against a fake portal: a Retry-After of 99999999999 s does
# not stop delivery for good (capped; a reload ends it at once), and a
# report the portal refuses (400) in the middle of a batch is found by
# bisection in a few requests, without back-off cycles, and only it is lost.
. tests/integration/lib.sh

make_certs
echo 429forever > "$T/fake.mode"
start_fake_portal server
trap 'kill $FAKE_PID 2>/dev/null; cleanup' EXIT
write_identity "https://127.0.0.1:$FAKE_PORT" "$T/certs/ca.pem" 1
write_config <<EOF2
[portal]
timeout = 3s
connect_timeout = 2s
[check.steady]
command = $PLUGINS/check_dummy 0 steady
interval = 2s
timeout = 1s
EOF2
start_agentd

wait_until 15 grep -q 'HTTP 429: go away' "$T/agentd.log" ||
    fail "429 not reported"
n429=$(wc -l < "$T/fake.seqs.requests")
echo ok > "$T/fake.mode"
sleep 3
expect_eq "requests while waiting out Retry-After" \
    "$(wc -l < "$T/fake.seqs.requests")" "$n429"
# A reload is the operator's word to try now.
kill -HUP "$AGENTD_PID"
wait_until 15 sh -c '[ -s "'"$T"'/fake.seqs" ]' ||
    fail "no delivery after a reload ended a huge Retry-After"
wait_until 20 spool_drained || fail "spool not drained after the reload"

# Bisection: hold ~20 reports back, then refuse one in the middle.
echo 500 > "$T/fake.mode"
sleep 1
first=$(( $(report_field acked) + 1 ))
wait_until 40 sh -c '[ "$(python3 tests/integration/portal/status.py '"$T"'/control.sock spool_depth)" -ge 20 ]' ||
    fail "reports did not pile up"
bad=$(( first + 12 ))
: > "$T/fake.seqs.requests"
echo "refuse:$bad" > "$T/fake.mode"
wait_until 60 grep -q "portal refused report $bad " "$T/agentd.log" ||
    fail "report $bad not refused"
wait_until 30 spool_drained || fail "spool not drained after the refusal"
python3 - "$T/fake.seqs" "$T/fake.seqs.requests" "$first" "$bad" <<'PY' ||
import sys
seqs = {int(l.split()[0]) for l in open(sys.argv[1])}
reqs = [l.split() for l in open(sys.argv[2])]
first, bad = int(sys.argv[3]), int(sys.argv[4])
top = max(seqs)
missing = [s for s in range(first, top + 1) if s not in seqs]
assert missing == [bad], "lost besides %d: %s" % (bad, missing)
# Requests from the first 400 until the refused report was dropped and
# the rest of its batch went through.
start = next(i for i, r in enumerate(reqs) if r[0] == "400")
n = 0
for r in reqs[start:]:
    n += 1
    if r[0] == "200" and r[1] != "-" and int(r[1]) <= bad + 1 <= int(r[2]):
        break
print("refused report %d found in %d requests (%d in the first batch)" %
      (bad, n, int(reqs[start][3])))
assert n <= 10, "too many requests to find one refused report: %d" % n
PY
    fail "bisection"
kill -0 "$AGENTD_PID" || fail "agentd died"
stop_agentd || fail "agentd exited $? on SIGTERM"
exit 0
