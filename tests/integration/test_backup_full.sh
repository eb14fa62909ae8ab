# A full disk on a file:// target: a 2 MiB tmpfs as the target and a tree
# that does not fit. The run fails with "No space left on device" naming
# the target, leaves no object under a final name (only temporaries,
# which the next run removes), the earlier snapshot still verifies, and
# once there is room the next run succeeds.
. tests/integration/lib.sh

[ "$(id -u)" = 0 ] || { echo "SKIP test_backup_full: needs root (mount)"; exit 0; }
S=$T/src
TG=$T/target
mkdir -p "$S" "$TG"
mount -t tmpfs -o size=2m tmpfs "$TG" ||
	{ echo "SKIP test_backup_full: cannot mount a tmpfs"; exit 0; }
trap 'umount "$TG" 2>/dev/null; cleanup' EXIT
head -c 200000 /dev/urandom > "$S/fits"
write_config <<EOF2
[backup.f]
paths = $S
target = file://$TG
compression = 1
keep_last = 0
keep_daily = 0
keep_weekly = 0
keep_monthly = 0
EOF2
start_agentd
ectl() {
	"$AGENTCTL" --config "$T/agentd.conf" "$@"
}

out=$(ctl backup run f 2>"$T/err") || fail "the first run: $(cat "$T/err")"
id1=$(printf '%s\n' "$out" | tail -n 1)
ls "$TG" > "$T/before"

# 3 MB of random bytes: more than the 2 MiB holds.
head -c 3000000 /dev/urandom > "$S/big"
ctl backup run f >/dev/null 2>"$T/err"; rc=$?
expect_eq "run on a full target: exit" $rc 1
grep -q "No space left on device" "$T/err" ||
	fail "no ENOSPC error: $(cat "$T/err")"
grep -q "file://$TG" "$T/err" ||
	fail "the error does not name the target: $(cat "$T/err")"
# Nothing new under a final name: only temporaries may be left.
ls "$TG" | cmp -s - "$T/before" ||
	fail "a final name after the failed run: $(ls -a "$TG")"
ls -a "$TG" | grep -q '^lock$' && fail "the lock was left behind"
ectl backup verify f "$id1" >"$T/v" 2>&1 ||
	fail "verify of the earlier snapshot: $(cat "$T/v")"

# Not a byte free: the run cannot even write the target's lock object.
dd if=/dev/zero of="$TG/filler" bs=64k 2>/dev/null
ctl backup run f >/dev/null 2>"$T/err"; rc=$?
expect_eq "run on a target without a free byte: exit" $rc 1
grep -q "No space left on device" "$T/err" && grep -q "file://$TG" "$T/err" ||
	fail "no ENOSPC error naming the target: $(cat "$T/err")"
ls "$TG" | grep -v '^filler$' | cmp -s - "$T/before" ||
	fail "a final name after the failed run: $(ls -a "$TG")"

# Room again: the next run succeeds and no temporary is left.
rm -f "$TG/filler"
mount -o remount,size=16m "$TG" || fail "cannot grow the tmpfs"
out=$(ctl backup run f 2>"$T/err") || fail "the run with room: $(cat "$T/err")"
id2=$(printf '%s\n' "$out" | tail -n 1)
ls -a "$TG" | grep -q '^\.tmp-' && fail "temporaries left: $(ls -a "$TG")"
ectl backup verify f "$id2" >"$T/v" 2>&1 || fail "verify $id2: $(cat "$T/v")"
ectl backup verify f "$id1" >"$T/v" 2>&1 || fail "verify $id1: $(cat "$T/v")"
stop_agentd || fail "agentd did not stop cleanly"
echo "PASS: test_backup_full"
