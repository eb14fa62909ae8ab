#!/bin/sh
# The portal's side of remote support against a real OpenSSH sshd on
# 127.0.0.1 as the bastion, set up as docs/bastion.md says: agents enrol
# with their ssh-ed25519 keys and get their own forward port (--bastion-user,
# --forward-ports; a full range is a 503; an old agent without a key still
# enrols); `agentd-portal bastion-keys` is sshd's AuthorizedKeysCommand
# (copied to a root-owned directory, run as nobody, with a bastion
# credential); the real ssh client may forward its own port and no other;
# the key stops logging in at once when the agent is revoked, and while the
# portal is down (fail closed); only a bastion credential reads the keys.
. tests/integration/lib.sh

PORTAL=$BUILD/agentd-portal
PORTAL_PID=""
[ -x "$PORTAL" ] || fail "$PORTAL not built"
command -v curl >/dev/null || fail "curl CLI missing"
# the agents' account U, the engineer's E and the sshd (docs/bastion.md)
. tests/integration/support/bastion.sh
bt_cleanup() {
	if [ -n "$PORTAL_PID" ]; then
		kill -KILL "$PORTAL_PID" 2>/dev/null
		wait "$PORTAL_PID" 2>/dev/null
	fi
	bastion_cleanup
	cleanup
}
trap bt_cleanup EXIT
pfail() {
	for f in portal.log sshd.log; do
		[ -s "$T/$f" ] && { echo "--- last lines of $f:"; tail -n 15 "$T/$f"; }
	done
	fail "$@"
}

sh tests/integration/portal/mkcerts.sh "$T" || fail "mkcerts"
BASE=$((30000 + $$ % 20000))
SSHPORT=$BASE PPORT=$((BASE + 1)) F1=$((BASE + 2)) F2=$((BASE + 3))
DB=$T/portal.db

# --- usage: the two options go together and ranges are checked
"$PORTAL" serve --db "$DB" --listen 127.0.0.1:1 --tls-cert "$T/server.pem" \
    --tls-key "$T/server.key" --bastion 127.0.0.1:22 --bastion-host-key 'ssh-ed25519 AAAA' \
    --bastion-user x >/dev/null 2>&1
expect_eq "--bastion-user without --forward-ports" "$?" 2
for r in 80-90 5000-4000 7000 1024-70000 x-y; do
	out=$("$PORTAL" serve --db "$DB" --forward-ports "$r" 2>&1)
	expect_eq "--forward-ports $r exit status" "$?" 2
	expect_match "--forward-ports $r message" "$out" "--forward-ports $r"
done

# --- the bastion's sshd, its users and keys
bastion_portal_accounts "$SSHPORT"
for k in a b c; do
	ssh-keygen -q -t ed25519 -N '' -C '' -f "$T/ssh/$k" || fail "ssh-keygen $k"
done
ssh-keygen -q -t rsa -b 2048 -N '' -f "$T/ssh/rsa" || fail "ssh-keygen rsa"
key() { cut -d' ' -f1,2 "$T/ssh/$1.pub"; }
OPR=$("$PORTAL" operator create alice --db "$DB") || fail "operator create"

"$PORTAL" serve --listen "127.0.0.1:$PPORT" --db "$DB" --tls-cert "$T/server.pem" \
    --tls-key "$T/server.key" --log-stderr --request-timeout 3 \
    --bastion "127.0.0.1:$SSHPORT" --bastion-host-key "$(key host)" \
    --bastion-user "$U" --forward-ports "$F1-$F2" >>"$T/portal.log" 2>&1 &
PORTAL_PID=$!
URL=https://127.0.0.1:$PPORT/api/v1
req() {
	m=$1 p=$2
	shift 2
	curl -sS --max-time 10 --cacert "$T/ca.pem" -X "$m" -w ' %{http_code}' "$@" "$URL$p"
}
wait_until 10 req GET /hosts -H "Authorization: Bearer $OPR" ||
    pfail "portal did not answer within 10 s"

