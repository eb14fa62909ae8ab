# The sftp:// target against a real OpenSSH sshd on 127.0.0.1 (its own
# port, config and host key; a test user made here and removed at the end):
# a run through the real agentd restores equal; the backend's put, commit,
# commit_new (-EEXIST), get, list, clean and remove work on the server
# (sftptool); agentctl restore, backup list --json, verify and forget
# read the sftp target through their own network child (nobody, no
# capability); dr-restore from a kit alone logs in with the kit's
# credential, and a kit whose host_key was altered is refused; a wrong
# pinned host key
# fails the run naming both fingerprints and uploads nothing; the network
# child has CapEff 0 and bandwidth_limit paces the upload; a server that
# stops answering fails the run within sftp_timeout and leaves the earlier
# snapshots intact; a key file not 0600 is refused; a full disk
# on the server fails clearly and leaves no object of the failed snapshot
# under a final name.
. tests/integration/lib.sh

[ -x /usr/sbin/sshd ] || fail "no /usr/sbin/sshd (packaging/build-deps.sh installs openssh-server)"
[ "$(id -u)" -eq 0 ] || fail "needs root (a test user, a tmpfs)"

make -s BUILD="$BUILD" "$BUILD/backuptool" "$BUILD/sftptool" \
	"$BUILD/agentd-backup" >/dev/null || fail "cannot build the backup parts"
BT=$BUILD/backuptool
CMP="python3 $TOP/tests/integration/backup/treecmp.py"

# agentd itself must not load libssh2: only agentd-backup does.
ldd "$AGENTD" | grep -q libssh2 && fail "agentd links libssh2"
ldd "$BUILD/agentd-backup" | grep -q libssh2 || fail "agentd-backup lacks libssh2"

