# Backup hooks under a time limit: a pre_hook that outlives hook_timeout
# (2 s here, the default is 10m) has its whole process group stopped,
# SIGTERM then SIGKILL (this hook and its child ignore SIGTERM), and the run
# fails with "pre_hook timed out after 2 s"; the target's lock is free
# again for the next run, and a hook within its limit runs as before.
. tests/integration/lib.sh

S=$T/src
mkdir -p "$S" "$T/target"
printf 'hello\n' > "$S/small"
# Ignores SIGTERM, and so does its child (an ignored signal is inherited).
cat > "$T/hanghook" <<SH
#!/bin/sh
trap '' TERM
echo \$\$ > $T/hook.pid
sleep 300 &
echo \$! > $T/child.pid
wait
SH
cat > "$T/quickhook" <<SH
#!/bin/sh
sleep 1
echo ran > $T/quick.ran
SH
chmod 0755 "$T/hanghook" "$T/quickhook"

write_config <<EOF2
[backup.hang]
paths = $S
target = file://$T/target
encryption = no
pre_hook = $T/hanghook
hook_timeout = 2s
[backup.quick]
paths = $S
target = file://$T/target
encryption = no
pre_hook = $T/quickhook
hook_timeout = 5s
EOF2
start_agentd

# gone PID: no such process, or only its zombie left for its reaper.
gone() {
	[ ! -e "/proc/$1/stat" ] ||
		[ "$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

start=$(date +%s)
ctl backup run hang >/dev/null 2>"$T/err"; rc=$?
took=$(( $(date +%s) - start ))
expect_eq "timed-out pre_hook exit" $rc 1
grep -q "pre_hook timed out after 2 s" "$T/err" ||
	fail "no timeout error: $(cat "$T/err")"
# 2 s, then up to 5 s of grace after SIGTERM: not the default 10 minutes.
[ $took -ge 2 ] && [ $took -le 15 ] || fail "the timed-out run took $took s"
[ -s "$T/hook.pid" ] && [ -s "$T/child.pid" ] || fail "the hook did not run"
wait_until 5 gone "$(cat "$T/hook.pid")" ||
	fail "the hook survived its timeout"
wait_until 5 gone "$(cat "$T/child.pid")" ||
	fail "the hook's child survived its timeout"
grep -q "still running after 2 s; stopping its process group" \
	"$T/agentd.log" || fail "the timeout was not logged"
ls "$T/target" | grep -q 'manifest' && fail "a snapshot after a failed pre_hook"

# The lock is free again, and a hook within its limit runs.
out=$(ctl backup run quick 2>"$T/err") ||
	fail "run after the timeout: $(cat "$T/err")"
expect_match "snapshot id" "$(printf '%s\n' "$out" | tail -n 1)" \
	'^[0-9]{8}T[0-9]{6}Z-[0-9a-f]+$'
[ -f "$T/quick.ran" ] || fail "the quick hook did not run"
stop_agentd || fail "agentd did not stop cleanly"
echo "PASS: test_backup_hooks (timed out in $took s)"