tok() { "$PORTAL" token create --db "$DB" --expires 1h ${1:+--replace "$1"}; }
# enrol NAME MACHINE [KEY] [CREDENTIAL]: prints the body and status
enrol() {
	if [ -n "${3:-}" ]; then sk=", \"ssh_key\": \"$3\""; else sk=""; fi
	req POST /enroll ${4:+-H "Authorization: Bearer $4"} -d "{\"token\": \"$(tok)\", \"host\": {\"hostname\": \"$1\", \"machine_id\": \"$2\"}$sk}"
}
field() { printf '%s' "${1% *}" | python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"; }

# --- enrolment with keys: own ports from the range, user and host key
grep -q "bastion 127.0.0.1:$SSHPORT: agents with a key log in as $U, each with its own forward port from $F1 to $F2" "$T/portal.log" ||
    pfail "the bastion settings are not logged at start"
out=$(enrol a.test m-a "$(key a)")
expect_match "enrol a" "$out" ' 201$'
A=$(field "$out" 'd["agent_id"]') ACRED=$(field "$out" 'd["credential"]')
expect_eq "a's bastion" "$(field "$out" 'd["bastion"]["user"], d["bastion"]["forward_port"], d["bastion"]["address"]')" \
    "$U $F1 127.0.0.1:$SSHPORT"
expect_eq "a's bastion host key" "$(field "$out" 'd["bastion"]["host_key"]')" "$(key host)"
out=$(enrol old.test m-old)
expect_match "an old agent without ssh_key still enrols" "$out" ' 201$'
expect_eq "old agent: no user, no port" "$(field "$out" 'd["bastion"]["user"], d["bastion"]["forward_port"]')" "None None"
out=$(enrol b.test m-b "$(key b)")
B=$(field "$out" 'd["agent_id"]') BCRED=$(field "$out" 'd["credential"]')
expect_eq "b gets the next port" "$(field "$out" 'd["bastion"]["forward_port"]')" "$F2"
out=$(enrol c.test m-c "$(key c)")
expect_match "a full range is a 503 with the reason" "$out" 'every forward port from .* 503$'
grep -q "every bastion forward port from $F1 to $F2 is held" "$T/portal.log" ||
    pfail "the full range is not logged"
for bad in "$(key rsa)" "$(key a) comment" "ssh-ed25519 AAAA" "ssh-ed25519  $(key a | cut -d' ' -f2)" \
    "ssh-ed25519 $(key a | cut -d' ' -f2 | tr A-Z a-z)"; do
	out=$(enrol bad.test m-bad "$bad")
	expect_match "bad ssh_key '$bad'" "$out" '"error":"ssh_key: .* 400$'
done
out=$(enrol dup.test m-dup "$(key a)")
expect_match "another agent's key" "$out" "\"error\":\"ssh_key: agent $A has this key.* 409$"
# re-enrolment of the same host (its credential as proof) keeps its port
out=$(enrol a.test m-a "$(key a)" "$ACRED")
expect_match "re-enrol a" "$out" ' 201$'
A2=$(field "$out" 'd["agent_id"]')
expect_eq "a keeps its port across re-enrolment" "$(field "$out" 'd["bastion"]["forward_port"]')" "$F1"

out=$(req GET "/hosts/$A2" -H "Authorization: Bearer $OPR")
expect_eq "the host view shows a's key and port" "$(field "$out" 'd["ssh_key"], d["forward_port"]')" "$(key a) $F1"

# --- the key listing: the bastion's credential only
BST=$("$PORTAL" bastion-credential create bastion-1 --db "$DB") || fail "bastion-credential create"
expect_match "bastion credential" "$BST" '^bst_[A-Za-z0-9_-]{43}$'
"$PORTAL" bastion-credential list --db "$DB" | grep -q '^bastion-1 .* valid$' ||
    fail "bastion-credential list: $("$PORTAL" bastion-credential list --db "$DB")"
out=$(req GET /bastion/keys -H "Authorization: Bearer $OPR")
expect_match "an operator cannot read the keys" "$out" ' 401$'
out=$(req GET /bastion/keys -H "Authorization: Bearer $ACRED")
expect_match "an agent cannot read the keys" "$out" ' 401$'
out=$(req GET /bastion/keys)
expect_match "no credential" "$out" ' 401$'
out=$(req GET /bastion/keys -H "Authorization: Bearer $BST")
expect_eq "the listing" "$out" "$(printf 'restrict,port-forwarding,permitlisten="127.0.0.1:%s" %s agent-%s\nrestrict,port-forwarding,permitlisten="127.0.0.1:%s" %s agent-%s\n 200' \
    "$F1" "$(key a)" "$A2" "$F2" "$(key b)" "$B")"
out=$(req GET "/bastion/keys?key=$(key b | cut -d' ' -f2 | sed 's/+/%2B/g; s,/,%2F,g')" -H "Authorization: Bearer $BST")
expect_eq "the listing for one key" "$out" "$(printf 'restrict,port-forwarding,permitlisten="127.0.0.1:%s" %s agent-%s\n 200' "$F2" "$(key b)" "$B")"
out=$(req GET "/bastion/keys?key=$(key c | cut -d' ' -f2 | sed 's/+/%2B/g; s,/,%2F,g')" -H "Authorization: Bearer $BST")
expect_eq "an unknown key lists nothing" "$out" " 200"
out=$(req GET "/bastion/keys?key=short" -H "Authorization: Bearer $BST")
expect_match "a malformed key" "$out" '"error":"key: .* 400$'
out=$(req POST /bastion/keys -H "Authorization: Bearer $BST")
expect_match "POST" "$out" ' 405$'

# --- bastion-keys, installed for sshd: root-owned directory, run as nobody
# (and sshd_config, checked with sshd -t)
bastion_portal_config "https://127.0.0.1:$PPORT/" "$BST" "$T/ca.pem"
CMDDIR=$BASTION_CMDDIR
out=$(setpriv --reuid nobody --regid nogroup --clear-groups $BK 2>&1)
printf '%s\n' "$out" | grep -qF "permitlisten=\"127.0.0.1:$F1\" $(key a) agent-$A2" ||
    fail "bastion-keys as nobody: $out"
# fails closed: a credential file others may read, a wrong CA, a refused
# credential print nothing and exit 1
install -m 0644 "$CMDDIR/bastion.cred" "$T/loose.cred"
out=$("$PORTAL" bastion-keys --portal "https://127.0.0.1:$PPORT" --credential-file "$T/loose.cred" --ca "$T/ca.pem" 2>"$T/bk.err")
expect_eq "loose credential file: exit" "$?" 1
expect_eq "loose credential file: stdout" "$out" ""
grep -q "mode 0600" "$T/bk.err" || fail "loose credential file: $(cat "$T/bk.err")"
printf '%s\n' "$OPR" | sed 's/^opr_/bst_/' > "$T/wrong.cred"; chmod 0600 "$T/wrong.cred"
out=$("$PORTAL" bastion-keys --portal "https://127.0.0.1:$PPORT" --credential-file "$T/wrong.cred" --ca "$T/ca.pem" 2>"$T/bk.err")
expect_eq "refused credential: exit" "$?" 1
expect_eq "refused credential: stdout" "$out" ""
grep -q "HTTP 401" "$T/bk.err" || fail "refused credential: $(cat "$T/bk.err")"
install -m 0600 "$CMDDIR/bastion.cred" "$T/root.cred"
out=$("$PORTAL" bastion-keys --portal "https://127.0.0.1:$PPORT" --credential-file "$T/root.cred" --ca "$T/other-ca.pem" 2>"$T/bk.err")
expect_eq "unknown CA: exit" "$?" 1
expect_eq "unknown CA: stdout" "$out" ""

start_sshd

# tunnel KEY PORT: ssh -N -R for at most 15 s; 0 once the bastion listens
# on PORT for it, else 1 with ssh's words in $T/ssh.err
tunnel() {
	: > "$T/ssh.err"
	timeout 15 ssh -N -i "$T/ssh/$1" -p "$SSHPORT" -o BatchMode=yes \
	    -o IdentitiesOnly=yes -o ExitOnForwardFailure=yes \
	    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	    -o ConnectTimeout=10 -R "127.0.0.1:$2:127.0.0.1:$SSHPORT" \
	    "$U@127.0.0.1" 2>>"$T/ssh.err" &
	sp=$!
	i=0
	while kill -0 "$sp" 2>/dev/null && [ $i -lt 100 ]; do
		if bash -c "exec 3<>/dev/tcp/127.0.0.1/$2" 2>/dev/null; then
			kill "$sp"; wait "$sp" 2>/dev/null
			return 0
		fi
		i=$((i + 1))
		sleep 0.1
	done
	kill "$sp" 2>/dev/null
	wait "$sp" 2>/dev/null
	return 1
}
tunnel a "$F1" || pfail "a could not forward its own port $F1: $(cat "$T/ssh.err")"
tunnel a "$F2" && pfail "a forwarded b's port $F2"
grep -q "remote port forwarding failed" "$T/ssh.err" ||
    pfail "a's forward of $F2: not refused as a forward: $(cat "$T/ssh.err")"
tunnel c "$F2" && pfail "c (never enrolled) forwarded"
grep -q "Permission denied" "$T/ssh.err" || pfail "c: $(cat "$T/ssh.err")"
# an agent's key may not connect out from the bastion (PermitOpen none)
out=$(timeout 15 ssh -i "$T/ssh/a" -p "$SSHPORT" -o BatchMode=yes -o IdentitiesOnly=yes \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -W "127.0.0.1:$SSHPORT" "$U@127.0.0.1" </dev/null 2>&1)
expect_match "an agent's -W is refused" "$out" 'open failed|prohibited'
printf '%s\n' "$out" | grep -q '^SSH-2.0' && fail "an agent's key connected out: $out"

# the engineer's way in (docs/bastion.md): ssh -J through their own account
# to 127.0.0.1:F1 on the bastion, which a's reverse forward carries to the
# "host's" sshd (here the bastion's own, the forward's target). Its host
# key is checked: the engineer really talked to that sshd through the
# tunnel; the host then refuses the probe user, as a host may.
printf '[127.0.0.1]:%s %s\n' "$F1" "$(key host)" > "$T/ssh/known"
timeout 20 ssh -N -i "$T/ssh/a" -p "$SSHPORT" -o BatchMode=yes -o IdentitiesOnly=yes \
    -o ExitOnForwardFailure=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -R "127.0.0.1:$F1:127.0.0.1:$SSHPORT" "$U@127.0.0.1" 2>"$T/ssh-a.err" &
APID=$!
wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$F1" || pfail "a's forward did not come up: $(cat "$T/ssh-a.err")"
out=$(timeout 20 ssh -o BatchMode=yes -o IdentitiesOnly=yes -i "$T/ssh/eng" \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$T/ssh/known" \
    -o ProxyCommand="ssh -i $T/ssh/eng -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -p $SSHPORT -W %h:%p $E@127.0.0.1" \
    -p "$F1" probe@127.0.0.1 true 2>&1)
kill "$APID" 2>/dev/null; wait "$APID" 2>/dev/null
printf '%s\n' "$out" | grep -q 'Host key verification failed' && pfail "engineer: $out"
expect_match "the engineer reached the host's sshd through the tunnel" "$out" 'Permission denied \(publickey\)'
grep -q "Accepted publickey for $E " "$T/sshd.log" || pfail "the engineer's jump did not log in: $out"
grep -Eq "Invalid user probe|User probe from .* not allowed" "$T/sshd.log" ||
    pfail "the engineer's connection did not reach the host's sshd: $out"

# --- the portal down: nothing logs in (fail closed), within the timeout
kill -TERM "$PORTAL_PID"; wait "$PORTAL_PID"; PORTAL_PID=""
t0=$(date +%s)
out=$($BK "$(key a | cut -d' ' -f2)" 2>"$T/bk.err")
expect_eq "portal down: bastion-keys exit" "$?" 1
expect_eq "portal down: nothing printed" "$out" ""
[ $(( $(date +%s) - t0 )) -le 6 ] || fail "bastion-keys took more than its 5 s timeout"
tunnel a "$F1" && pfail "a logged in with the portal down"
grep -q "Permission denied" "$T/ssh.err" || pfail "portal down: $(cat "$T/ssh.err")"

"$PORTAL" serve --listen "127.0.0.1:$PPORT" --db "$DB" --tls-cert "$T/server.pem" \
    --tls-key "$T/server.key" --log-stderr --request-timeout 3 \
    --bastion "127.0.0.1:$SSHPORT" --bastion-host-key "$(key host)" \
    --bastion-user "$U" --forward-ports "$F1-$F2" >>"$T/portal.log" 2>&1 &
PORTAL_PID=$!
wait_until 10 req GET /hosts -H "Authorization: Bearer $OPR" ||
    pfail "portal did not come back"
tunnel a "$F1" || pfail "a could not forward after the portal came back: $(cat "$T/ssh.err")"

# --- revoked by the provider: a's key stops at once
out=$("$PORTAL" agent revoke "$A2" --db "$DB" 2>&1) || fail "agent revoke: $out"
expect_match "agent revoke" "$out" "agent $A2 revoked"
tunnel a "$F1" && pfail "a revoked agent's key still forwards"
grep -q "Permission denied" "$T/ssh.err" || pfail "revoked: $(cat "$T/ssh.err")"
# --- unenrolled by itself: b's line disappears, its port goes to c
tunnel b "$F2" || pfail "b could not forward its port: $(cat "$T/ssh.err")"
out=$(req DELETE "/agents/$B" -H "Authorization: Bearer $BCRED")
expect_match "b unenrols" "$out" ' 204$'
tunnel b "$F2" && pfail "an unenrolled agent's key still forwards"
out=$(req GET /bastion/keys -H "Authorization: Bearer $BST")
expect_eq "the listing after both left" "$out" " 200"
out=$(enrol c.test m-c "$(key c)")
expect_match "c enrols once ports are free" "$out" ' 201$'
expect_eq "c gets the lowest free port" "$(field "$out" 'd["bastion"]["forward_port"]')" "$F1"
tunnel c "$F1" || pfail "c could not forward its port: $(cat "$T/ssh.err")"
# a revoked bastion credential reads nothing
"$PORTAL" bastion-credential revoke bastion-1 --db "$DB" >/dev/null || fail "bastion-credential revoke"
out=$(req GET /bastion/keys -H "Authorization: Bearer $BST")
expect_match "a revoked bastion credential" "$out" ' 401$'
tunnel c "$F1" && pfail "c logged in with the bastion's credential revoked"
echo "PASS: test_portal_bastion"
