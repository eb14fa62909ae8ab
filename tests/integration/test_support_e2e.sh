#!/bin/sh
# Remote support end to end, nothing faked (issue 10): the real portal
# (TLS, --bastion, --bastion-user, --forward-ports), a real sshd bastion
# configured as docs/bastion.md says (support/bastion.sh's portal mode:
# `agentd-portal bastion-keys` as AuthorizedKeysCommand, an engineer
# account of its own), `agentctl enroll` with a one-time token, agentd
# with policy ask, and a second sshd as the host's target. The operator
# asks for a session through the portal's API; the agent takes it at its
# next heartbeat and answers waiting (the portal shows the session, its
# state and the connect line with the command); the host's admin approves; the
# engineer's stock `ssh -J` through their own bastion account runs a
# command on the target (SHA-256 of 1 MiB both ways); the admin closes it;
# the portal's sessions API shows the whole trail, requested_by as sent,
# state closed. A local 5 s session ends at its TTL (the portal's
# `minutes` are whole minutes). After `agentd-portal agent revoke` the
# bastion refuses the agent's key at once: the next session fails.
. tests/integration/lib.sh

PORTAL=$BUILD/agentd-portal
PORTAL_PID="" TSSHD_PID=""
[ -x "$PORTAL" ] || fail "$PORTAL not built"
command -v curl >/dev/null || fail "curl CLI missing"
make -s BUILD="$BUILD" "$BUILD/agentd-support" >/dev/null || fail "cannot build agentd-support"
. tests/integration/support/bastion.sh
e2e_cleanup() {
	if [ -n "$PORTAL_PID" ]; then
		kill -KILL "$PORTAL_PID" 2>/dev/null
		wait "$PORTAL_PID" 2>/dev/null
	fi
	if [ -n "$TSSHD_PID" ]; then
		kill $(sshd_children "$TSSHD_PID") "$TSSHD_PID" 2>/dev/null
		wait "$TSSHD_PID" 2>/dev/null
	fi
	bastion_cleanup
	cleanup
}
trap e2e_cleanup EXIT
pfail() {
	for f in portal.log sshd.log target.log; do
		[ -s "$T/$f" ] && { echo "--- last lines of $f:"; tail -n 15 "$T/$f"; }
	done
	fail "$@"
}

sh tests/integration/portal/mkcerts.sh "$T" || fail "mkcerts"
BASE=$((30000 + ($$ * 7) % 20000))
BPORT=$BASE PPORT=$((BASE + 1)) TPORT=$((BASE + 2)) F1=$((BASE + 3)) F2=$((BASE + 4))
DB=$T/portal.db
URL=https://127.0.0.1:$PPORT/api/v1

# --- the portal, its operator and the bastion's credential
OPR=$("$PORTAL" operator create alice --db "$DB") || fail "operator create"
BST=$("$PORTAL" bastion-credential create bastion-1 --db "$DB") || fail "bastion-credential create"
bastion_setup_portal "$BPORT" "https://127.0.0.1:$PPORT/" "$BST" "$T/ca.pem"
HOSTKEY=$(cut -d' ' -f1,2 "$T/ssh/host.pub")
"$PORTAL" serve --listen "127.0.0.1:$PPORT" --db "$DB" --tls-cert "$T/server.pem" \
    --tls-key "$T/server.key" --log-stderr --request-timeout 3 --report-interval 1 \
    --bastion "127.0.0.1:$BPORT" --bastion-host-key "$HOSTKEY" \
    --bastion-user "$U" --forward-ports "$F1-$F2" >>"$T/portal.log" 2>&1 &
PORTAL_PID=$!
req() {
	m=$1 p=$2
	shift 2
	curl -sS --max-time 10 --cacert "$T/ca.pem" -X "$m" -w ' %{http_code}' \
	    -H "Authorization: Bearer $OPR" "$@" "$URL$p"
}
body() { printf '%s' "${1% *}"; }
wait_until 10 req GET /hosts || pfail "portal did not answer within 10 s"
start_sshd

# --- the host's sshd (the target): root with the engineer's key only
mkdir -p "$T/tgt"
ssh-keygen -q -t ed25519 -N '' -f "$T/tgt/host" || fail "ssh-keygen target"
cp "$T/ssh/eng.pub" "$T/tgt/authorized_keys"
cat > "$T/tgt/sshd_config" <<EOC
Port $TPORT
ListenAddress 127.0.0.1
HostKey $T/tgt/host
PidFile $T/tgt/sshd.pid
AuthorizedKeysFile $T/tgt/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers root
EOC
/usr/sbin/sshd -D -e -f "$T/tgt/sshd_config" 2>>"$T/target.log" &
TSSHD_PID=$!
wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$TPORT" || pfail "the target sshd did not listen"

# --- enrolment with a one-time token: the agent's own key, user and port
write_config <<EOC
[support]
policy = ask
request_timeout = 20s
target = 127.0.0.1:$TPORT
EOC
TOK=$("$PORTAL" token create --db "$DB" --expires 1h) || fail "token create"
out=$("$AGENTCTL" -c "$T/agentd.conf" enroll --portal "https://127.0.0.1:$PPORT" \
    --token "$TOK" --ca "$T/ca.pem" 2>&1) || pfail "enroll: $out"