U=bksftp$$
U=$(printf '%s' "$U" | cut -c1-30)
H=/home/$U
SSHD_PID=""
sftp_cleanup() {
	[ -n "$SSHD_PID" ] && kill -CONT $(pgrep -u "$U") 2>/dev/null
	[ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null
	pkill -KILL -u "$U" 2>/dev/null
	umount "$H/small" 2>/dev/null
	userdel -r "$U" 2>/dev/null
	cleanup
}
trap sftp_cleanup EXIT

useradd -m -s /bin/sh "$U" && usermod -p '*' "$U" || fail "useradd $U"
mkdir -p "$H/repo" "$H/wrong" "$H/small"
mount -t tmpfs -o size=1m tmpfs "$H/small" || fail "cannot mount a tmpfs"
chown "$U" "$H/repo" "$H/wrong" "$H/small"

# The server: its own host key, port, authorized keys.
mkdir -p /run/sshd "$T/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/host" || fail "ssh-keygen host"
ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/other" || fail "ssh-keygen other"
ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/client" || fail "ssh-keygen client"
chmod 0600 "$T/ssh/client"
# sshd reads authorized_keys as the user: not under the 0700 $T.
mkdir -p "$H/.ssh"
cp "$T/ssh/client.pub" "$H/.ssh/authorized_keys"
chown -R "$U" "$H/.ssh"
PORT=$((20000 + $$ % 20000))
cat > "$T/ssh/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/ssh/host
PidFile $T/ssh/sshd.pid
AuthorizedKeysFile $H/.ssh/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers $U
Subsystem sftp internal-sftp
EOF
/usr/sbin/sshd -D -e -f "$T/ssh/sshd_config" 2>"$T/sshd.log" &
SSHD_PID=$!
wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" ||
	fail "sshd did not listen: $(cat "$T/sshd.log")"

# The trees: small files, and random data for the paced runs.
S=$T/src
mkdir -p "$S/d/e" "$T/big"
printf 'hello\n' > "$S/small"
head -c 300000 /dev/urandom > "$S/d/random"
printf 'x\n' > "$S/d/e/name with spaces"
ln -s small "$S/link"
head -c 3000000 /dev/urandom > "$T/big/r"

URL=sftp://$U@127.0.0.1:$PORT
HOSTKEY=$(cut -d' ' -f1,2 "$T/ssh/host.pub")
OTHERKEY=$(cut -d' ' -f1,2 "$T/ssh/other.pub")
common="sftp_key_file = $T/ssh/client
sftp_timeout = 4"
write_config <<EOF2
[backup.s]
paths = $S
target = $URL$H/repo
sftp_host_key = $HOSTKEY
$common
[backup.wrong]
paths = $S
target = $URL$H/wrong
sftp_host_key = $OTHERKEY
$common
[backup.slow]
paths = $T/big
target = $URL$H/repo
sftp_host_key = $HOSTKEY
bandwidth_limit = 1M
$common
[backup.full]
paths = $T/big
target = $URL$H/small
sftp_host_key = $HOSTKEY
$common
EOF2
start_agentd

# --- a run to sftp://, restored and compared ----------------------------
out=$(timeout 30 "$AGENTCTL" --socket "$T/control.sock" backup run s 2>"$T/err"); rc=$?
[ $rc -eq 0 ] || fail "backup run s: exit $rc: $(cat "$T/err") $(tail -5 "$T/agentd.log")"
id1=$(printf '%s\n' "$out" | tail -n 1)
expect_match "snapshot id" "$id1" '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]+$'
ls "$H/repo" | grep -q "^$id1.tar.zst.enc$" ||
	fail "no encrypted archive for $id1 on the server: $(ls -a "$H/repo")"
expect_eq "objects are the server user's" "$(stat -c %U "$H/repo/$id1.tar.zst.enc")" "$U"
ls -a "$H/repo" | grep -q '^\.tmp-' && fail "a temporary left: $(ls -a "$H/repo")"
# The server's directory is local here: read it back as a file:// target.
mkdir -p "$T/r"
"$BT" restore "file://$H/repo" "$id1" "$T/r" -k "$T/state/backup/s.key" \
	2>"$T/err" || fail "restore: $(cat "$T/err")"
$CMP "$S" "$T/r$S" >"$T/cmp" || fail "restored tree differs: $(head "$T/cmp")"

# --- agentctl reads the sftp target itself, as root ----------------------
rctl() { "$AGENTCTL" --config "$T/agentd.conf" "$@"; }
mkdir -p "$T/ar"
rctl restore s latest --to "$T/ar" >"$T/out" 2>"$T/err" ||
	fail "agentctl restore from sftp: exit $?: $(cat "$T/out" "$T/err")"
grep -q "^restored $id1: .* 0 mismatched$" "$T/out" ||
	fail "agentctl restore summary: $(cat "$T/out")"
$CMP "$S" "$T/ar$S" >"$T/cmp" ||
	fail "agentctl restore from sftp differs: $(head "$T/cmp")"
rctl backup list s --json >"$T/list.json" 2>"$T/err" ||
	fail "backup list --json on sftp: $(cat "$T/err")"
python3 - "$T/list.json" "$id1" "$URL$H/repo" <<'PY' ||
import json, sys
a = json.load(open(sys.argv[1]))
ok = [e["id"] for e in a] == [sys.argv[2]] and a[0]["target"] == sys.argv[3] \
    and a[0]["status"] == "ok" and a[0]["files"] >= 3
sys.exit(0 if ok else 1)
PY
	fail "backup list --json on sftp: $(cat "$T/list.json")"
rctl backup forget s --dry-run >"$T/out" 2>"$T/err" ||
	fail "backup forget --dry-run on sftp: $(cat "$T/err")"
grep -q "^dry run: 0 of 1 snapshots would be forgotten$" "$T/out" ||
	fail "backup forget --dry-run: $(cat "$T/out")"
# verify, with sshd held (SIGSTOP) until agentctl's network child is
# seen: nobody, no capability, no new privileges.
kill -STOP "$SSHD_PID"
"$AGENTCTL" --config "$T/agentd.conf" backup verify s latest >"$T/out" \
	2>"$T/err" &
VER=$!
ctl_child() {
	c=$(pgrep -P "$VER" | head -n 1)
	[ -n "$c" ] && [ "$(awk '/^Uid:/ {print $2}' /proc/$c/status)" = 65534 ]
}
wait_until 3 ctl_child; seen=$?
c=$(pgrep -P "$VER" | head -n 1)
ccap=$(awk '/^CapEff:/ {print $2}' /proc/$c/status 2>/dev/null)
cnnp=$(awk '/^NoNewPrivs:/ {print $2}' /proc/$c/status 2>/dev/null)
kill -CONT "$SSHD_PID"
wait $VER || fail "backup verify on sftp: $(cat "$T/out" "$T/err")"
[ $seen -eq 0 ] || fail "agentctl's sftp child was not seen as uid 65534"
expect_eq "agentctl sftp child CapEff" "$ccap" 0000000000000000
expect_eq "agentctl sftp child NoNewPrivs" "$cnnp" 1
grep -q "^$id1: ok, " "$T/out" || fail "backup verify: $(cat "$T/out")"

# --- dr-restore of the sftp job from its kit alone ------------------------
rctl backup kit s --out "$T/kit" >/dev/null 2>"$T/err" ||
	fail "backup kit s: $(cat "$T/err")"
grep -q '^credential -----BEGIN%20OPENSSH%20PRIVATE%20KEY-----' "$T/kit" ||
	fail "the kit has no credential"
grep -q '^host_key ssh-ed25519%20' "$T/kit" || fail "the kit has no host_key"
# No config, no state, and the key file out of the way: the kit's
# credential logs in (from memory: it is never written to a file).
mv "$T/ssh/client" "$T/ssh/client.away"
mkdir -p "$T/dr"
"$AGENTCTL" --config "$T/no/such.conf" dr-restore --kit "$T/kit" \
	--to "$T/dr" >"$T/out" 2>"$T/err" ||
	fail "dr-restore from sftp: exit $?: $(cat "$T/out" "$T/err")"
$CMP "$S" "$T/dr$S" >"$T/cmp" ||
	fail "dr-restore from sftp differs: $(head "$T/cmp")"
# A kit whose host_key was altered: refused loudly, nothing written.
sed "s|^host_key .*|host_key $(printf '%s' "$OTHERKEY" | sed 's/ /%20/')|" \
	"$T/kit" > "$T/kit.other"
chmod 600 "$T/kit.other"
mkdir -p "$T/dr2"
"$AGENTCTL" --config "$T/no/such.conf" dr-restore --kit "$T/kit.other" \
	--to "$T/dr2" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -ne 0 ] || fail "a kit with another host key restored"
