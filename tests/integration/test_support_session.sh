# Remote support sessions end to end (issue 10): agentd with [support]
# pointing at a real sshd bastion on 127.0.0.1 (support/bastion.sh; the
# agent key from `agentctl support key`, restricted to port-forwarding and
# permitlisten), the same sshd as the host's sshd behind the forward, the
# fake portal receiving the support_event reports. policy allow: open, an
# engineer's stock ssh runs a command through the forward, close; the TTL
# ends a session and the engineer's open connection; ask + approve, ask +
# deny, ask + expiry; deny refuses; a wrong bastion_host_key fails loudly;
# the portal's open_support_session is answered with the session and the
# connect command; the reports arrive in order with the contract's
# members.
. tests/integration/lib.sh

make -s BUILD="$BUILD" "$BUILD/agentd-support" >/dev/null || fail "cannot build agentd-support"
make_certs
echo ok > "$T/fake.mode"
start_fake_portal server
. tests/integration/support/bastion.sh
SSH_PID=""
trap '[ -n "$SSH_PID" ] && kill $SSH_PID 2>/dev/null; kill $FAKE_PID 2>/dev/null; bastion_cleanup; cleanup' EXIT
BASE=$((20000 + ($$ * 13) % 20000))
FPORT=$((BASE + 1))
bastion_setup "$BASE"
write_identity "https://127.0.0.1:$FAKE_PORT" "$T/certs/ca.pem" 1
printf '[agent]\nstate_dir = %s/state\n' "$T" > "$T/key.conf"
"$AGENTCTL" -c "$T/key.conf" support key > "$T/agent.pub" 2>/dev/null || fail "support key"
bastion_authorize_agent "$T/agent.pub" "$FPORT"
ssh-keygen -q -t ed25519 -N '' -f "$T/eng" || fail "ssh-keygen"
bastion_authorize "$T/eng.pub"
start_sshd
HOSTKEY=$(cut -d' ' -f1-2 "$T/ssh/host.pub")

conf() {	# policy [host key] [extra lines]
	write_config <<EOC
[support]
bastion = 127.0.0.1:$BASE
bastion_user = $U
bastion_host_key = ${2:-$HOSTKEY}
forward_port = $FPORT
target = 127.0.0.1:$BASE
policy = $1
request_timeout = 3s
${3:-}
EOC
}
reload() { ctl reload >/dev/null || fail "reload: $(ctl reload 2>&1)"; }
# field SESSION KEY: from support status --json
field() {
	ctl support status --json | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["id"] == sys.argv[1]:
        print(s.get(sys.argv[2], "")); break' "$1" "$2"
}
state_is() { [ "$(field "$1" state)" = "$2" ]; }
connected() { [ "$(field "$1" connected)" = True ]; }
# The support_event events the portal got for SESSION, space-separated.
events() {
	python3 -c '
import json, sys
ev = []
for line in open(sys.argv[1]):
    p = json.loads(line)
    if p.get("session") == sys.argv[2] and "event" in p:
        ev.append(p["event"])
print(" ".join(ev))' "$T/fake.seqs.payloads" "$1" 2>/dev/null
}
events_are() { [ "$(events "$1")" = "$2" ]; }
eng_ssh() {
	ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	    -o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR \
	    -i "$T/eng" -p "$FPORT" "$U@127.0.0.1" "$@"
}
sid_of() { printf '%s\n' "$1" | sed -n 's/^session \(ses_[0-9a-f]\{16\}\) .*/\1/p'; }

conf allow
start_agentd

# (allow) open: the session is up at once; the engineer gets through.
out=$(ctl support open --ttl 1h --reason "disk full" 2>&1) || fail "open: $out"
S1=$(sid_of "$out")
[ -n "$S1" ] || fail "no session id: $out"
expect_match "open output" "$out" "^session $S1 open$"
expect_match "connect command" "$out" "^connect: ssh -J ENGINEER@127.0.0.1:$BASE -p $FPORT root@127.0.0.1$"
wait_until 15 connected "$S1" || fail "$S1 never connected: $(ctl support status)"
got=$(eng_ssh echo through-the-tunnel 2>&1) || fail "engineer ssh: $got"
expect_eq "engineer through the forward" "$got" through-the-tunnel
# The engineer's ssh has ended; its connection's close reaches agentd
# through the helper's frame a moment later.
wait_until 10 sh -c "$AGENTCTL --socket $T/control.sock support status | grep -q ', 0 connection(s) open'" ||
	fail "the engineer's connection still counted: $(ctl support status)"