expect_match "enroll" "$out" "^support bastion 127.0.0.1:$BPORT: user $U, forward port $F1$"
AID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent_id"])' "$T/state/identity") ||
    fail "no agent_id in the identity"
out=$(req GET "/hosts/$AID")
expect_eq "the portal has the agent's key" "$(body "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["ssh_key"], d["forward_port"])')" \
    "$(cat "$T/state/support/id_ed25519.pub") $F1"
# the key command lists it for sshd, run as sshd runs it
out=$(setpriv --reuid nobody --regid nogroup --clear-groups $BK 2>&1)
printf '%s\n' "$out" | grep -qxF "restrict,port-forwarding,permitlisten=\"127.0.0.1:$F1\" $(cat "$T/state/support/id_ed25519.pub") agent-$AID" ||
    pfail "bastion-keys as nobody: $out"
start_agentd
t0=$(date +%s)

field() {	# SESSION KEY, from support status --json
	ctl support status --json | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["id"] == sys.argv[1]:
        print(s.get(sys.argv[2], "")); break' "$1" "$2"
}
state_is() { [ "$(field "$1" state)" = "$2" ]; }
connected() { [ "$(field "$1" connected)" = True ]; }
# command_is ID STATUS: the portal's view of a command
command_is() {
	req GET "/hosts/$AID/commands" | sed 's/ [0-9]*$//' | python3 -c '
import json, sys
for c in json.load(sys.stdin)["commands"]:
    if c["id"] == sys.argv[1]:
        sys.exit(0 if c["status"] == sys.argv[2] else 1)
sys.exit(1)' "$1" "$2"
}
command_detail() {
	req GET "/hosts/$AID/commands" | sed 's/ [0-9]*$//' | python3 -c '
import json, sys
for c in json.load(sys.stdin)["commands"]:
    if c["id"] == sys.argv[1]:
        print(c["detail"])' "$1"
}
# portal_session SESSION: the portal's record of it (JSON), or nothing
portal_session() {
	req GET "/hosts/$AID/sessions" | sed 's/ [0-9]*$//' | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["session"] == sys.argv[1]:
        print(json.dumps(s))' "$1"
}
portal_state_is() {
	portal_session "$1" | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["state"] != sys.argv[1])' "$2"
}
eng_ssh() {	# the engineer's command, docs/bastion.md section 5
	cat > "$T/eng.conf" <<EOC
Host *
	IdentityFile $T/ssh/eng
	IdentitiesOnly yes
	BatchMode yes
	ConnectTimeout 10
	LogLevel ERROR
	StrictHostKeyChecking yes
	UserKnownHostsFile $T/known_hosts
EOC
	timeout 30 ssh -F "$T/eng.conf" -J "$E@127.0.0.1:$BPORT" -p "$F1" root@127.0.0.1 "$@"
}
# the engineer knows the bastion's key and the host's, as [127.0.0.1]:PORT
printf '[127.0.0.1]:%s %s\n[127.0.0.1]:%s %s\n' "$BPORT" "$HOSTKEY" \
    "$F1" "$(cut -d' ' -f1,2 "$T/tgt/host.pub")" > "$T/known_hosts"

