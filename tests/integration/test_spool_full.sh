# A full spool filesystem (a 256 KiB tmpfs in a private mount namespace)
# while the portal is reachable: the portal's ack cannot be recorded, yet
# the acknowledged batch is not sent again in a loop (back-off, ack kept in
# memory); the current state still reaches the portal as heartbeats sent
# from memory; once space is back, everything is delivered, no gap.
if [ -z "${SPOOL_FULL_NS:-}" ]; then
	if unshare -m true 2>/dev/null; then
		SPOOL_FULL_NS=1 exec unshare -m bash "$0" "$@"
	fi
	echo "full spool: skipped (no private mount namespace)"
	exit 0
fi
. tests/integration/lib.sh

make_certs
echo ok > "$T/fake.mode"
start_fake_portal server
trap 'kill $FAKE_PID 2>/dev/null; umount -l "$T/state/spool" 2>/dev/null; cleanup' EXIT
write_identity "https://127.0.0.1:$FAKE_PORT" "$T/certs/ca.pem" 1
mkdir -p "$T/state/spool"
if ! mount -t tmpfs -o size=256k,mode=0700 none "$T/state/spool"; then
	echo "full spool: skipped (tmpfs mount refused)"
	exit 0
fi
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

# Reports pile up durably while the portal fails...
echo 500 > "$T/fake.mode"
depth_at_least() {
	[ "$(report_field spool_depth 2>/dev/null || echo 0)" -ge "$1" ]
}
wait_until 30 depth_at_least 5 || fail "reports did not pile up"
# ...then the disk fills up and the portal comes back.
head -c 1048576 /dev/zero > "$T/state/spool/filler" 2>/dev/null
durable=$(( $(report_field acked) + $(report_field spool_depth) ))
echo ok > "$T/fake.mode"
wait_until 30 grep -q 'delivering reports again' "$T/agentd.log" ||
    fail "no delivery once the portal was back"
: > "$T/fake.seqs.requests"
sleep 8
nreq=$(wc -l < "$T/fake.seqs.requests")
wait_until 5 grep -q "cannot record the portal's ack" "$T/agentd.log" ||
    fail "the failed ack write was not reported"
[ "$nreq" -le 20 ] || fail "$nreq requests in 8 s with a full disk: resending in a loop"
python3 - "$T/fake.seqs" "$durable" <<'PY' || fail "no current state while the disk was full"
import sys
durable = int(sys.argv[2])
beats = {int(l.split()[0]) for l in open(sys.argv[1])
         if l.split()[1] == "heartbeat" and int(l.split()[0]) > durable}
assert len(beats) >= 5, "heartbeats from memory: %s" % sorted(beats)
print("full disk: %d heartbeats sent from memory" % len(beats))
PY
echo "full disk: $nreq requests in 8 s"

rm -f "$T/state/spool/filler"
wait_until 40 spool_drained || fail "spool not drained once space was back"
python3 - "$T/fake.seqs" <<'PY' || fail "delivered seqs"
import sys
seqs = sorted({int(l.split()[0]) for l in open(sys.argv[1])})
assert seqs == list(range(1, seqs[-1] + 1)), "gaps: %s" % seqs
print("delivered %d reports, no gap" % len(seqs))
PY
kill -0 "$AGENTD_PID" || fail "agentd died"
stop_agentd || fail "agentd exited $? on SIGTERM"
exit 0
