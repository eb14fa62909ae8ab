# The spool directory removed while agentd runs (rm -rf by a cleanup
# script): it is recreated with mode 0700, logged once, and reports flow
# again with numbers after every seq used before (none reused).
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
interval = 2s
timeout = 1s
EOF2
start_agentd
wait_until 20 spool_drained || fail "first reports not delivered"
wait_until 20 sh -c '[ -s "'"$T"'/fake.seqs" ]' || fail "nothing delivered"
top=$(sort -n "$T/fake.seqs" | tail -1 | cut -d' ' -f1)

rm -rf "$T/state/spool"
wait_until 10 grep -q 'was removed while running: recreated' "$T/agentd.log" ||
    fail "the spool directory was not recreated"
expect_eq "mode of the recreated spool" "$(stat -c %a "$T/state/spool")" 700
newer_beat() {
	awk -v top="$1" '$2 == "heartbeat" && $1 > top + 1 { f = 1 } END { exit !f }' "$T/fake.seqs"
}
wait_until 20 newer_beat "$top" || fail "no heartbeat delivered after the removal"
wait_until 20 spool_drained || fail "spool not drained after the removal"
python3 - "$T/fake.seqs" <<'PY' || fail "delivered seqs"
import sys
seqs = [int(l.split()[0]) for l in open(sys.argv[1])]
assert len(seqs) == len(set(seqs)), "a seq delivered twice: %s" % seqs
assert seqs == sorted(seqs), "out of order: %s" % seqs
PY
n=$(grep -c 'spool' "$T/agentd.log")
[ "$n" -le 4 ] || fail "$n spool log lines: logging in a loop"
# It survives a restart too: the watermark carries the numbering.
stop_agentd || fail "agentd exited $? on SIGTERM"
last=$(sort -n "$T/fake.seqs" | tail -1 | cut -d' ' -f1)
start_agentd
wait_until 20 newer_beat "$last" || fail "no delivery after a restart"
python3 - "$T/fake.seqs" <<'PY' || fail "seqs after the restart"
import sys
seqs = [int(l.split()[0]) for l in open(sys.argv[1])]
assert len(seqs) == len(set(seqs)), "a seq reused: %s" % seqs
PY
stop_agentd || fail "agentd exited $? on SIGTERM"
exit 0
