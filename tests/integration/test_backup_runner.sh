# The job runner's chains, retention and locks, end to end with the real
# agentd and agentctl: the second run is an incremental on the first,
# --full forces a full, `backup list --json` tells kinds, parents and
# counts; `backup verify` passes, then names the file behind a flipped
# byte; `backup forget` (dry run first) keeps the newest two and the full
# their chain needs; retention runs after an ok run; a held lock fails a
# run and forget with "target busy", and the lock a SIGKILLed
# agentd-backup leaves behind does not block the next run.
. tests/integration/lib.sh

S=$T/src
TG=$T/target
mkdir -p "$S/d" "$TG"
head -c 400000 /dev/urandom > "$S/d/big"
printf 'one\n' > "$S/small"
cat > "$T/slowhook" <<SH
#!/bin/sh
while [ ! -e $T/slow.go ] && [ -d $T ]; do sleep 0.1; done
SH
chmod 0755 "$T/slowhook"

# keep_* all 0 while the chain is built: every run keeps everything.
job() {	# KEEP_LAST [SCHEDULE]
	write_config <<EOF2
[backup.r]
schedule = ${2:-}
paths = $S
target = file://$TG
full_every = 7d
keep_last = $1
keep_daily = 0
keep_weekly = 0
keep_monthly = 0
[backup.slow]
paths = $S/small
target = file://$TG
pre_hook = $T/slowhook
keep_last = 0
keep_daily = 0
keep_weekly = 0
keep_monthly = 0
EOF2
}
job 0
"$AGENTD" --check-config --config "$T/agentd.conf" >"$T/err" 2>&1 ||
	fail "--check-config: $(cat "$T/err")"
start_agentd
# list, verify and forget read the jobs from the config, as root.
ectl() {
	"$AGENTCTL" --config "$T/agentd.conf" "$@"
}

run() {	# ARGS...: prints the id
	out=$(ctl backup run r "$@" 2>"$T/err") ||
		fail "backup run r $*: exit $?: $(cat "$T/err")"
	printf '%s\n' "$out" | tail -n 1
}
last_field() {	# FIELD of the job's last result
	ctl backup status --json | python3 -c "
import json, sys
print({b['job']: b for b in json.load(sys.stdin)}['r']['last']['$1'])"
}

id1=$(run)
expect_eq "run 1 kind" "$(last_field kind)" full
printf 'two\n' > "$S/small"
id2=$(run)
grep -q "^backup r: ok, incremental on $id1, 2 files, " "$T/err" ||
	fail "run 2's summary: $(cat "$T/err")"
expect_eq "run 2 kind" "$(last_field kind)" incremental
expect_eq "run 2 parent" "$(last_field parent)" "$id1"
id3=$(run --full)
expect_eq "run 3 (--full) kind" "$(last_field kind)" full
expect_eq "run 3 (--full) parent" "$(last_field parent)" ""
printf 'four\n' > "$S/small"
id4=$(run)
id5=$(run)
expect_eq "run 5 parent" "$(last_field parent)" "$id4"

ectl backup list r --json >"$T/list.json" 2>"$T/err" ||
	fail "backup list --json: $(cat "$T/err")"
python3 - "$T/list.json" "$id1" "$id2" "$id3" "$id4" "$id5" <<'PY' ||
import json, sys
a = json.load(open(sys.argv[1]))
ids = sys.argv[2:]
assert [s["id"] for s in a] == ids, ("ids", [s["id"] for s in a], ids)
want = [("full", None), ("incremental", ids[0]), ("full", None),
    ("incremental", ids[2]), ("incremental", ids[3])]
for s, (kind, parent) in zip(a, want):
    for k in ("id", "job", "kind", "parent", "started", "finished", "files",
              "bytes", "stored_bytes", "status"):
        assert k in s, ("missing", k, s)
    assert s["job"] == "r" and s["status"] == "ok", s
    assert (s["kind"], s["parent"]) == (kind, parent), (s, kind, parent)
    assert s["files"] == 2 and 400004 <= s["bytes"] <= 400005, s
    assert 0 < s["started"] <= s["finished"], s
# The fulls store the 400 kB of random bytes; an incremental only what
# changed (the big file is "in parent").
assert a[0]["stored_bytes"] > 400000 and a[2]["stored_bytes"] > 400000, a
assert a[1]["stored_bytes"] < 100000 and a[4]["stored_bytes"] < 100000, a
PY
	fail "backup list --json: $(cat "$T/list.json")"
out=$(ectl backup list) || fail "backup list"
expect_eq "backup list lines" "$(printf '%s\n' "$out" | grep -c '^r ')" 5

