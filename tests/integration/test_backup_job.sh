# Backup jobs end to end: the real agentd with a [backup.x] job runs
# agentd-backup for `agentctl backup run x`; the snapshot restores equal
# (backuptool, treecmp.py); a failing pre_hook fails the run (exit 1); a
# run as an unprivileged agentd with an unreadable file is partial (exit
# 2); each run is a backup_result report; a hostile agentd-backup (bad or
# oversized frame) is killed and its run reported failed; agentd itself
# loads neither libarchive nor libsodium.
. tests/integration/lib.sh

make -s BUILD="$BUILD" "$BUILD/backuptool" "$BUILD/agentd-backup" \
	>/dev/null || fail "cannot build the backup parts"
BT=$BUILD/backuptool
CMP="python3 $TOP/tests/integration/backup/treecmp.py"

# agentd must not load the archive or crypto libraries.
out=$(ldd "$AGENTD")
printf '%s\n' "$out" | grep -Eq 'libarchive|libsodium' &&
	fail "agentd links libarchive or libsodium: $out"

# The reports go to the fake portal, which writes "seq kind" lines.
make_certs
echo ok > "$T/fake.mode"
start_fake_portal server
trap 'kill $FAKE_PID 2>/dev/null; cleanup' EXIT
write_identity "https://127.0.0.1:$FAKE_PORT" "$T/certs/ca.pem" 1

# The tree, the target, the hooks.
S=$T/src
mkdir -p "$S/d/e" "$T/target"
printf 'hello\n' > "$S/small"
head -c 300000 /dev/urandom > "$S/d/random"
printf 'x\n' > "$S/d/e/name with spaces"
ln -s small "$S/link"
cat > "$T/prehook" <<SH
#!/bin/sh
echo "\$1" > $T/prehook.ran
exit 0
SH
cat > "$T/badhook" <<'SH'
#!/bin/sh
exit 3
SH
cat > "$T/slowhook" <<SH
#!/bin/sh
while [ ! -e $T/slow.go ]; do sleep 0.1; done
SH
chmod 0755 "$T/prehook" "$T/badhook" "$T/slowhook"

write_config <<EOF2
[backup.x]
paths = "$S"
target = file://$T/target
compression = 3
pre_hook = $T/prehook "an arg"
[backup.bad]
paths = $S
target = file://$T/target
pre_hook = $T/badhook
[backup.slow]
paths = $S
target = file://$T/target
pre_hook = $T/slowhook
schedule = 0 3 * * *
EOF2
start_agentd

# --- a full run, restored and compared ----------------------------------
out=$(ctl backup run x 2>"$T/err"); rc=$?
[ $rc -eq 0 ] || fail "backup run x: exit $rc: $(cat "$T/err")"
id=$(printf '%s\n' "$out" | tail -n 1)
expect_match "snapshot id" "$id" '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]+$'
expect_eq "pre_hook ran with its argument" "$(cat "$T/prehook.ran")" "an arg"
[ -f "$T/state/backup/x.key" ] || fail "no key in state_dir/backup/x.key"
expect_eq "key mode" "$(stat -c %a "$T/state/backup/x.key")" 600
ls "$T/target" | grep -q "^$id.tar.zst.enc$" ||
	fail "no encrypted archive for $id: $(ls "$T/target")"
mkdir -p "$T/r"
"$BT" restore "file://$T/target" "$id" "$T/r" -k "$T/state/backup/x.key" \
	2>"$T/err" || fail "restore: $(cat "$T/err")"
$CMP "$S" "$T/r$S" >"$T/cmp" || fail "restored tree differs: $(head "$T/cmp")"
# The system records beside it, encrypted, and what they decrypt to.
# (Each only where the host has it: dpkg, lsblk, /etc/fstab.)
if [ -x /usr/bin/dpkg ]; then
	"$BT" sysrecord "file://$T/target" "$id" packages \
		-k "$T/state/backup/x.key" >"$T/pkgs" 2>"$T/err" ||
		fail "sysrecord packages: $(cat "$T/err") ($(ls "$T/target"))"
	grep -Eq '^dpkg[[:space:]]+install$' "$T/pkgs" ||
		fail "no dpkg in the package record: $(head -3 "$T/pkgs")"
	grep -aq "dpkg" "$T/target/$id.sys-packages.enc" &&
		fail "package record stored in clear"
fi
if [ -x /usr/bin/lsblk ] && lsblk -J -O >/dev/null 2>&1; then
	"$BT" sysrecord "file://$T/target" "$id" disks \
		-k "$T/state/backup/x.key" >"$T/disks" 2>"$T/err" ||
		fail "sysrecord disks: $(cat "$T/err") ($(ls "$T/target"))"
	python3 -c 'import json,sys; assert "blockdevices" in json.load(open(sys.argv[1]))' \
		"$T/disks" || fail "disk record is not lsblk JSON: $(head -c 200 "$T/disks")"
