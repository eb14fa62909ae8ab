#!/usr/bin/env bash
# Incremental snapshots and their parent chain, through
# tests/integration/backup/backuptool.c: a full and four incrementals over
# a tree that loses files, gains them, renames them and changes their
# types (file -> dir, dir -> symlink, symlink -> file); each point is
# saved with `cp -a`, restored from the chain and compared with the saved
# copy by the independent walker (treecmp.py); verify walks the chain.
# Then a backup is killed with SIGKILL at a random moment: the earlier
# snapshots still restore, and the next run (taking the lock) cleans the
# leftovers.
set -u
TOP=$(pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
T=$(mktemp -d /tmp/backup-chain.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (owners)"

make -s BUILD="$BUILD" "$BUILD/backuptool" >/dev/null ||
	fail "cannot build $BUILD/backuptool"
BT=$BUILD/backuptool
CMP="python3 $TOP/tests/integration/backup/treecmp.py"
TG=file://$T/target
mkdir "$T/target"
$BT keygen "$T/key" || fail "keygen"
K="-k $T/key"

S=$T/src
cd "$T" || exit 1
ids=()
# backup N [parent]: a snapshot of src, and src saved as it was
backup() {
	local n=$1 p=${2:+-P $2} id
	id=$($BT backup "$TG" $K -j chain $p "$S" 2>"$T/bk.$n") ||
		{ cat "$T/bk.$n"; fail "backup $n"; }
	ids[$n]=$id
	rm -rf "$T/copy.$n"
	cp -a "$S" "$T/copy.$n" || fail "cp -a $n"
	# Ids carry the start second: the next one must sort after it.
	sleep 1.05
}
stored() { sed -n 's/.* stored \([0-9]*\) .*/\1/p' "$T/bk.$1"; }
unchanged() { sed -n 's/.* unchanged \([0-9]*\) .*/\1/p' "$T/bk.$1"; }

# --- 0: full
mkdir -p "$S/keep/deep" "$S/todir-later" "$S/gone-dir/sub"
head -c 2000000 /dev/urandom > "$S/keep/big"
printf 'always the same\n' > "$S/keep/deep/same"
printf 'v0\n' > "$S/edit"
printf 'to be removed\n' > "$S/removed"
printf 'old name\n' > "$S/renamed-from"
printf 'a file, later a dir\n' > "$S/type-f2d"
printf 'in a dir, later a symlink\n' > "$S/gone-dir/sub/f"
ln -s keep "$S/type-l2f"
chown 1234:5678 "$S/keep/deep/same"
chmod 0640 "$S/edit"
backup 0

# --- 1: edit, delete, add, rename
printf 'v1 longer\n' > "$S/edit"
rm "$S/removed"
printf 'new in 1\n' > "$S/added1"
mv "$S/renamed-from" "$S/renamed-to"
backup 1 "${ids[0]}"
[ "$(unchanged 1)" -ge 3 ] || fail "incremental 1 re-stored unchanged files: $(cat "$T/bk.1")"

# --- 2: file -> dir, dir -> symlink, a dir tree deleted
rm "$S/type-f2d"; mkdir "$S/type-f2d"; printf 'inside\n' > "$S/type-f2d/x"
rm -rf "$S/gone-dir"; ln -s keep/deep "$S/gone-dir"
rm -rf "$S/todir-later"
backup 2 "${ids[1]}"

# --- 3: nothing changed: only metadata is stored
backup 3 "${ids[2]}"
[ "$(stored 3)" -lt 100000 ] ||
	fail "a no-change incremental stored $(stored 3) bytes"

# --- 4: symlink -> file, a file deleted in 1 comes back different, chmod
rm "$S/type-l2f"; printf 'now a file\n' > "$S/type-l2f"
printf 'back, but new\n' > "$S/removed"
chmod 0600 "$S/keep/deep/same"
backup 4 "${ids[3]}"

for n in 0 1 2 3 4; do
	mkdir "$T/r.$n"
	$BT restore "$TG" "${ids[$n]}" "$T/r.$n" $K 2>"$T/rs.$n" ||
		{ cat "$T/rs.$n"; fail "restore of point $n"; }
	$CMP "$T/copy.$n" "$T/r.$n/${S#/}" >"$T/cmp.$n" ||
		{ cat "$T/cmp.$n"; fail "point $n differs from its copy"; }
	$BT verify "$TG" "${ids[$n]}" $K >"$T/vf.$n" 2>&1 ||
		{ cat "$T/vf.$n"; fail "verify of point $n"; }
done
# A path filter on an incremental: files from the full, only those.
mkdir "$T/r.p"
$BT restore "$TG" "${ids[4]}" "$T/r.p" $K -p "${S#/}/keep" 2>"$T/rs.p" ||
	{ cat "$T/rs.p"; fail "restore of keep/ from point 4"; }
$CMP "$T/copy.4/keep" "$T/r.p/${S#/}/keep" >"$T/cmp.p" ||
	{ cat "$T/cmp.p"; fail "keep/ of point 4 differs"; }
[ "$(ls "$T/r.p/${S#/}")" = keep ] || fail "the filter let more through"
# The deleted file is not back at 1..3, the renamed one only under its
# new name (treecmp checked it; make it explicit for the reader).
[ ! -e "$T/r.2/${S#/}/removed" ] || fail "a deleted file came back"
[ ! -e "$T/r.2/${S#/}/renamed-from" ] || fail "a renamed file's old name came back"

# A damaged ancestor is found by verify of a descendant.
arch=$T/target/${ids[0]}.tar.zst.enc
cp "$arch" "$T/arch.save"
printf 'X' | dd of="$arch" bs=1 seek=5000 conv=notrunc status=none
$BT verify "$TG" "${ids[4]}" $K >"$T/vf.bad" 2>&1 &&
	fail "verify of the newest passed with its full damaged"
grep -q "${ids[0]}" "$T/vf.bad" ||
	{ cat "$T/vf.bad"; fail "verify did not name the damaged ancestor"; }
cp "$T/arch.save" "$arch"

# --- the catalog and retention
$BT catalog "$TG" $K -j chain >"$T/cat" || fail "catalog"
[ "$(wc -l <"$T/cat")" -eq 5 ] || { cat "$T/cat"; fail "catalog: not 5"; }
grep -q "^${ids[3]} chain incremental ${ids[2]} " "$T/cat" ||
	{ cat "$T/cat"; fail "catalog: kind or parent of point 3"; }
grep -q "^${ids[0]} chain full - " "$T/cat" ||
	{ cat "$T/cat"; fail "catalog: the full"; }
# keep_last 1: the newest, and its chain back to the full, all stay.
$BT forget "$TG" $K -j chain -r 1,0,0,0 >"$T/fg" || fail "forget"
grep -q "^keep ${ids[4]} last$" "$T/fg" && grep -q "^keep ${ids[0]} chain$" "$T/fg" &&
	[ "$(grep -c '^keep' "$T/fg")" -eq 5 ] ||
	{ cat "$T/fg"; fail "forget would break the chain"; }
# A new full and an incremental on it: now the old chain goes.
id5=$($BT backup "$TG" $K -j chain "$S" 2>/dev/null) || fail "backup 5"
sleep 1.05
id6=$($BT backup "$TG" $K -j chain -a "$S" 2>"$T/bk.6") || { cat "$T/bk.6"; fail "backup 6"; }
grep -q " unchanged [1-9]" "$T/bk.6" || { cat "$T/bk.6"; fail "-a did not make an incremental"; }
rm -rf "$T/copy.6"; cp -a "$S" "$T/copy.6"
$BT forget "$TG" $K -j chain -n -r 1,0,0,0 >"$T/fg" || fail "forget -n"
[ "$(grep -c '^forget' "$T/fg")" -eq 5 ] || { cat "$T/fg"; fail "dry run"; }
[ "$(ls "$T/target" | grep -c manifest)" -eq 7 ] || fail "the dry run removed something"
$BT forget "$TG" $K -j chain -r 1,0,0,0 >"$T/fg" || fail "forget"
[ "$(ls "$T/target" | grep -c '^20')" -eq 4 ] ||
	{ ls "$T/target"; fail "forget did not leave two whole snapshots"; }
mkdir "$T/r.6"
$BT restore "$TG" "$id6" "$T/r.6" $K 2>"$T/rs.6" || { cat "$T/rs.6"; fail "restore after forget"; }
$CMP "$T/copy.6" "$T/r.6/${S#/}" >"$T/cmp.6" || { cat "$T/cmp.6"; fail "after forget"; }

# --- kill -9 of a run at a random moment
mkdir "$S/bulk"
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	head -c 4000000 /dev/urandom >"$S/bulk/f$i"
done
ms=$((RANDOM % 500 + 30))
$BT backup "$TG" $K -j chain -a -L "$T/local.lock" "$S" >/dev/null 2>&1 &
bp=$!
sleep "0.$(printf %03d $ms)"
kill -9 $bp 2>/dev/null
wait $bp 2>/dev/null
left=$(ls -a "$T/target" | grep -c '^\.tmp-\|^lock$')
echo "killed after ${ms} ms: $left leftover temporaries/lock"
# What was there still restores.
rm -rf "$T/r.6"; mkdir "$T/r.6"
$BT restore "$TG" "$id6" "$T/r.6" $K 2>"$T/rs.6" || { cat "$T/rs.6"; fail "restore after the kill"; }
$CMP "$T/copy.6" "$T/r.6/${S#/}" >"$T/cmp.6" || { cat "$T/cmp.6"; fail "after the kill"; }
# The next run is not blocked, and cleans up.
id7=$($BT backup "$TG" $K -j chain -a -L "$T/local.lock" "$S" 2>"$T/bk.7") ||
	{ cat "$T/bk.7"; fail "the run after the kill"; }
ls -a "$T/target" | grep -q '^\.tmp-\|^lock$' &&
	{ ls -a "$T/target"; fail "leftovers after the next run"; }
for a in "$T"/target/*.tar.zst.enc; do
	[ -e "${a%.tar.zst.enc}.manifest.enc" ] ||
		{ ls -a "$T/target"; fail "an archive without manifest: $a"; }
done
$BT verify "$TG" "$id7" $K >"$T/vf.7" 2>&1 || { cat "$T/vf.7"; fail "verify after the kill"; }

echo "PASS: test_backup_chain"
