# agentctl restore, backup kit and dr-restore end to end: a tree backed up
# through the real agentd job path, restored by agentctl itself (no daemon
# involved) and compared with an independent walk (treecmp.py); the path
# filter, the dry run, each --overwrite policy, the recovery kit (0600,
# O_EXCL), and a DR restore with neither config nor state dir, from the
# kit alone; a kit with the wrong key, or readable by others, is refused.
. tests/integration/lib.sh

make -s BUILD="$BUILD" "$BUILD/agentd-backup" >/dev/null ||
	fail "cannot build agentd-backup"
CMP="python3 $TOP/tests/integration/backup/treecmp.py"
rctl() {
	"$AGENTCTL" --config "$T/agentd.conf" "$@"
}

S=$T/src
mkdir -p "$S/d/e" "$T/target"
printf 'hello\n' > "$S/small"
head -c 300000 /dev/urandom > "$S/d/random"
printf 'x\n' > "$S/d/e/name with spaces"
printf 'gone\n' > "$S/d/deleted-later"
ln -s small "$S/link"
ln "$S/small" "$S/d/hardlink"
mkfifo "$S/fifo"

write_config <<EOF2
[backup.x]
paths = "$S"
target = file://$T/target
EOF2
start_agentd

# --- two snapshots through agentd ---------------------------------------
id1=$(ctl backup run x 2>"$T/err" | tail -n 1) ||
	fail "backup run x: $(cat "$T/err")"
cp -a "$S" "$T/src-at-1"
sleep 1.1	# a second run needs another id second
printf 'changed\n' >> "$S/d/random"
rm "$S/d/deleted-later"
printf 'new\n' > "$S/d/new"
id2=$(ctl backup run x 2>"$T/err" | tail -n 1) ||
	fail "second backup run x: $(cat "$T/err")"
[ "$id1" != "$id2" ] || fail "both runs made snapshot $id1"
stop_agentd 2>/dev/null || kill "$AGENTD_PID"

# --- restore latest and the first, as root, without agentd ---------------
mkdir "$T/r1" "$T/r0"
rctl restore x latest --to "$T/r1" >"$T/out" 2>"$T/err" ||
	fail "restore x latest: exit $?: $(cat "$T/out" "$T/err")"
grep -q "^restored $id2: .* 0 kept, 0 refused, 0 mismatched$" "$T/out" ||
	fail "restore summary: $(cat "$T/out")"
$CMP "$S" "$T/r1$S" >"$T/cmp" || fail "latest differs: $(head "$T/cmp")"
rctl restore x "$id1" --to "$T/r0" >"$T/out" 2>"$T/err" ||
	fail "restore x $id1: $(cat "$T/out" "$T/err")"
$CMP --content-only "$T/src-at-1" "$T/r0$S" >"$T/cmp" ||
	fail "first snapshot differs: $(head "$T/cmp")"
[ -e "$T/r1$S/d/deleted-later" ] &&
	fail "a file deleted before the snapshot came back"

# --- path filter ----------------------------------------------------------
mkdir "$T/r2"
rctl restore x latest --to "$T/r2" --path "$S/d/e" >"$T/out" 2>"$T/err" ||
	fail "restore --path: $(cat "$T/out" "$T/err")"
[ -f "$T/r2$S/d/e/name with spaces" ] || fail "--path: the file is missing"
[ -e "$T/r2$S/small" ] || [ -e "$T/r2$S/d/random" ] &&
	fail "--path restored more: $(find "$T/r2")"

# --- dry run writes nothing ------------------------------------------------
mkdir "$T/r3"
rctl restore x latest --to "$T/r3" --dry-run >"$T/out" 2>"$T/err" ||
	fail "dry run: $(cat "$T/out" "$T/err")"
[ -z "$(ls -A "$T/r3")" ] || fail "dry run wrote: $(find "$T/r3")"
grep -q "name with spaces" "$T/out" || fail "dry run lists: $(cat "$T/out")"

# --- --overwrite ------------------------------------------------------------
# small: a local edit newer than the snapshot; random: older than it.
prep() {
	printf 'local edit\n' > "$T/r1$S/small"
	printf 'old\n' > "$T/r1$S/d/random"
	touch -d '2001-01-01' "$T/r1$S/d/random"
}
prep
rctl restore x latest --to "$T/r1" --overwrite never >"$T/out" 2>"$T/err"
rc=$?
expect_eq "--overwrite never exit" $rc 2
expect_eq "never keeps the newer file" "$(cat "$T/r1$S/small")" "local edit"
expect_eq "never keeps the older file" "$(cat "$T/r1$S/d/random")" "old"
grep -q "d/random: exists, kept (--overwrite never)" "$T/err" ||
	fail "never does not name a kept file: $(cat "$T/err")"
prep
rctl restore x latest --to "$T/r1" --overwrite older >"$T/out" 2>"$T/err"
rc=$?
expect_eq "--overwrite older exit" $rc 2
expect_eq "older keeps the newer file" "$(cat "$T/r1$S/small")" "local edit"
cmp -s "$S/d/random" "$T/r1$S/d/random" ||
	fail "older did not replace the older file"
prep
rctl restore x latest --to "$T/r1" --overwrite always >"$T/out" 2>"$T/err" ||
	fail "--overwrite always: exit $?: $(cat "$T/err")"