grep -q "HOST KEY MISMATCH for 127.0.0.1: expected ssh-ed25519 $(ssh-keygen \
	-lf "$T/ssh/other.pub" | cut -d' ' -f2)" "$T/err" ||
	fail "altered host_key: no clear refusal: $(cat "$T/err")"
[ -z "$(ls -A "$T/dr2")" ] || fail "altered host_key wrote: $(find "$T/dr2")"
mv "$T/ssh/client.away" "$T/ssh/client"

# --- the backend's own operations over SFTP (no run uses them all yet) --
out=$("$BUILD/sftptool" "$HOSTKEY" "$T/ssh/client" "$U@127.0.0.1:$PORT$H/repo" 2>&1) ||
	fail "sftptool: $out"
expect_eq "sftptool" "$out" ok
ls "$H/repo" | grep -q '^t1$' && fail "sftptool left t1"
ls -a "$H/repo" | grep -q '^\.tmp-' && fail "sftptool left a temporary"

# --- a wrong pinned host key: loud refusal, nothing uploaded -------------
ctl backup run wrong >/dev/null 2>"$T/err"; rc=$?
expect_eq "wrong host key exit" $rc 1
want=$(ssh-keygen -lf "$T/ssh/other.pub" | cut -d' ' -f2)
got=$(ssh-keygen -lf "$T/ssh/host.pub" | cut -d' ' -f2)
grep -q "HOST KEY MISMATCH" "$T/err" || fail "no mismatch message: $(cat "$T/err")"
grep -qF "expected ssh-ed25519 $want" "$T/err" ||
	fail "the expected fingerprint $want is not named: $(cat "$T/err")"
grep -qF "offered $got" "$T/err" ||
	fail "the offered fingerprint $got is not named: $(cat "$T/err")"
expect_eq "nothing uploaded after a mismatch" "$(ls -a "$H/wrong" | grep -cv '^\.\.\?$')" 0

