# agentd-support (issue 10) with agentd's part played by
# support/helperdrive.py, against a real OpenSSH sshd on 127.0.0.1 as the
# bastion (support/bastion.sh) and that same sshd as the forward's target:
# the agent key that `agentctl support key` made (libsodium,
# openssh-key-v1) is accepted by sshd through libssh2; the session frame
# gives the forward, a connection through it reaches the target and is
# told as conn_open / conn_close with its bytes; closing the channel ends
# the session (exit 0); the session's time ends it by itself; a wrong
# pinned host key is a "failed" frame with both fingerprints (exit 1).
# agentd itself never links libssh2.
. tests/integration/lib.sh

make -s BUILD="$BUILD" "$BUILD/agentd-support" "$BUILD/agentctl" >/dev/null ||
	fail "cannot build agentd-support"
ldd "$AGENTD" | grep -q libssh2 && fail "agentd links libssh2"
ldd "$BUILD/agentd-support" | grep -q libssh2 || fail "agentd-support lacks libssh2"
DRIVE="python3 $TOP/tests/integration/support/helperdrive.py $BUILD/agentd-support"

. tests/integration/support/bastion.sh
trap 'bastion_cleanup; cleanup' EXIT
BASE=$((20000 + ($$ * 7) % 20000))
FPORT=$((BASE + 1))
bastion_setup "$BASE"

# The agent's key as agentctl makes it.
mkdir -p "$T/state"
printf '[agent]\nstate_dir = %s/state\n' "$T" > "$T/agentd.conf"
"$BUILD/agentctl" -c "$T/agentd.conf" support key > "$T/agent.pub" 2>"$T/actl.err" ||
	fail "agentctl support key: $(cat "$T/actl.err")"
bastion_authorize_agent "$T/agent.pub" "$FPORT"
start_sshd
HOSTKEY=$(cut -d' ' -f1-2 "$T/ssh/host.pub")

frame() {	# HOST_KEY TTL
	printf '{"t":"session","session":"ses_0123456789abcdef","bastion":"127.0.0.1:%s","user":"%s","host_key":"%s","key_file":"%s","forward_port":%s,"target":"127.0.0.1:%s","ttl":%s}' \
		"$BASE" "$U" "$1" "$T/state/support/id_ed25519" "$FPORT" "$BASE" "$2"
}

# A session: up on the forward port, a connection reaches the target
# (the sshd's banner), its bytes are counted, and EOF on fd 3 ends it.
timeout 40 $DRIVE "$(frame "$HOSTKEY" 60)" 30 --probe > "$T/a.out" 2>"$T/a.err" ||
	fail "session run failed: $(cat "$T/a.out" "$T/a.err")"
grep -qx "{\"port\": $FPORT, \"t\": \"up\"}" "$T/a.out" ||
	fail "no up frame for port $FPORT: $(cat "$T/a.out" "$T/a.err")"
grep -q '^probe=SSH-2.0-OpenSSH' "$T/a.out" ||
	fail "the forward did not reach the target: $(cat "$T/a.out")"
grep -q '"conn": 1, "t": "conn_open"' "$T/a.out" || fail "no conn_open: $(cat "$T/a.out")"
grep -Eq '"bytes_in": [0-9]+, "bytes_out": [1-9][0-9]*, "conn": 1, "message": "[^"]*", "t": "conn_close"' "$T/a.out" ||
	fail "no conn_close with the banner's bytes: $(cat "$T/a.out")"
grep -q '"t": "down"' "$T/a.out" || fail "no down frame: $(cat "$T/a.out")"
expect_eq "closed channel: exit" "$(tail -1 "$T/a.out")" "exit=0"

# The session's time (3 s) ends it without anyone asking.
start=$(date +%s)
timeout 40 $DRIVE "$(frame "$HOSTKEY" 3)" 30 > "$T/c.out" 2>"$T/c.err" ||
	fail "ttl run failed: $(cat "$T/c.out" "$T/c.err")"
took=$(( $(date +%s) - start ))
grep -q '"t": "up"' "$T/c.out" || fail "ttl run: never up: $(cat "$T/c.out")"
expect_eq "ttl: exit" "$(tail -1 "$T/c.out")" "exit=0"
[ "$took" -ge 3 ] && [ "$took" -le 15 ] || fail "the 3 s session took ${took}s"

# A wrong pinned host key fails loudly, naming both fingerprints.
ssh-keygen -q -t ed25519 -N '' -f "$T/other" || fail "ssh-keygen"
timeout 40 $DRIVE "$(frame "$(cut -d' ' -f1-2 "$T/other.pub")" 60)" 30 > "$T/b.out" 2>"$T/b.err" ||
	fail "wrong host key run: $(cat "$T/b.out" "$T/b.err")"
grep -q '"detail": "HOST KEY MISMATCH for 127.0.0.1: expected ssh-ed25519 SHA256:.*the server offered SHA256:.*", "error": -[0-9]*, "t": "failed"' "$T/b.out" ||
	fail "no failed frame for the wrong host key: $(cat "$T/b.out" "$T/b.err")"
grep -q '"t": "up"' "$T/b.out" && fail "up with a wrong host key"
expect_eq "wrong host key: exit" "$(tail -1 "$T/b.out")" "exit=1"
exit 0