fi
if [ -f /etc/fstab ]; then
	"$BT" sysrecord "file://$T/target" "$id" fstab \
		-k "$T/state/backup/x.key" >"$T/fstab" 2>"$T/err" ||
		fail "sysrecord fstab: $(cat "$T/err") ($(ls "$T/target"))"
	cmp -s "$T/fstab" /etc/fstab || fail "fstab record differs from /etc/fstab"
	# A flipped byte is caught on read.
	f=$T/target/$id.sys-fstab.enc
	cp "$f" "$T/fstab.saved"
	python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[-5] ^= 1; open(p, "wb").write(b)' "$f"
	"$BT" sysrecord "file://$T/target" "$id" fstab -k "$T/state/backup/x.key" \
		>/dev/null 2>&1 && fail "a tampered system record was read"
	mv "$T/fstab.saved" "$f"
fi

out=$(ctl backup status --json)
python3 - "$out" "$id" <<'PY' || fail "backup status --json: $out"
import json, sys
a = json.loads(sys.argv[1])
j = {b["job"]: b for b in a}
x = j["x"]
assert x["running"] is False, x
assert x["last"]["status"] == "ok" and x["last"]["snapshot"] == sys.argv[2], x
assert x["last"]["files"] == 3 and x["last"]["bytes"] > 300000, x
assert x["next_run"] is None and j["bad"]["last"] is None, j
PY
expect_match "backup status" "$(ctl backup status)" '^x: idle, last ok '

# --- a failing pre_hook fails the run -----------------------------------
ctl backup run bad >/dev/null 2>"$T/err"; rc=$?
expect_eq "failing pre_hook exit" $rc 1
grep -q "pre_hook $T/badhook exited with status 3" "$T/err" ||
	fail "no pre_hook error: $(cat "$T/err")"

# --- one run per job at a time -----------------------------------------
ctl backup run slow >"$T/slow.out" 2>"$T/slow.err" &
SLOW=$!
slow_running() { ctl backup status | grep -q '^slow: running'; }
wait_until 10 slow_running || fail "slow did not start: $(ctl backup status)"
ctl backup run slow >/dev/null 2>"$T/err"; rc=$?
expect_eq "second run while running" $rc 1
grep -q "already running" "$T/err" || fail "second run: $(cat "$T/err")"
expect_match "scheduled job's next run" "$(ctl backup status)" \
	'^slow: running, never run, next [0-9]{4}-[0-9]{2}-[0-9]{2} 03:00$'
touch "$T/slow.go"
wait "$SLOW"; rc=$?
expect_eq "slow run exit" $rc 0
# Not a terminal: the snapshot id alone, no progress lines.
expect_match "slow run output" "$(cat "$T/slow.out")" '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]+$'
[ "$(wc -l < "$T/slow.out")" = 1 ] || fail "progress on a pipe: $(cat -A "$T/slow.out")"
# On a terminal: progress lines (files, bytes, rate) while it runs.
if command -v script >/dev/null 2>&1; then
	rm -f "$T/slow.go"
	script -qec "$AGENTCTL --socket $T/control.sock backup run slow" \
	    /dev/null >"$T/tty.out" 2>&1 &
	SLOW=$!
	sleep 1
	touch "$T/slow.go"
	wait "$SLOW"
	grep -q "slow: 0 files, 0 B, 0 B/s" "$T/tty.out" ||
		fail "no progress line on a terminal: $(cat -A "$T/tty.out")"
fi

# --- unknown job ----------------------------------------------------------
ctl backup run nope >/dev/null 2>"$T/err"; rc=$?
expect_eq "unknown job exit" $rc 1
grep -q "no such backup job" "$T/err" || fail "unknown job: $(cat "$T/err")"

# --- the reports ----------------------------------------------------------
wait_until 20 sh -c "[ \$(grep -c ' backup_result\$' $T/fake.seqs) -ge 4 ]" ||
	fail "no four backup_result reports at the portal: $(cat "$T/fake.seqs" 2>/dev/null)"
"$AGENTCTL" --config "$T/agentd.conf" backup list x --json >"$T/list.json" ||
	fail "backup list x --json"
python3 - "$T/fake.seqs.payloads" "$id" "$T/list.json" <<'PY' || fail "backup_result payloads: $(cat "$T/fake.seqs.payloads")"
import json, sys
ps = [json.loads(l) for l in open(sys.argv[1])]
x = [p for p in ps if p.get("job") == "x"][0]
# The run's report and the catalog give the same stored size.
listed = [e for e in json.load(open(sys.argv[3])) if e["id"] == sys.argv[2]][0]
assert listed["stored_bytes"] == x["stored_bytes"], (listed, x)
assert set(x) >= {"job", "snapshot", "kind", "status", "files", "bytes",
                  "stored_bytes", "duration", "errors"}, x
assert x["snapshot"] == sys.argv[2] and x["status"] == "ok", x
assert x["kind"] == "full" and x["errors"] == [] and x["stored_bytes"] > 0, x
bad = [p for p in ps if p.get("job") == "bad"][0]
assert bad["status"] == "failed" and "pre_hook" in bad["errors"][0], bad
PY

