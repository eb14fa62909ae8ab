# kill -9 of agentd-backup itself (not agentd) at random moments of a
# backup, five times (of at most ten runs): agentd lives on, each killed
# run is a backup_result report with status failed and an error naming signal 9,
# the next run is not blocked by the dead run's lock and cleans what it
# left, and every snapshot made before still restores exactly (backuptool,
# treecmp.py).
. tests/integration/lib.sh

make -s BUILD="$BUILD" "$BUILD/backuptool" "$BUILD/agentd-backup" \
	>/dev/null || fail "cannot build the backup parts"
BT=$BUILD/backuptool
CMP="python3 $TOP/tests/integration/backup/treecmp.py"

make_certs
echo ok > "$T/fake.mode"
start_fake_portal server
trap 'kill $FAKE_PID 2>/dev/null; cleanup' EXIT
write_identity "https://127.0.0.1:$FAKE_PORT" "$T/certs/ca.pem" 1

S=$T/src
TG=$T/target
mkdir -p "$S/bulk" "$TG"
for i in 1 2 3 4 5 6 7 8; do
	head -c 5000000 /dev/urandom > "$S/bulk/f$i"
done
printf 'small\n' > "$S/small"
write_config <<EOF2
[backup.x]
paths = $S
target = file://$TG
compression = 8
keep_last = 0
keep_daily = 0
keep_weekly = 0
keep_monthly = 0
EOF2
start_agentd
K="-k $T/state/backup/x.key"

ids=()
good() {	# N: a run that must succeed; src saved as it was
	local out t0=$(date +%s%N)
	out=$(ctl backup run x 2>"$T/err.$1") ||
		fail "run $1 after a kill: $(cat "$T/err.$1")"
	run_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	ids[$1]=$(printf '%s\n' "$out" | tail -n 1)
	rm -rf "$T/copy.$1"
	cp -a "$S" "$T/copy.$1" || fail "cp -a $1"
	# What a killed run left is gone, and the lock with it.
	ls -a "$TG" | grep -q '^\.tmp-\|^lock$' &&
		fail "leftovers after run $1: $(ls -a "$TG")"
	for a in "$TG"/*.tar.zst.enc; do
		[ -e "${a%.tar.zst.enc}.manifest.enc" ] ||
			fail "an archive without manifest: $a ($(ls -a "$TG"))"
	done
}
backup_pid() {
	ps -o pid=,comm= --ppid "$AGENTD_PID" |
		awk '$2 == "agentd-backup" { print $1 }'
}

good 0
dur=$run_ms
echo "a full run of 40 MB: $dur ms"
# The moments are drawn within this machine's run time, so that most
# kills land before the run ends however fast it is.
[ $dur -gt 60 ] || dur=60
killed=0
# Up to 10 runs (bounded), until 5 were killed; a run may end first.
for n in 1 2 3 4 5 6 7 8 9 10; do
	[ $killed -lt 5 ] || break
	printf 'change %s\n' "$n" > "$S/small"
	head -c 1000000 /dev/urandom > "$S/bulk/f$n"
	# --full: the whole 40 MB again (about 0.5 to 2 s here).
	ctl backup run x --full >/dev/null 2>"$T/kerr.$n" &
	CTL=$!
	i=0
	while [ -z "$(backup_pid)" ]; do
		i=$((i + 1))
		[ $i -le 200 ] || fail "no agentd-backup for run $n"
		sleep 0.05
	done
	# A random moment: odd runs from 20 ms to 80 % of a run's time after
	# the start (the lock, the wait for a new second, the archive), even
	# ones within half a run's time after the archive's temporary
	# appears (its bytes, the manifest).
	if [ $((n % 2)) = 0 ]; then
		i=0
		while ! ls -a "$TG" | grep -q '^\.tmp-'; do
			i=$((i + 1))
			[ $i -le 400 ] || break
			sleep 0.01
		done
		ms=$((RANDOM % (dur / 2)))
	else
		ms=$((RANDOM % (dur * 8 / 10 - 20) + 20))
	fi
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	pid=$(backup_pid)
	# It may end between the look and the kill (or be a zombie not yet
	# reaped): then the run is ok, and counts as not killed.
	sent=0
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && sent=1
	wait "$CTL"; rc=$?
	if [ $sent = 1 ] && [ $rc != 0 ]; then
		expect_eq "run $n killed after $ms ms: exit" $rc 1
		grep -q "^backup x: failed" "$T/kerr.$n" ||
			fail "run $n killed after $ms ms: $(cat "$T/kerr.$n")"
		grep -q "agentd-backup exited (signal 9)" "$T/kerr.$n" ||
			fail "run $n: the error does not name the signal: $(cat "$T/kerr.$n")"
		killed=$((killed + 1))
		echo "run $n killed after $ms ms, left: $(ls -a "$TG" | grep "^\.tmp-\|^lock$" | tr "\n" " ")"
	else
		[ $rc = 0 ] || fail "run $n (not killed) failed: $(cat "$T/kerr.$n")"
		echo "run $n ended before $ms ms"
	fi
	kill -0 "$AGENTD_PID" || fail "agentd died with its agentd-backup"
	good "$n"
done
[ $killed -ge 3 ] || fail "only $killed of $n runs were killed (too fast?)"

# Every snapshot made restores exactly.
for n in "${!ids[@]}"; do
	rm -rf "$T/r"; mkdir "$T/r"
	"$BT" restore "file://$TG" "${ids[$n]}" "$T/r" $K 2>"$T/rs" ||
		fail "restore of ${ids[$n]} (run $n): $(cat "$T/rs")"
	$CMP "$T/copy.$n" "$T/r$S" >"$T/cmp" ||
		fail "restored ${ids[$n]} (run $n) differs: $(head "$T/cmp")"
done

# The portal learns of each killed run.
want=$(( ${#ids[@]} + killed ))
wait_until 30 sh -c "[ \$(grep -c ' backup_result\$' $T/fake.seqs) -ge $want ]" ||
	fail "not $want backup_result reports: $(cat "$T/fake.seqs" 2>/dev/null)"
python3 - "$T/fake.seqs.payloads" "$killed" <<'PY' || fail "backup_result payloads: $(grep '"job"' "$T/fake.seqs.payloads")"
import json, sys
ps = [json.loads(l) for l in open(sys.argv[1])]
ps = [p for p in ps if p.get("job") == "x"]
failed = [p for p in ps if p["status"] == "failed"]
assert len(failed) == int(sys.argv[2]), failed
for p in failed:
    # (A kill just after the result frame leaves the snapshot named.)
    assert "signal 9" in p["errors"][0], p
PY
stop_agentd || fail "agentd did not stop cleanly"
echo "PASS: test_backup_kill ($killed runs killed)"
