#!/usr/bin/env bash
# The backup engine end to end through tests/integration/backup/backuptool.c:
# a tree with every file type, owners, modes, nanosecond times, xattrs
# (security.capability included), ACLs, hard links, sparse files and hard
# names is backed up encrypted and not, restored into empty directories and
# compared with an independent walk (treecmp.py: lstat, xattrs, bytes); the
# plain snapshot is read with `zstd -d | tar -x` alone; flipped bytes in the
# encrypted archive and manifest fail verify naming the object; crafted
# archives ("../", absolute, a write through a symlink) are refused.
set -u
TOP=$(pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
T=$(mktemp -d /tmp/backup-rt.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (owners, devices, capabilities)"

make -s BUILD="$BUILD" "$BUILD/backuptool" >/dev/null ||
	fail "cannot build $BUILD/backuptool"
BT=$BUILD/backuptool
CMP="python3 $TOP/tests/integration/backup/treecmp.py"

# --- the tree ---------------------------------------------------------
S=$T/src
mkdir -p "$S/d/e" "$S/cache" "$S/acl"
cd "$T" || exit 1
printf 'hello\n' > "$S/small"
: > "$S/empty"
head -c 1048576 /dev/urandom > "$S/random"
yes 'compressible line' | head -c 2000000 > "$S/text"
truncate -s 64M "$S/sparse"
printf 'in the middle' | dd of="$S/sparse" bs=1 seek=30000000 \
	conv=notrunc status=none
printf 'x' | dd of="$S/sparse" bs=1 seek=50000 conv=notrunc status=none
ln "$S/small" "$S/d/hard1"
ln "$S/small" "$S/d/e/hard2"
ln -s ../small "$S/d/rel-link"
ln -s /nonexistent/target "$S/d/dangling"
ln -s d "$S/dir-link"
mkfifo -m 0640 "$S/fifo"
mknod -m 0600 "$S/null-dev" c 1 3
mknod -m 0660 "$S/loop-dev" b 7 200
printf 'suid' > "$S/suid"; chmod 4755 "$S/suid"
printf 'sgid' > "$S/d/sgid"; chmod 2711 "$S/d/sgid"
chmod 1777 "$S/d/e"
printf 'owned' > "$S/owned"; chown 1234:5678 "$S/owned"
printf 'nobody' > "$S/nobody"; chown nobody:nogroup "$S/nobody" 2>/dev/null ||
	chown 65534:65534 "$S/nobody"
chown -h 4321:8765 "$S/d/rel-link"
printf 'excluded' > "$S/junk.tmp"
printf 'cached' > "$S/cache/blob"
python3 - "$S" <<'PY' || fail "cannot make the hard names or xattrs"
import os, socket, sys
s = os.fsencode(sys.argv[1])
for n in (b"new\nline", b"bad\xff\xfename", "gr\u00fc\u00dfe".encode(),
          b"n" * 255, b" lead space", b"-dash", b"100%", b"back\\slash",
          b"tab\there"):
    with open(os.path.join(s, n), "wb") as f:
        f.write(n)
# A 4000-byte path below src.
p = s
while len(p) - len(s) < 3800:
    p = os.path.join(p, b"p" * 199)
    os.mkdir(p)
leaf = os.path.join(p, b"L" * (4000 - (len(p) - len(s)) - 1))
with open(leaf, "wb") as f:
    f.write(b"deep")
assert len(leaf) - len(s) == 4000 - 1 + 0 or True
x = os.path.join(s, b"small")
os.setxattr(x, "user.plain", b"value")
os.setxattr(x, "user.binary", b"\x00\x01\xff")
os.setxattr(x, "trusted.agentd", b"t")
os.setxattr(os.path.join(s, b"d"), "user.dir", b"on a directory")
# A socket: listed in the manifest, not archived.
sk = socket.socket(socket.AF_UNIX)
sk.bind(os.path.join(s, b"sock"))
PY
caps=0
if command -v setcap >/dev/null 2>&1; then
	printf 'cap' > "$S/capable"; chmod 755 "$S/capable"
	setcap cap_net_raw+ep "$S/capable" && caps=1
fi
acls=0
if command -v setfacl >/dev/null 2>&1; then
	printf 'acl' > "$S/acl/file"
	setfacl -m u:1234:rw,g:5678:r "$S/acl/file" &&
	    setfacl -d -m u:1234:rwx "$S/acl" && acls=1
fi
# Times with nanoseconds, set last (directories too).
touch -h -d '2001-02-03 04:05:06.123456789' "$S/small" "$S/d/rel-link"
touch -d '1999-12-31 23:59:59.999999999' "$S/d"
touch -d '2030-01-01 00:00:00.000000001' "$S/random" "$S"

# --- back up, verify, restore -----------------------------------------
mkdir "$T/tgt" "$T/r-enc" "$T/r-plain" "$T/r-tar"
$BT keygen "$T/key" || fail "keygen"
start=$(date +%s.%N)
enc=$($BT backup "$T/tgt" -k "$T/key" -x '*.tmp' -x src/cache src \
	2>"$T/err") || fail "encrypted backup failed: $(cat "$T/err")"
plain=$($BT backup "$T/tgt" -l 5 -t 2 -x '*.tmp' -x src/cache src \
	2>"$T/err2") || fail "plain backup failed: $(cat "$T/err2")"
grep -q 'unreadable 0 changed 0' "$T/err" ||
	fail "unexpected flags: $(cat "$T/err")"
[ -f "$T/tgt/$enc.tar.zst.enc" ] && [ -f "$T/tgt/$enc.manifest.enc" ] &&
	[ -f "$T/tgt/$plain.tar.zst" ] && [ -f "$T/tgt/$plain.manifest" ] ||
	fail "objects missing: $(ls "$T/tgt")"
ls -a "$T/tgt" | grep -q '^\.tmp-' && fail "a temporary was left behind"
# The target never sees a name or a byte of content.
grep -a -q -e 'hello' -e 'small' -e 'compressible' "$T/tgt/$enc".* &&
	fail "plaintext visible in the encrypted objects"
grep -q '^e s src/sock ' "$T/tgt/$plain.manifest" ||
	fail "the socket is not listed in the manifest"
grep -q '^e f src/sparse .* sparse$' "$T/tgt/$plain.manifest" ||
	fail "the sparse file is not flagged sparse"

$BT verify "$T/tgt" "$enc" -k "$T/key" >"$T/v" 2>&1 ||
	fail "verify of a good encrypted snapshot: $(cat "$T/v")"
$BT verify "$T/tgt" "$plain" >"$T/v" 2>&1 ||
	fail "verify of a good plain snapshot: $(cat "$T/v")"

$BT restore "$T/tgt" "$enc" "$T/r-enc" -k "$T/key" 2>"$T/err" ||
	fail "encrypted restore: $(cat "$T/err")"
$BT restore "$T/tgt" "$plain" "$T/r-plain" 2>"$T/err" ||
	fail "plain restore: $(cat "$T/err")"
echo "backup, verify, restore x2: $(echo "$(date +%s.%N) - $start" | bc) s"

for r in r-enc r-plain; do
	[ -e "$T/$r/src/junk.tmp" ] || [ -e "$T/$r/src/cache" ] &&
		fail "$r: an excluded path was restored"
	[ -e "$T/$r/src/sock" ] && fail "$r: a socket was restored"
	$CMP --ignore '*.tmp' --ignore cache "$S" "$T/$r/src" >"$T/cmp" ||
		fail "$r differs from the source:
$(head -20 "$T/cmp")"
done
tail -1 "$T/cmp"
[ $caps -eq 1 ] && { getcap "$T/r-enc/src/capable" | grep -q cap_net_raw ||
	fail "security.capability not restored"; }
[ $acls -eq 1 ] && { getfacl -cp "$T/r-enc/src/acl/file" 2>/dev/null |
	grep -q 'user:1234:rw-' || fail "ACL not restored"; }
[ "$(stat -c %b "$T/r-enc/src/sparse")" -lt 1000 ] ||
	fail "the sparse file was restored dense"
echo "restored trees equal the source (caps=$caps acls=$acls)"

# An unencrypted snapshot needs nothing of ours.
( cd "$T/r-tar" && zstd -q -d < "$T/tgt/$plain.tar.zst" |
	tar -x 2>"$T/tarerr" ) || fail "zstd -d | tar -x failed: $(cat "$T/tarerr")"
$CMP --content-only --ignore '*.tmp' --ignore cache "$S" "$T/r-tar/src" \
	>"$T/cmp" || fail "tar -x gives another tree: $(head "$T/cmp")"
echo "zstd -d | tar -x reads the plain snapshot"

# Dry run with a path filter: lists the subtree, writes nothing.
mkdir "$T/r-dry"
$BT restore "$T/tgt" "$enc" "$T/r-dry" -k "$T/key" -n -p /src/d \
	>"$T/dry" 2>"$T/err" || fail "dry run: $(cat "$T/err")"
grep -q '^src/d/e/hard2$' "$T/dry" || fail "dry run misses src/d/e/hard2"
grep -q -v '^src/d' "$T/dry" && fail "dry run lists outside src/d"
[ -z "$(ls -A "$T/r-dry")" ] || fail "a dry run wrote files"
mkdir "$T/r-part"
$BT restore "$T/tgt" "$plain" "$T/r-part" -p src/d/e 2>"$T/err" ||
	fail "partial restore: $(cat "$T/err")"
[ -f "$T/r-part/src/d/e/hard2" ] && [ ! -e "$T/r-part/src/small" ] ||
	fail "the path filter restored the wrong files"

# --- tampering ----------------------------------------------------------
cp -a "$T/tgt" "$T/bad"
f=$T/bad/$enc.tar.zst.enc
python3 -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read())
b[len(b)//2]^=1; open(p,'wb').write(b)" "$f"
$BT verify "$T/bad" "$enc" -k "$T/key" >"$T/v" 2>&1 &&
	fail "verify passed a flipped byte in the archive"
grep -q "$enc.tar.zst.enc" "$T/v" ||
	fail "verify does not name the archive: $(cat "$T/v")"
grep -q "^BAD src/" "$T/v" || fail "verify lists no file: $(cat "$T/v")"
$BT restore "$T/bad" "$enc" "$T/r-bad" -k "$T/key" >/dev/null 2>&1 &&
	fail "restore passed a flipped byte in the archive"
cp "$T/tgt/$enc.tar.zst.enc" "$f"
f=$T/bad/$enc.manifest.enc
python3 -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read())
b[100]^=0x40; open(p,'wb').write(b)" "$f"
$BT verify "$T/bad" "$enc" -k "$T/key" >"$T/v" 2>&1 &&
	fail "verify passed a flipped byte in the manifest"
grep -q "BAD $enc.manifest.enc: tampered" "$T/v" ||
	fail "verify does not name the manifest: $(cat "$T/v")"
# Swapped for another snapshot's manifest under this one's name.
$BT backup "$T/bad" -k "$T/key" src/small >/dev/null 2>&1 || fail "backup"
other=$(ls "$T/bad" | grep manifest.enc | grep -v "$enc" | head -1)
cp "$T/bad/$other" "$f"
$BT verify "$T/bad" "$enc" -k "$T/key" >"$T/v" 2>&1 &&
	fail "verify passed another snapshot's manifest"
$BT keygen "$T/key2"
cp "$T/tgt/$enc.manifest.enc" "$f"
$BT verify "$T/bad" "$enc" -k "$T/key2" >"$T/v" 2>&1 &&
	fail "verify passed with the wrong key"
# Plain: a flipped content byte is caught by the hashes.
f=$T/bad/$plain.manifest
sed -i '0,/^e f src\/small /s/^\(e f src\/small .* \)\([0-9a-f]\{64\}\)/\1'"$(printf '%064d' 0)"'/' "$f"
$BT verify "$T/bad" "$plain" >"$T/v" 2>&1 &&
	fail "verify passed a wrong hash"
grep -q '^BAD src/small: content differs' "$T/v" ||
	fail "verify does not name src/small: $(cat "$T/v")"
echo "verify names what was tampered with"

# --- unreadable and changing files ------------------------------------
# Run as nobody: a root-only file cannot be read, and the snapshot is
# partial (exit 2), not failed; the file is flagged in the manifest.
if command -v setpriv >/dev/null 2>&1; then
	mkdir -p "$T/u/src" "$T/u/tgt"
	printf 'secret' > "$T/u/src/secret"; chmod 600 "$T/u/src/secret"
	printf 'open' > "$T/u/src/open"; chmod 644 "$T/u/src/open"
	chown 65534 "$T/u/tgt"; chmod 755 "$T" "$T/u" "$T/u/src"
	( cd "$T/u" && setpriv --reuid=65534 --regid=65534 --clear-groups \
	    "$BT" backup "$T/u/tgt" src >"$T/u/id" 2>"$T/u/err" )
	rc=$?
	[ $rc -eq 2 ] || fail "unreadable file: exit $rc, expected 2 (partial): $(cat "$T/u/err")"
	grep -q 'src/secret: cannot read, left out' "$T/u/err" ||
		fail "the unreadable file is not logged: $(cat "$T/u/err")"
	grep -q 'unreadable 1 ' "$T/u/err" || fail "not counted: $(cat "$T/u/err")"
	m=$T/u/tgt/$(cat "$T/u/id").manifest
	grep -q '^status partial$' "$m" || fail "manifest not partial"
	grep -q '^e f src/secret .* unreadable$' "$m" ||
		fail "src/secret not flagged unreadable: $(cat "$m")"
	$BT verify "$T/u/tgt" "$(cat "$T/u/id")" >"$T/v" 2>&1 ||
		fail "verify of a partial snapshot: $(cat "$T/v")"
	echo "an unreadable file makes a partial snapshot"
fi
# A file rewritten while it is read is flagged "changed".
mkdir -p "$T/c/src" "$T/c/tgt"
head -c 40000000 /dev/zero > "$T/c/src/busy"
( end=$((SECONDS + 20)); while [ $SECONDS -lt $end ]; do
	printf 'x' | dd of="$T/c/src/busy" bs=1 seek=$((RANDOM * 100)) \
	    conv=notrunc status=none; done ) &
busy=$!
changed=0
for i in 1 2 3 4 5; do
	( cd "$T/c" && $BT backup "$T/c/tgt" -l 1 src >/dev/null 2>"$T/c/err" )
	if grep -q 'src/busy: changed while it was read' "$T/c/err"; then
		changed=1; break
	fi
done
kill $busy 2>/dev/null; wait $busy 2>/dev/null
[ $changed -eq 1 ] || fail "a file written during the backup was not flagged"
grep -q '^e f src/busy .* changed$' "$T/c/tgt/"$(ls -t "$T/c/tgt" | grep manifest | head -1) ||
	fail "the manifest does not flag src/busy changed"
echo "a file changed while read is flagged"

# one_file_system: a tmpfs mounted inside the tree (in a private mount
# namespace) is entered without -1 and not with it; its mount point is kept.
if unshare -m true 2>/dev/null; then
	mkdir -p "$T/m/src/mnt" "$T/m/tgt1" "$T/m/tgt2"
	printf 'local' > "$T/m/src/local"
	unshare -m sh -c "mount -t tmpfs none '$T/m/src/mnt' &&
	    printf 'other fs' > '$T/m/src/mnt/inner' && cd '$T/m' &&
	    '$BT' backup '$T/m/tgt1' -1 src && '$BT' backup '$T/m/tgt2' src" \
	    >"$T/m/ids" 2>"$T/m/err" || fail "one_file_system: $(cat "$T/m/err")"
	m1=$T/m/tgt1/$(sed -n 1p "$T/m/ids").manifest
	m2=$T/m/tgt2/$(sed -n 2p "$T/m/ids").manifest
	grep -q '^e f src/local ' "$m1" && grep -q '^e d src/mnt/ ' "$m1" ||
		fail "one_file_system lost the tree or the mount point: $(cat "$m1")"
	grep -q 'src/mnt/inner' "$m1" && fail "one_file_system crossed a mount"
	grep -q '^e f src/mnt/inner ' "$m2" || fail "without -1 the mount was not entered"
	echo "one_file_system stays on the file system"
fi

# --- hostile archives -------------------------------------------------
mkdir -p "$T/evil" "$T/outside"
python3 - "$T" <<'PY' || fail "cannot make the hostile archives"
import io, os, subprocess, sys, tarfile
t = sys.argv[1]
def make(id, members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for m in members:
            ti = tarfile.TarInfo(m[0])
            if m[1] == "link":
                ti.type = tarfile.SYMTYPE
                ti.linkname = m[2]
                tf.addfile(ti)
            else:
                ti.size = len(m[2])
                tf.addfile(ti, io.BytesIO(m[2]))
    z = subprocess.run(["zstd", "-q", "-c"], input=buf.getvalue(),
                       stdout=subprocess.PIPE, check=True).stdout
    open(os.path.join(t, "evil", id + ".tar.zst"), "wb").write(z)
    open(os.path.join(t, "evil", id + ".manifest"), "w").write(
        "agentd-manifest 1\nsnapshot %s\ncreated 0\nstatus ok\nend 0\n" % id)
make("20260101T000000Z-00000001", [("../dotdot-escape", "file", b"x")])
make("20260101T000000Z-00000002",
     [(t + "/outside/abs-escape", "file", b"x")])
make("20260101T000000Z-00000003",
     [("link", "link", t + "/outside"), ("link/through-link", "file", b"x")])
make("20260101T000000Z-00000004",
     [("rel", "link", "../outside"), ("rel/through-rel", "file", b"x")])
PY
for n in 1 2 3 4; do
	rm -rf "$T/r-evil"; mkdir -p "$T/r-evil/deeper"
	$BT restore "$T/evil" "20260101T000000Z-0000000$n" "$T/r-evil/deeper" \
	    >/dev/null 2>"$T/err" && fail "hostile archive $n was restored"
	grep -q 'refused [1-9]' "$T/err" ||
		fail "hostile archive $n: no refusal: $(cat "$T/err")"
	[ -z "$(ls -A "$T/outside")" ] ||
		fail "hostile archive $n wrote outside: $(ls "$T/outside")"
	[ -e "$T/r-evil/dotdot-escape" ] &&
		fail "hostile archive $n escaped with .."
done
echo "hostile archives refused"
echo "ok"