# --- the portal's run_backup command (args.name, as the portal sends it) ----
echo "run_backup:x" > "$T/fake.mode"
portal_ran() {
	grep -q '"command_id": "cmd_backup_x"' "$T/fake.seqs.payloads" &&
	[ "$(grep -c '"job": "x"' "$T/fake.seqs.payloads")" -ge 3 ]
}
wait_until 20 portal_ran ||
	fail "the portal's run_backup did not run: $(cat "$T/fake.seqs.payloads")"
echo ok > "$T/fake.mode"
grep '"command_id": "cmd_backup_x"' "$T/fake.seqs.payloads" | grep -q '"status": "done"' ||
	fail "run_backup not answered done: $(cat "$T/fake.seqs.payloads")"
# --- a reload: a job removed, one added ----------------------------------
write_config <<EOF2
[backup.y]
paths = $S
target = file://$T/target
encryption = no
EOF2
ctl reload >/dev/null || fail "reload refused"
out=$(ctl backup status)
expect_eq "jobs after reload" "$out" "y: idle, never run, on demand"
ctl backup run y >/dev/null 2>"$T/err" || fail "run y after reload: $(cat "$T/err")"
stop_agentd || fail "agentd did not stop cleanly"

# --- a hostile agentd-backup --------------------------------------------
mkdir -p "$T/bin"
cp "$AGENTD" "$BUILD/agentd-reporter" "$T/bin/"
cat > "$T/bin/agentd-backup" <<'PY'
#!/usr/bin/env python3
import os, struct, sys, time
f = os.fdopen(3, "r+b", buffering=0)
n = struct.unpack(">I", f.read(4))[0]
f.read(n)
mode = open(os.path.join(os.path.dirname(sys.argv[0]), "mode")).read().strip()
if mode == "huge":
    f.write(struct.pack(">I", 10 * 1024 * 1024) + b"{" * 65536)
else:
    body = b'{"t":"result","snapshot":"../x","status":"great","files":1,' \
        b'"bytes":1,"stored_bytes":1,"duration":1,"error":""}'
    f.write(struct.pack(">I", len(body)) + body)
time.sleep(30)
PY
chmod 0755 "$T/bin/agentd-backup"
AGENTD=$T/bin/agentd start_agentd
for mode in huge malformed; do
	echo "$mode" > "$T/bin/mode"
	start=$(date +%s)
	ctl backup run y >/dev/null 2>"$T/err"; rc=$?
	expect_eq "hostile helper ($mode) exit" $rc 1
	grep -q "without a result" "$T/err" ||
		fail "hostile helper ($mode): $(cat "$T/err")"
	[ $(( $(date +%s) - start )) -lt 10 ] ||
		fail "hostile helper ($mode) was not killed at once"
done
grep -q "agentd-backup sent a bad frame" "$T/agentd.log" ||
	fail "the bad frame was not logged"
stop_agentd || fail "agentd did not stop cleanly after the hostile runs"

# --- partial: agentd as an unprivileged user, a file it cannot read -------
if ! command -v setpriv >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
	echo "SKIP partial run: needs root and setpriv to run agentd as nobody"
	exit 0
fi
P=$T/p
mkdir -p "$P/src" "$P/target" "$P/state"
printf 'ok\n' > "$P/src/readable"
printf 'secret\n' > "$P/src/secret"
chmod 0600 "$P/src/secret"
chmod 0755 "$T" "$P" "$P/src"
chown 65534:65534 "$P/target" "$P/state"
chown 65534 "$P"
cat > "$P/agentd.conf" <<EOF2
[agent]
control_socket = $P/control.sock
state_dir = $P/state
control_group =
[backup.p]
paths = $P/src
target = file://$P/target
encryption = no
EOF2
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$BUILD/agentd" --foreground --config "$P/agentd.conf" \
	>>"$T/agentd.log" 2>&1 &
AGENTD_PID=$!
wait_until 10 test -S "$P/control.sock" || fail "unprivileged agentd did not start"
"$AGENTCTL" --socket "$P/control.sock" backup run p >"$T/out" 2>"$T/err"; rc=$?
expect_eq "partial run exit" $rc 2
grep -q "partial" "$T/err" || fail "partial: $(cat "$T/err")"
[ -s "$T/out" ] || fail "partial run printed no snapshot id"
stop_agentd || fail "unprivileged agentd did not stop cleanly"

# The same agentd with CAP_DAC_READ_SEARCH, as the unit gives it: the
# helper keeps it (HELPER_KEEP_CAPS) and reads the file.
rm -f "$P/control.sock"
setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=+dac_read_search --ambient-caps=+dac_read_search \
	"$BUILD/agentd" --foreground --config "$P/agentd.conf" \
	>>"$T/agentd.log" 2>&1 &
AGENTD_PID=$!
wait_until 10 test -S "$P/control.sock" || fail "agentd with the capability did not start"
"$AGENTCTL" --socket "$P/control.sock" backup run p >"$T/out" 2>"$T/err"; rc=$?
expect_eq "run with CAP_DAC_READ_SEARCH exit" $rc 0
exit 0