$CMP "$S" "$T/r1$S" >"$T/cmp" || fail "after always: $(head "$T/cmp")"
rctl restore x latest --to "$T/r1" --overwrite sometimes >/dev/null 2>&1
expect_eq "bad --overwrite" $? 64

# --- the recovery kit -------------------------------------------------------
umask 022
rctl backup kit x --out "$T/kit" >"$T/out" 2>"$T/err" ||
	fail "backup kit: $(cat "$T/err")"
expect_eq "kit mode" "$(stat -c %a "$T/kit")" 600
head -n 1 "$T/kit" | grep -qx "agentd-recovery-kit 1" ||
	fail "kit first line: $(head -n 1 "$T/kit")"
grep -q "^key $(od -An -tx1 "$T/state/backup/x.key" | tr -d ' \n' |
    head -c 64)" "$T/kit" 2>/dev/null || grep -q '^key [0-9a-f]\{64\}$' \
    "$T/kit" || fail "kit has no key: $(cat "$T/kit")"
# Its conf lines are the job's section, valid config again.
python3 - "$T/kit" "$T" > "$T/fromkit.conf" <<'PY' || fail "kit conf lines"
import sys, urllib.parse
print("[agent]\ncontrol_socket = %s/c2.sock\nstate_dir = %s/state\n"
      "control_group =" % (sys.argv[2], sys.argv[2]))
for l in open(sys.argv[1]).read().splitlines():
    if l.startswith("conf "):
        print(urllib.parse.unquote(l[5:]))
PY
grep -qx "\[backup.x\]" "$T/fromkit.conf" || fail "kit conf: $(cat "$T/fromkit.conf")"
"$AGENTD" --check-config --config "$T/fromkit.conf" >"$T/out" 2>&1 ||
	fail "the kit's job does not read back: $(cat "$T/out")"
cp "$T/kit" "$T/kit.orig"
rctl backup kit x --out "$T/kit" >/dev/null 2>"$T/err"
expect_eq "kit over an existing file" $? 1
grep -q "refusing to replace" "$T/err" || fail "kit exists: $(cat "$T/err")"
rctl backup kit x --out "$T/kit" --force >/dev/null 2>"$T/err" ||
	fail "kit --force: $(cat "$T/err")"
expect_eq "kit --force mode" "$(stat -c %a "$T/kit")" 600
rctl backup kit nosuch --out "$T/kit2" >/dev/null 2>&1
expect_eq "kit of an unknown job" $? 1

# --- DR: no config, no state: the kit alone --------------------------------
rm -rf "$T/state" "$T/agentd.conf"
mkdir "$T/dr"
"$AGENTCTL" --config "$T/no/such.conf" dr-restore --kit "$T/kit" \
	--to "$T/dr" >"$T/out" 2>"$T/err" ||
	fail "dr-restore: exit $?: $(cat "$T/out" "$T/err")"
$CMP "$S" "$T/dr$S" >"$T/cmp" || fail "DR restore differs: $(head "$T/cmp")"
mkdir "$T/dr1"
"$AGENTCTL" dr-restore --kit "$T/kit" --snapshot "$id1" --to "$T/dr1" \
	>"$T/out" 2>"$T/err" || fail "dr-restore --snapshot: $(cat "$T/err")"
$CMP --content-only "$T/src-at-1" "$T/dr1$S" >"$T/cmp" ||
	fail "DR restore of $id1 differs: $(head "$T/cmp")"

# A wrong key: nothing readable, said clearly, nothing written.
sed "s/^key .*/key $(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')/" \
	"$T/kit" > "$T/kit.bad"
chmod 600 "$T/kit.bad"
mkdir "$T/dr2"
"$AGENTCTL" dr-restore --kit "$T/kit.bad" --to "$T/dr2" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -ne 0 ] || fail "a kit with the wrong key restored"
grep -q "wrong key" "$T/err" || fail "wrong key not said: $(cat "$T/err")"
[ -z "$(ls -A "$T/dr2")" ] || fail "wrong key wrote: $(find "$T/dr2")"

# A kit others can read is refused, like an ssh private key.
chmod 644 "$T/kit"
"$AGENTCTL" dr-restore --kit "$T/kit" --to "$T/dr2" >"$T/out" 2>"$T/err"
expect_eq "kit mode 0644" $? 1
grep -q "readable by others, refused" "$T/err" ||
	fail "0644 kit: $(cat "$T/err")"
# A truncated kit is refused by the parser.
head -n 3 "$T/kit.orig" > "$T/kit.short"
chmod 600 "$T/kit.short"
"$AGENTCTL" dr-restore --kit "$T/kit.short" --to "$T/dr2" >/dev/null \
	2>"$T/err"
expect_eq "truncated kit" $? 1
grep -q "truncated" "$T/err" || fail "truncated kit: $(cat "$T/err")"
# A damaged archive: the restore fails, it does not exit 0.
A=$T/target/$id2.tar.zst.enc
[ -f "$A" ] || fail "no archive $A: $(ls "$T/target")"
python3 - "$A" <<'PY'
import os, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(os.path.getsize(sys.argv[1]) // 2)
    b = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([b[0] ^ 0x55]))
PY
mkdir "$T/dr3"
"$AGENTCTL" dr-restore --kit "$T/kit.orig" --to "$T/dr3" >"$T/out" 2>"$T/err"
expect_eq "restore of a damaged archive" $? 1
grep -q "FAILED" "$T/out" || fail "damaged archive: $(cat "$T/out" "$T/err")"
echo "PASS: test_backup_restore"