out=$(ctl support status)
expect_match "status open" "$out" "^$S1: open until .*, 0 connection\\(s\\) open"
expect_match "status by" "$out" "requested by .*\\(uid 0\\): disk full"
ctl support close "$S1" >/dev/null || fail "close"
wait_until 5 state_is "$S1" closed || fail "not closed: $(ctl support status)"
wait_until 10 events_are "$S1" "requested approved opened connection_opened connection_closed closed" ||
	fail "$S1 events: $(events "$S1")"
python3 - "$T/fake.seqs.payloads" "$S1" "$BASE" "$FPORT" <<'PY' || fail "payloads of $S1 are not the contract's"
import json, sys
ev = {}
for line in open(sys.argv[1]):
    p = json.loads(line)
    if p.get("session") == sys.argv[2] and "event" in p:
        ev[p["event"]] = p
        assert isinstance(p["at"], int), p
r = ev["requested"]
assert r["origin"] == "local" and r["reason"] == "disk full" and r["ttl"] == 3600, r
assert "(uid 0)" in r["by"], r
assert ev["approved"]["by"] == "policy", ev["approved"]
o = ev["opened"]
assert o["bastion"] == "127.0.0.1:" + sys.argv[3] and o["forward_port"] == int(sys.argv[4]), o
assert o["expires"] > o["at"] + 3500, o
c = ev["connection_closed"]
assert c["conn"] == ev["connection_opened"]["conn"] and c["bytes_in"] > 0 and c["bytes_out"] > 0, c
assert ev["closed"]["reason"] == "closed" and "(uid 0)" in ev["closed"]["by"], ev["closed"]
PY
echo "ok: allow, engineer through, close, audit"

# (ttl) a 15 s session ends by itself, and the engineer's connection too
# (15 s: the engineer's ssh must be in before it ends on a busy machine).
out=$(ctl support open --ttl 15s 2>&1) || fail "open ttl: $out"
S2=$(sid_of "$out")
wait_until 15 connected "$S2" || fail "$S2 never connected"
eng_ssh sleep 60 > /dev/null 2>&1 &
SSH_PID=$!
wait_until 14 test "$(field "$S2" open_connections)" = 1 || fail "no engineer connection on $S2"
wait_until 20 state_is "$S2" closed || fail "$S2 not closed at its TTL"
expect_eq "ttl reason" "$(field "$S2" end_reason)" ttl
wait_until 10 sh -c "! kill -0 $SSH_PID" || fail "the engineer's connection outlived the TTL"
SSH_PID=""
wait_until 10 events_are "$S2" "requested approved opened connection_opened connection_closed closed" ||
	fail "$S2 events: $(events "$S2")"
echo "ok: TTL closes the session and the connection"

# (ask) approve, deny, expiry.
conf ask
reload
out=$(ctl support open --reason "need logs" 2>&1) || fail "open ask: $out"
S3=$(sid_of "$out")
expect_match "ask waits" "$out" "^session $S3 waiting$"
grep -q "support session $S3 waits for consent: agentctl support approve $S3" "$T/agentd.log" ||
	fail "no consent message in the log"
out=$(ctl support open 2>&1) && fail "a second request was taken: $out"
expect_match "one at a time" "$out" "session $S3 is waiting"
ctl support approve "$S3" >/dev/null || fail "approve"
wait_until 15 connected "$S3" || fail "$S3 never connected after approval"
ctl support close >/dev/null || fail "close without id"
wait_until 5 state_is "$S3" closed || fail "$S3 not closed"
wait_until 10 events_are "$S3" "requested approved opened closed" || fail "$S3 events: $(events "$S3")"
sleep 1.5	# the helper exits (helper_stop) before a new session
out=$(ctl support open 2>&1) || fail "open ask 2: $out"
S4=$(sid_of "$out")
ctl support deny "$S4" >/dev/null || fail "deny"
expect_eq "denied" "$(field "$S4" state)" denied
wait_until 10 events_are "$S4" "requested denied" || fail "$S4 events: $(events "$S4")"
out=$(ctl support open 2>&1) || fail "open ask 3: $out"
S5=$(sid_of "$out")
wait_until 10 state_is "$S5" expired || fail "$S5 did not expire"
wait_until 10 events_are "$S5" "requested expired" || fail "$S5 events: $(events "$S5")"
out=$(ctl support approve "$S5" 2>&1) && fail "an expired request was approved"
echo "ok: ask + approve, deny, expiry"