# --- the operator asks through the portal; the agent answers waiting
out=$(req POST "/hosts/$AID/commands" -d '{"type": "open_support_session", "args": {"requested_by": "eve@provider", "minutes": 30, "reason": "ticket 42"}}')
expect_match "command queued" "$out" ' 201$'
CID=$(body "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
wait_until 10 command_is "$CID" done || pfail "the command was not answered: $(req GET "/hosts/$AID/commands")"
detail=$(command_detail "$CID")
expect_match "the command result says waiting" "$detail" '^session ses_[0-9a-f]{16} waiting$'
S1=$(printf '%s\n' "$detail" | cut -d' ' -f2)
expect_eq "the agent's view" "$(field "$S1" state)" waiting
# the operator reads the session, its state and the engineer's command
# from the command (the agent's command_result carries them)
expect_eq "the portal's command: session, state, connect" \
    "$(req GET "/hosts/$AID/commands" | sed 's/ [0-9]*$//' | python3 -c '
import json, sys
for c in json.load(sys.stdin)["commands"]:
    if c["id"] == sys.argv[1]:
        print(c.get("session"), c.get("state"), c.get("connect"))' "$CID")" \
    "$S1 waiting ssh -J ENGINEER@127.0.0.1:$BPORT -p $F1 root@127.0.0.1"
grep -q "support session $S1 waits for consent: agentctl support approve $S1" "$T/agentd.log" ||
    fail "no consent message in the agent's log"

# --- the admin approves; the engineer reaches the target
ctl support approve "$S1" >/dev/null || fail "approve: $(ctl support approve "$S1" 2>&1)"
wait_until 15 connected "$S1" || pfail "$S1 never connected: $(ctl support status)"
head -c 1048576 /dev/urandom > "$T/blob"
want=$(sha256sum < "$T/blob" | cut -d' ' -f1)
got=$(eng_ssh "sha256sum | cut -d' ' -f1; head -c 1048576 /dev/zero" < "$T/blob" > "$T/back" 2>"$T/eng.err"; head -n1 "$T/back")
[ -s "$T/back" ] || pfail "the engineer's ssh -J failed: $(cat "$T/eng.err")"
expect_eq "SHA-256 of 1 MiB at the target" "$got" "$want"
expect_eq "1 MiB back from the target" "$(tail -c +$((${#want} + 2)) "$T/back" | sha256sum | cut -d' ' -f1)" \
    "$(head -c 1048576 /dev/zero | sha256sum | cut -d' ' -f1)"
grep -q "Accepted publickey for $E " "$T/sshd.log" || pfail "the engineer did not jump through their own account"
grep -q "Accepted publickey for root " "$T/target.log" || pfail "the engineer did not log in at the target"
wait_until 10 sh -c "$AGENTCTL --socket $T/control.sock support status | grep -q ', 0 connection(s) open'" ||
    fail "the engineer's connection still counted: $(ctl support status)"
ctl support close "$S1" >/dev/null || fail "close"
wait_until 5 state_is "$S1" closed || fail "$S1 not closed: $(ctl support status)"

# --- the portal's trail
wait_until 15 portal_state_is "$S1" closed || pfail "the portal's $S1: $(portal_session "$S1")"
portal_session "$S1" > "$T/s1.json"
python3 - "$T/s1.json" "$BPORT" "$F1" <<'PY' || pfail "the portal's record of $S1: $(cat "$T/s1.json")"
import json, sys
s = json.load(open(sys.argv[1]))
def check(what, got, want):
    if got != want:
        print("FAIL: %s: got %r, want %r" % (what, got, want))
        sys.exit(1)
check("trail", [e["event"] for e in s["events"]],
      ["requested", "approved", "opened", "connection_opened", "connection_closed", "closed"])
check("state", s["state"], "closed")
check("requested_by", s["requested_by"], "eve@provider")
check("reason", s["reason"], "ticket 42")
check("close_reason", s["close_reason"], "closed")
ev = {e["event"]: e for e in s["events"]}
check("origin", ev["requested"]["origin"], "portal")
check("ttl", ev["requested"]["ttl"], 1800)
check("approved by a local admin", "(uid 0)" in ev["approved"]["by"], True)
check("opened at", (ev["opened"]["bastion"], ev["opened"]["forward_port"]),
      ("127.0.0.1:" + sys.argv[2], int(sys.argv[3])))
c = ev["connection_closed"]
check("bytes in", c["bytes_in"] > 1048576, True)
check("bytes out", c["bytes_out"] > 1048576, True)
PY
echo "ok: portal request, waiting, approve, engineer through ssh -J, close, trail ($(( $(date +%s) - t0 )) s)"

# --- a local 5 s session ends at its TTL
sleep 1.5	# the helper exits before a new session
out=$(ctl support open --ttl 5s --reason "ttl check" 2>&1) || fail "open ttl: $out"
S2=$(printf '%s\n' "$out" | sed -n 's/^session \(ses_[0-9a-f]\{16\}\) .*/\1/p')
expect_match "ask waits" "$out" "^session $S2 waiting$"
ctl support approve "$S2" >/dev/null || fail "approve $S2"
wait_until 15 connected "$S2" || pfail "$S2 never connected"
wait_until 15 state_is "$S2" closed || fail "$S2 not closed at its TTL: $(ctl support status)"
expect_eq "ttl reason" "$(field "$S2" end_reason)" ttl
wait_until 10 portal_state_is "$S2" closed || pfail "the portal's $S2: $(portal_session "$S2")"
expect_eq "the portal's close_reason" "$(portal_session "$S2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["close_reason"])')" ttl
echo "ok: TTL ($(( $(date +%s) - t0 )) s)"

# --- revoked: the bastion refuses the agent's key at once
out=$("$PORTAL" agent revoke "$AID" --db "$DB" 2>&1) || fail "agent revoke: $out"
out=$(setpriv --reuid nobody --regid nogroup --clear-groups $BK 2>&1)
expect_eq "bastion-keys after revoke" "$out" ""
sleep 1.5
out=$(ctl support open --ttl 1m 2>&1) || fail "open after revoke: $out"
S3=$(printf '%s\n' "$out" | sed -n 's/^session \(ses_[0-9a-f]\{16\}\) .*/\1/p')
ctl support approve "$S3" >/dev/null || fail "approve $S3"
wait_until 15 state_is "$S3" failed || pfail "$S3 did not fail: $(ctl support status)"
expect_match "failed reason" "$(field "$S3" end_reason)" "refused the key"
bash -c "exec 3<>/dev/tcp/127.0.0.1/$F1" 2>/dev/null && fail "something listens on $F1 after revoke"
echo "ok: revoked agent's tunnel refused ($(( $(date +%s) - t0 )) s)"
echo "PASS: test_support_e2e"