# --- the child has no capability; bandwidth_limit paces ------------------
start=$(date +%s.%N)
ctl backup run slow >"$T/slow.out" 2>"$T/slow.err" &
SLOW=$!
child_pid() {
	for p in $(pgrep -x agentd-backup); do
		pp=$(awk '/^PPid:/ {print $2}' /proc/$p/status 2>/dev/null)
		[ "$(cat /proc/$pp/comm 2>/dev/null)" = agentd-backup ] &&
			{ echo "$p"; return 0; }
	done
	return 1
}
wait_until 10 child_pid || fail "no sftp child seen"
cp=$(child_pid)
parent=$(awk '/^PPid:/ {print $2}' /proc/$cp/status)
expect_eq "sftp child CapEff" "$(awk '/^CapEff:/ {print $2}' /proc/$cp/status)" 0000000000000000
expect_eq "sftp child CapPrm" "$(awk '/^CapPrm:/ {print $2}' /proc/$cp/status)" 0000000000000000
# Run as root, the child is nobody too: uid 0 alone opens root's files.
expect_eq "sftp child uid" "$(awk '/^Uid:/ {print $2}' /proc/$cp/status)" 65534
expect_eq "sftp child NoNewPrivs" "$(awk '/^NoNewPrivs:/ {print $2}' /proc/$cp/status)" 1
# The reader keeps its CAP_DAC_READ_SEARCH (bit 2): the split is real.
rcap=$(awk '/^CapEff:/ {print $2}' /proc/$parent/status)
[ $(( 0x$rcap & 4 )) -ne 0 ] || fail "the reader lacks CAP_DAC_READ_SEARCH: $rcap"
wait $SLOW || fail "slow run failed: $(cat "$T/slow.err")"
slow_s=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
id2=$(tail -n 1 "$T/slow.out")
# 3,000,000 random bytes at 1 MiB/s: at least 2.8 s.
python3 -c "import sys; sys.exit(0 if $slow_s >= 2.8 else 1)" ||
	fail "bandwidth_limit = 1M: 3 MB took only $slow_s s"
echo "bandwidth_limit = 1M: 3 MB in $slow_s s"

# --- a server that stops answering: failure within the timeout -----------
sed -i 's/^bandwidth_limit = 1M$/bandwidth_limit = 512K/' "$T/agentd.conf"
kill -HUP "$AGENTD_PID"
sleep 0.5
before=$(ls "$H/repo" | grep -v '^lock$' | sort)
start=$(date +%s.%N)
ctl backup run slow --full >/dev/null 2>"$T/err" &
HANG=$!
# Upload under way: freeze every process of the server's session.
wait_until 10 sh -c "ls -a '$H/repo' | grep -q '^\.tmp-'" ||
	fail "the upload did not start"
sleep 0.5
kill -STOP $(pgrep -u "$U") $(pgrep -P "$SSHD_PID") 2>/dev/null
wait $HANG; rc=$?
hang_s=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
kill -CONT $(pgrep -u "$U") $(pgrep -P "$SSHD_PID") 2>/dev/null
expect_eq "hung server exit" $rc 1
grep -q "timed out" "$T/err" || fail "no timeout in the error: $(cat "$T/err")"
python3 -c "import sys; sys.exit(0 if $hang_s < 20 else 1)" ||
	fail "a hung server held the run $hang_s s (sftp_timeout 4)"
echo "hung server: the run failed after $hang_s s"
after=$(ls "$H/repo" | grep -v '^lock$' | sort)
expect_eq "earlier snapshots intact" "$after" "$before"
rm -rf "$T/r" && mkdir -p "$T/r"
"$BT" restore "file://$H/repo" "$id1" "$T/r" -k "$T/state/backup/s.key" \
	2>"$T/err" || fail "restore after the hang: $(cat "$T/err")"
$CMP "$S" "$T/r$S" >"$T/cmp" || fail "tree differs after the hang: $(head "$T/cmp")"
mkdir -p "$T/r2"
"$BT" restore "file://$H/repo" "$id2" "$T/r2" -k "$T/state/backup/slow.key" \
	2>"$T/err" || fail "restore of $id2 after the hang: $(cat "$T/err")"
$CMP "$T/big" "$T/r2$T/big" >"$T/cmp" || fail "slow tree differs: $(head "$T/cmp")"

# --- the key file must be 0600 ----------------------------------------
chmod 0644 "$T/ssh/client"
timeout 30 "$AGENTCTL" --socket "$T/control.sock" backup run s >/dev/null 2>"$T/err" &&
	fail "a run with a 0644 key file succeeded"
grep -q "must be a regular file of mode 0600" "$T/err" ||
	fail "no key file mode error: $(cat "$T/err")"
chmod 0600 "$T/ssh/client"

# --- a full disk on the server ----------------------------------------
ctl backup run full >/dev/null 2>"$T/err"; rc=$?
expect_eq "full disk exit" $rc 1
grep -q "No space left on device" "$T/err" || fail "no ENOSPC in the error: $(cat "$T/err")"
left=$(ls "$H/small" | grep -v '^lock$')
expect_eq "no final object of the failed run" "$left" ""

echo "ok"