# (idle_timeout, max_ttl) a session nobody uses closes after 2 s idle; a
# request longer than max_ttl (10m here) is cut to it.
sleep 1
conf allow "" "idle_timeout = 2s
max_ttl = 10m"
reload
out=$(ctl support open --ttl 9h 2>&1) || fail "open idle: $out"
S9=$(sid_of "$out")
expect_eq "ttl cut to max_ttl" "$(field "$S9" ttl)" 600
wait_until 15 state_is "$S9" closed || fail "$S9 not closed when idle: $(ctl support status)"
expect_eq "idle reason" "$(field "$S9" end_reason)" idle
echo "ok: idle_timeout, max_ttl"

# (deny) refused.
conf deny
reload
out=$(ctl support open 2>&1) && fail "policy deny opened: $out"
expect_match "deny" "$out" "policy deny"

# (reload to deny) an open session closes with reason policy.
conf allow
reload
out=$(ctl support open 2>&1) || fail "open: $out"
S6=$(sid_of "$out")
wait_until 15 connected "$S6" || fail "$S6 never connected"
conf deny
reload
wait_until 5 state_is "$S6" closed || fail "$S6 not closed by the reload"
expect_eq "policy reason" "$(field "$S6" end_reason)" policy
echo "ok: deny refuses; a reload to deny closes"

# (host key) a wrong pinned key fails loudly.
ssh-keygen -q -t ed25519 -N '' -f "$T/other" || fail "ssh-keygen"
conf allow "$(cut -d' ' -f1-2 "$T/other.pub")"
reload
sleep 1.5
out=$(ctl support open 2>&1) || fail "open: $out"
S7=$(sid_of "$out")
wait_until 15 state_is "$S7" failed || fail "$S7 did not fail: $(ctl support status)"
expect_match "failed reason" "$(field "$S7" end_reason)" "HOST KEY MISMATCH for 127.0.0.1: expected ssh-ed25519 SHA256:"
grep -q "support session $S7: failed: HOST KEY MISMATCH" "$T/agentd.log" || fail "the mismatch is not logged"
wait_until 10 events_are "$S7" "requested approved failed" || fail "$S7 events: $(events "$S7")"
echo "ok: a wrong host key fails loudly"

# (portal) open_support_session from the portal, policy allow.
conf allow
reload
sleep 1
echo "open_support_session:cmd_sup_1" > "$T/fake.mode"
wait_until 15 grep -q '"command_id": "cmd_sup_1"' "$T/fake.seqs.payloads" ||
	fail "no command_result for cmd_sup_1"
echo ok > "$T/fake.mode"
python3 - "$T/fake.seqs.payloads" "$U" "$BASE" "$FPORT" > "$T/s8" <<'PY' || fail "command_result: $(grep cmd_sup_1 "$T/fake.seqs.payloads")"
import json, sys
for line in open(sys.argv[1]):
    p = json.loads(line)
    if p.get("command_id") == "cmd_sup_1":
        assert p["status"] == "done" and p["state"] == "open", p
        assert p["connect"] == "ssh -J ENGINEER@127.0.0.1:%s -p %s root@127.0.0.1" % tuple(sys.argv[3:5]), p
        print(p["session"])
        break
PY
S8=$(cat "$T/s8")
wait_until 15 connected "$S8" || fail "$S8 never connected"
python3 - "$T/fake.seqs.payloads" "$S8" <<'PY' || fail "the portal's request is not in the audit trail"
import json, sys
for line in open(sys.argv[1]):
    p = json.loads(line)
    if p.get("session") == sys.argv[2] and p.get("event") == "requested":
        assert p["origin"] == "portal" and p["by"] == "eve@provider" and p["ttl"] == 1800 and p["reason"] == "ticket 42", p
        break
else:
    sys.exit(1)
PY
# agentd's stop closes it: reason agent_stopped, in the spool.
stop_agentd || fail "agentd did not stop cleanly"
start_agentd
wait_until 15 events_are "$S8" "requested approved opened closed" || fail "$S8 events: $(events "$S8")"
grep -q '"reason": "agent_stopped"' "$T/fake.seqs.payloads" || fail "no agent_stopped close"
echo "ok: the portal's command; agentd's stop closes the session"
ldd "$AGENTD" | grep -q libssh2 && fail "agentd links libssh2"
exit 0
