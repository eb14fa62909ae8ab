# agentd stopped (SIGTERM) while agentd-backup runs: the run is a
# backup_result report with status failed and the error "interrupted:
# agentd stopped", spooled before agentd exits, so the portal learns of it
# once agentd is back; the run's pre_hook is stopped with it; that next
# agentd's run is not blocked by what the stopped run left.
. tests/integration/lib.sh

make_certs
echo ok > "$T/fake.mode"
start_fake_portal server
trap 'touch "$T/slow.go"; kill $FAKE_PID 2>/dev/null; cleanup' EXIT
write_identity "https://127.0.0.1:$FAKE_PORT" "$T/certs/ca.pem" 1

S=$T/src
mkdir -p "$S" "$T/target"
printf 'hello\n' > "$S/small"
cat > "$T/slowhook" <<SH
#!/bin/sh
echo \$\$ > $T/hook.pid
while [ ! -e $T/slow.go ] && [ -d $T ]; do sleep 0.1; done
SH
chmod 0755 "$T/slowhook"
write_config <<EOF2
[backup.s]
paths = $S
target = file://$T/target
encryption = no
pre_hook = $T/slowhook
EOF2
start_agentd

ctl backup run s >/dev/null 2>&1 &
running() { ctl backup status | grep -q '^s: running'; }
wait_until 10 running || fail "the run did not start: $(ctl backup status)"
wait_until 10 test -e "$T/target/lock" || fail "the run took no lock"
start=$(date +%s)
stop_agentd; rc=$?
expect_eq "agentd's exit on SIGTERM during a run" $rc 0
[ $(( $(date +%s) - start )) -le 15 ] || fail "agentd took over 15 s to stop"
grep -q "backup s: failed: interrupted: agentd stopped" "$T/agentd.log" ||
	fail "the interrupted run was not logged"
# The hook (in a process group of its own) was stopped with the run.
gone() {
	[ ! -e "/proc/$1/stat" ] ||
		[ "$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" = Z ]
}
wait_until 5 gone "$(cat "$T/hook.pid")" ||
	fail "the pre_hook outlived agentd's stop"

# Back up: the spooled report reaches the portal.
start_agentd
learnt() {
	grep -q '"interrupted: agentd stopped"' "$T/fake.seqs.payloads"
}
wait_until 20 learnt ||
	fail "the portal did not learn of the interrupted run: $(grep '"job"' "$T/fake.seqs.payloads" 2>/dev/null)"
python3 - "$T/fake.seqs.payloads" <<'PY' || fail "backup_result: $(grep '"job"' "$T/fake.seqs.payloads")"
import json, sys
ps = [json.loads(l) for l in open(sys.argv[1])]
ps = [p for p in ps if p.get("job") == "s"]
assert len(ps) == 1, ps
p = ps[0]
assert p["status"] == "failed" and p["snapshot"] == "", p
assert p["errors"] == ["interrupted: agentd stopped"], p
PY
rm -f "$T/slow.go"
( sleep 1; touch "$T/slow.go" ) &
ctl backup run s >/dev/null 2>"$T/err" || fail "the run after the stop: $(cat "$T/err")"
stop_agentd || fail "agentd did not stop cleanly"
echo "PASS: test_backup_stop"