# --- verify -----------------------------------------------------------
ectl backup verify r latest >"$T/v" 2>&1 || fail "verify latest: $(cat "$T/v")"
ectl backup verify r "$id2" >"$T/v" 2>&1 || fail "verify $id2: $(cat "$T/v")"
arch=$TG/$id3.tar.zst.enc
cp "$arch" "$T/arch.save"
python3 -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read())
b[len(b)//2]^=1; open(p,'wb').write(b)" "$arch"
ectl backup verify r latest >"$T/v" 2>&1 &&
	fail "verify passed with a flipped byte in $id3's archive"
grep -q "^BAD $S/d/big: " "$T/v" || grep -q "^BAD ${S#/}/d/big: " "$T/v" ||
	fail "verify does not name the damaged file: $(cat "$T/v")"
cp "$T/arch.save" "$arch"
ectl backup verify r latest >"$T/v" 2>&1 || fail "verify after repair: $(cat "$T/v")"

# --- forget: keep_last = 2 keeps 5 and 4, and 3 for 4's chain --------
job 2
ls "$TG" > "$T/before"
ectl backup forget r --dry-run >"$T/f" 2>&1 || fail "forget --dry-run: $(cat "$T/f")"
grep -q "^forget $id1\$" "$T/f" && grep -q "^forget $id2\$" "$T/f" &&
	grep -q "^keep   $id3  chain\$" "$T/f" &&
	grep -q "^keep   $id4  last,chain\$" "$T/f" && grep -q "^keep   $id5  last\$" "$T/f" ||
	fail "forget --dry-run plan: $(cat "$T/f")"
ls "$TG" | cmp -s - "$T/before" || fail "the dry run removed something"
ectl backup forget r >"$T/f" 2>&1 || fail "forget: $(cat "$T/f")"
left=$(ectl backup list r --json | python3 -c "
import json, sys; print(' '.join(s['id'] for s in json.load(sys.stdin)))")
expect_eq "snapshots after forget" "$left" "$id3 $id4 $id5"
ls "$TG" | grep -q "^$id1\." && fail "$id1's objects are still there: $(ls "$TG")"
ectl backup verify r latest >"$T/v" 2>&1 || fail "verify after forget: $(cat "$T/v")"

# --- retention after an ok run: keep_last = 1 and a full -------------
job 1
ctl reload >/dev/null || fail "reload"
id6=$(run --full)
expect_eq "forgotten by run 6" "$(last_field forgotten)" 3
left=$(ectl backup list r --json | python3 -c "
import json, sys; print(' '.join(s['id'] for s in json.load(sys.stdin)))")
expect_eq "snapshots after run 6" "$left" "$id6"

# --- locks: held, then left behind by a SIGKILLed run -----------------
ctl backup run slow >/dev/null 2>"$T/slow.err" &
SLOW=$!
wait_until 10 test -e "$TG/lock" || fail "slow run took no lock"
ctl backup run r >/dev/null 2>"$T/err"; rc=$?
expect_eq "run while the target is locked" $rc 1
grep -q "target busy (another run holds the lock" "$T/err" ||
	fail "busy run: $(cat "$T/err")"
ectl backup forget r >/dev/null 2>"$T/err" && fail "forget took a held lock"
grep -q "target busy (another run holds the lock" "$T/err" ||
	fail "busy forget: $(cat "$T/err")"
pid=$(awk '$1 == "pid" { print $2 }' "$TG/lock")
[ -n "$pid" ] && kill -0 "$pid" || fail "no live pid in the lock: $(cat "$TG/lock")"
kill -9 "$pid"
wait "$SLOW"; rc=$?
expect_eq "SIGKILLed run exit" $rc 1
[ -e "$TG/lock" ] || fail "the killed run left no lock (nothing to test)"
id7=$(run)
expect_eq "run after a stale lock" "$(last_field status)" ok
expect_eq "run 7 parent" "$(last_field parent)" "$id6"
[ -e "$TG/lock" ] && fail "lock left after a clean run: $(cat "$TG/lock")"
touch "$T/slow.go"

# --- a scheduled run waits for a busy target --------------------------
# Its catch-up run at start finds the local flock held (as by another
# job's run on the same target) and takes its turn when it is free.
stop_agentd || fail "agentd did not stop cleanly"
lockf=$(ls "$T/state/backup/"target-*.lock) || fail "no local lock file"
flock "$lockf" sleep 3 &
HOLD=$!
wait_until 5 sh -c "! flock -n '$lockf' true" || fail "could not hold $lockf"
job 1 "0 2 * * *"
printf '%s backup.r\n' $(( $(date +%s) - 2 * 86400 )) > "$T/state/calendar"
start_agentd
wait_until 10 grep -q "backup r: target busy (another run holds the lock); waiting up to 3600 s" \
	"$T/agentd.log" || fail "the scheduled run did not wait for the lock"
wait "$HOLD"
r_ok() { [ "$(last_field status)" = ok ]; }
wait_until 10 r_ok ||
	fail "the scheduled run did not succeed after the wait: $(ctl backup status)"

# Two jobs, each with its own key, on one target: list shows both, each
# job's snapshots from its own key, and the other's are not an error.
ctl backup run slow >/dev/null 2>"$T/err" || fail "slow run: $(cat "$T/err")"
ectl backup list --json >"$T/all.json" 2>"$T/err" ||
	fail "backup list (all jobs): $(cat "$T/err")"
python3 - "$T/all.json" <<'PY' || fail "backup list (all jobs): $(cat "$T/all.json")"
import json, sys
a = json.load(open(sys.argv[1]))
jobs = sorted(set(s["job"] for s in a))
assert jobs == ["r", "slow"], jobs
assert [s["files"] for s in a if s["job"] == "slow"] == [1], a
PY

stop_agentd || fail "agentd did not stop cleanly"
