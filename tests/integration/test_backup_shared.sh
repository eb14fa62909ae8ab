# Two jobs, each with its own key, sharing one file:// target: each run,
# list and forget looks at its own job's snapshots only: no "cannot read
# its manifest" warnings for the other job's, retention and `backup
# forget` of one job leave the other's snapshots intact (and verifiable).
. tests/integration/lib.sh

S=$T/src
TG=$T/target
mkdir -p "$S/a" "$S/b" "$TG"
printf 'a\n' > "$S/a/file"
printf 'b\n' > "$S/b/file"
conf() {	# KEEP_LAST of job a
	write_config <<EOF2
[backup.a]
paths = $S/a
target = file://$TG
keep_last = $1
keep_daily = 0
keep_weekly = 0
keep_monthly = 0
[backup.b]
paths = $S/b
target = file://$TG
keep_last = 2
keep_daily = 0
keep_weekly = 0
keep_monthly = 0
EOF2
}
conf 2
start_agentd
ectl() {
	"$AGENTCTL" --config "$T/agentd.conf" "$@"
}
ids() {	# JOB: its snapshot ids, oldest first
	ectl backup list "$1" --json 2>>"$T/list.err" | python3 -c "
import json, sys; print(' '.join(s['id'] for s in json.load(sys.stdin)))"
}
run() {	# JOB
	# Fulls: keep_last alone decides what stays (no chains).
	ctl backup run "$1" --full >/dev/null 2>"$T/err" ||
		fail "backup run $1: $(cat "$T/err")"
}

for i in 1 2 3; do
	printf 'a %s\n' "$i" > "$S/a/file"
	run a
	printf 'b %s\n' "$i" > "$S/b/file"
	run b
done
grep -q "cannot read its manifest" "$T/agentd.log" &&
	fail "a run warned of the other job's manifests: $(grep 'cannot read' "$T/agentd.log" | head -3)"
a=$(ids a); b=$(ids b)
[ -s "$T/list.err" ] && fail "backup list noted the other job's snapshots: $(cat "$T/list.err")"
# keep_last = 2 each: retention after each run kept two of its own and
# touched none of the other's.
expect_eq "a's snapshots" "$(echo $a | wc -w)" 2
expect_eq "b's snapshots" "$(echo $b | wc -w)" 2
ls "$TG" | grep -c 'manifest.enc$' | grep -qx 4 ||
	fail "want 4 manifests on the target: $(ls "$TG")"

# forget on a (keep_last 1) leaves b's snapshots.
conf 1
ectl backup forget a >"$T/f" 2>&1 || fail "forget a: $(cat "$T/f")"
grep -q "cannot read\|do not open" "$T/f" && fail "forget a warned: $(cat "$T/f")"
expect_eq "a after forget" "$(ids a)" "${a##* }"
expect_eq "b after forget of a" "$(ids b)" "$b"
for id in $b; do
	ectl backup verify b "$id" >"$T/v" 2>&1 || fail "verify b $id: $(cat "$T/v")"
done
# Another job's snapshot asked of this job is named as such.
ectl backup verify a "${b%% *}" >"$T/v" 2>&1 && fail "a verified b's snapshot"
stop_agentd || fail "agentd did not stop cleanly"
echo "PASS: test_backup_shared"
