# agentctl enroll / unenroll against the real agentd-portal over TLS on
# loopback: the identity file and its mode, the host in the fleet, a spent
# token, a wrong CA, revocation (also when already revoked or the portal is
# down), and the reload of a running agentd.
. tests/integration/lib.sh

PORTAL=$BUILD/agentd-portal
[ -x "$PORTAL" ] || fail "$PORTAL not built"
DB=$T/portal.db
PORTAL_PID=""
trap '[ -n "$PORTAL_PID" ] && kill "$PORTAL_PID" 2>/dev/null; cleanup' EXIT

make_certs
write_config </dev/null

actl() {
	"$AGENTCTL" --config "$T/agentd.conf" "$@"
}

# run_actl ARGS...: sets RC and OUT (stdout and stderr together).
run_actl() {
	OUT=$(actl "$@" 2>&1)
	RC=$?
}

new_token() {
	"$PORTAL" token create --db "$DB" --expires 1h > "$T/token" ||
	    fail "token create failed"
}

portal_up() {
	curl -s -o /dev/null --cacert "$T/certs/ca.pem" \
	    "https://127.0.0.1:$PORT/api/v1/hosts"
}

start_portal() {
	"$PORTAL" serve --listen "127.0.0.1:$PORT" --db "$DB" \
	    --tls-cert "$T/certs/server.pem" --tls-key "$T/certs/server.key" \
	    --log-stderr >>"$T/portal.log" 2>&1 &
	PORTAL_PID=$!
	wait_until 10 portal_up || {
		tail -n 20 "$T/portal.log"
		fail "agentd-portal did not answer on port $PORT"
	}
}

hosts() {
	curl -s --cacert "$T/certs/ca.pem" -H "Authorization: Bearer $OPERATOR" \
	    "https://127.0.0.1:$PORT/api/v1/hosts"
}

# host_status AGENT-ID: the fleet's status for that host id.
host_status() {
	hosts | python3 -c '
import json, sys
for h in json.load(sys.stdin)["hosts"]:
    if h["id"] == sys.argv[1]:
        print(h["status"])' "$1"
}

agent_id() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["agent_id"])' \
	    "$T/state/identity"
}

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=https://127.0.0.1:$PORT
OPERATOR=$("$PORTAL" operator create it-operator --db "$DB") ||
    fail "operator create failed"
start_portal

# Enrol with the token in a file: mode 0600, the host in the fleet.
new_token
run_actl enroll --portal "$URL/" --token-file "$T/token" --ca "$T/certs/ca.pem"
[ $RC -eq 0 ] || fail "enroll exited $RC: $OUT"
expect_match "enroll output" "$OUT" "^enrolled as [A-Za-z0-9._-]+ with $URL; identity in $T/state/identity"
expect_match "enroll without agentd" "$OUT" "agentd not notified .*it reads the identity when it starts"
# Issue 10: the enrolment made the agent's support key, 0600, that OpenSSH
# reads, and `support key` prints the same line without making another.
expect_eq "support key mode" "$(stat -c %a "$T/state/support/id_ed25519")" 600
KEYLINE=$(ssh-keygen -y -f "$T/state/support/id_ed25519" | cut -d' ' -f1-2)
expect_eq "support key .pub" "$(cat "$T/state/support/id_ed25519.pub")" "$KEYLINE"
run_actl support key
expect_eq "support key: exit" "$RC" 0
expect_eq "support key prints the enrolled key" "$OUT" "$KEYLINE"
[ -f "$T/state/identity" ] || fail "no identity file"
expect_eq "identity mode" "$(stat -c %a "$T/state/identity")" 600
ID1=$(agent_id)
hosts | python3 -c '
import json, sys
hosts = json.load(sys.stdin)["hosts"]
assert any(h["id"] == sys.argv[1] and h["hostname"] == sys.argv[2]
           for h in hosts), hosts' "$ID1" "$(hostname)" ||
    fail "the portal does not list agent $ID1 as $(hostname)"

# A second enrolment is refused without --force, before the token is spent.
new_token
cp "$T/state/identity" "$T/identity.1"
run_actl enroll --portal "$URL" --token-file "$T/token" --ca "$T/certs/ca.pem"
expect_eq "enroll over an identity: exit" "$RC" 1
expect_match "enroll over an identity" "$OUT" "already enrolled as $ID1 with $URL .*--force"
cmp -s "$T/state/identity" "$T/identity.1" || fail "identity changed"

# A wrong CA, or none: a TLS failure with the hint; nothing changes.
run_actl enroll --force --portal "$URL" --token-file "$T/token" \
    --ca "$T/certs/other-ca.pem"
expect_eq "wrong CA: exit" "$RC" 69
expect_match "wrong CA" "$OUT" "TLS failure with $URL/api/v1/enroll: .*; is $T/certs/other-ca.pem the CA that signed the portal's certificate\\?"
run_actl enroll --force --portal "$URL" --token-file "$T/token"
expect_eq "system CAs: exit" "$RC" 69
expect_match "system CAs" "$OUT" "TLS failure .*pass that CA with --ca FILE"
cmp -s "$T/state/identity" "$T/identity.1" || fail "identity changed"

# --force with the token in the environment: a new agent id, and a running
# agentd is told to reload.
start_agentd
OUT=$(AGENTD_ENROLL_TOKEN=$(cat "$T/token") actl enroll --force \
    --portal "$URL" --ca "$T/certs/ca.pem" 2>&1)
RC=$?
[ $RC -eq 0 ] || fail "enroll --force exited $RC: $OUT"
expect_match "enroll with agentd running" "$OUT" "agentd reloaded|agentd refused to reload"
ID2=$(agent_id)
[ "$ID2" != "$ID1" ] || fail "re-enrolment kept agent id $ID1"
stop_agentd || fail "agentd exited $? on SIGTERM"

# The same token again: spent.
run_actl enroll --force --portal "$URL" --token-file "$T/token" \
    --ca "$T/certs/ca.pem"
expect_eq "spent token: exit" "$RC" 1
expect_eq "spent token" "$OUT" "agentctl: token refused: unknown, used, revoked or expired"
[ "$(agent_id)" = "$ID2" ] || fail "a refused enrolment changed the identity"

# Takeover: another holder of a token enrols with this host's machine_id
# (not a secret). Refused with 409, the token not spent, the host's
# credential still good, and the attempt an alert on the host.
MACHINE_ID=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["machine_id"])' \
    "$T/state/identity" 2>/dev/null || cat /etc/machine-id)
CRED2=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["credential"])' \
    "$T/state/identity")
new_token
take_over() {
	curl -s -o "$T/takeover.out" -w '%{http_code}' --cacert "$T/certs/ca.pem" \
	    -H 'Content-Type: application/json' "$@" --data-binary \
	    "{\"token\": \"$(cat "$T/token")\", \"host\": {\"hostname\": \"evil\", \"machine_id\": \"$MACHINE_ID\"}}" \
	    "$URL/api/v1/enroll"
}
expect_eq "takeover: status" "$(take_over)" 409
expect_match "takeover: error" "$(cat "$T/takeover.out")" "enrolled as agent $ID2; send that agent's credential, or use a token from 'agentd-portal token create --replace $ID2'"
expect_eq "takeover with a wrong credential: status" \
    "$(take_over -H 'Authorization: Bearer agc_guessed')" 409
reports() {
	curl -s -o /dev/null -w '%{http_code}' --cacert "$T/certs/ca.pem" \
	    -H "Authorization: Bearer $CRED2" -H 'Content-Type: application/json' \
	    --data-binary '{"reports": []}' "$URL/api/v1/agents/$ID2/reports"
}
expect_eq "victim's credential after the takeover attempt" "$(reports)" 200
curl -s --cacert "$T/certs/ca.pem" -H "Authorization: Bearer $OPERATOR" \
    "$URL/api/v1/alerts?open=1" | python3 -c '
import json, sys
a = json.load(sys.stdin)["alerts"]
assert any(x["kind"] == "enrolment_refused" and x["host_id"] == sys.argv[1]
           for x in a), a' "$ID2" ||
    fail "the refused takeover is not an open alert on $ID2"
grep -q "enrolment as evil refused: its machine_id is agent $ID2" "$T/portal.log" ||
    fail "the refused takeover is not logged"

# This host with an identity that is no longer the live agent's (the one
# replaced earlier): 409, and the admin is told what to do.
cp "$T/state/identity" "$T/identity.live"
cp "$T/identity.1" "$T/state/identity"
run_actl enroll --force --portal "$URL" --token-file "$T/token" \
    --ca "$T/certs/ca.pem"
expect_eq "stale identity: exit" "$RC" 1
expect_match "stale identity" "$OUT" "refused to let this host replace the agent enrolled with its machine_id \\(this host's identity is not that agent's\\): HTTP 409: .*--replace $ID2"
# The token was not spent; revoked, it can no longer enrol.
TOKEN_ID=$("$PORTAL" token list --db "$DB" | awk '$5 == "valid" { id = $1 } END { print id }')
[ -n "$TOKEN_ID" ] || fail "token list shows no valid token: $("$PORTAL" token list --db "$DB")"
"$PORTAL" token list --db "$DB" | grep -q "$(cat "$T/token")" &&
    fail "token list prints a secret"
"$PORTAL" token revoke "$TOKEN_ID" --db "$DB" >/dev/null || fail "token revoke failed"
expect_eq "revoked token: status" "$(take_over)" 401
run_actl enroll --force --portal "$URL" --token-file "$T/token" \
    --ca "$T/certs/ca.pem"
expect_eq "revoked token: agentctl" "$OUT" "agentctl: token refused: unknown, used, revoked or expired"
# The operator allows the replacement: the stale host takes over.
"$PORTAL" token create --db "$DB" --expires 1h --replace "$ID2" > "$T/token" ||
    fail "token create --replace failed"
run_actl enroll --force --portal "$URL" --token-file "$T/token" \
    --ca "$T/certs/ca.pem"
[ $RC -eq 0 ] || fail "enroll with a --replace token exited $RC: $OUT"
ID3=$(agent_id)
expect_eq "replaced host" "$(host_status "$ID2")" ""
grep -q "enrolled .* as agent $ID3, replacing $ID2 (allowed by the operator's token)" "$T/portal.log" ||
    fail "the replacement is not logged as the operator's"
expect_eq "the replaced credential" "$(reports)" 401
# ... and re-enrols itself later with its own credential as proof.
new_token
run_actl enroll --force --portal "$URL" --token-file "$T/token" \
    --ca "$T/certs/ca.pem"
[ $RC -eq 0 ] || fail "re-enrolment with the identity exited $RC: $OUT"
ID2=$(agent_id)
grep -q "as agent $ID2, replacing $ID3 (proved by its credential)" "$T/portal.log" ||
    fail "the re-enrolment is not logged as proved"

# Operator tokens: listed without secrets, revoked takes effect at once.
"$PORTAL" operator list --db "$DB" | grep -q "^it-operator .* valid$" ||
    fail "operator list: $("$PORTAL" operator list --db "$DB")"
"$PORTAL" operator create other --db "$DB" --expires 400d 2>"$T/err" &&
    fail "operator create --expires 400d accepted"
grep -q "operator tokens last at most 365d" "$T/err" || fail "expiry limit: $(cat "$T/err")"
"$PORTAL" token create --db "$DB" --expires 99999999999999999999d 2>"$T/err" &&
    fail "token create --expires 99999999999999999999d accepted"
"$PORTAL" operator create spare --db "$DB" > "$T/spare" || fail "operator create"
"$PORTAL" operator revoke spare --db "$DB" >/dev/null || fail "operator revoke"
expect_eq "revoked operator" "$(curl -s -o /dev/null -w '%{http_code}' \
    --cacert "$T/certs/ca.pem" -H "Authorization: Bearer $(cat "$T/spare")" \
    "$URL/api/v1/hosts")" 401

# Unenrol: revoked at the portal, the file gone, the host kept as unenrolled.
cp "$T/state/identity" "$T/identity.2"
run_actl unenroll
[ $RC -eq 0 ] || fail "unenroll exited $RC: $OUT"
expect_match "unenroll" "$OUT" "agent $ID2 revoked at $URL; identity removed"
[ -e "$T/state/identity" ] && fail "identity still there after unenroll"
expect_eq "fleet status after unenroll" "$(host_status "$ID2")" unenrolled
run_actl unenroll
expect_eq "unenroll twice: exit" "$RC" 1
expect_match "unenroll twice" "$OUT" "not enrolled: there is no $T/state/identity"

# A credential the portal already revoked: removed locally all the same.
cp "$T/identity.2" "$T/state/identity"
run_actl unenroll
[ $RC -eq 0 ] || fail "unenroll of a revoked credential exited $RC: $OUT"
expect_match "already revoked" "$OUT" "no longer knows agent $ID2"

# The portal down: the identity is kept unless --force.
new_token
run_actl enroll --portal "$URL" --token-file "$T/token" --ca "$T/certs/ca.pem"
[ $RC -eq 0 ] || fail "enroll exited $RC: $OUT"
kill "$PORTAL_PID"
wait "$PORTAL_PID" 2>/dev/null
PORTAL_PID=""
run_actl unenroll
expect_eq "portal down: exit" "$RC" 69
expect_match "portal down" "$OUT" "cannot reach the portal .*identity kept"
[ -f "$T/state/identity" ] || fail "identity removed although the portal was down"
run_actl unenroll --force
[ $RC -eq 0 ] || fail "unenroll --force exited $RC: $OUT"
expect_match "unenroll --force" "$OUT" "removed the identity anyway"
[ -e "$T/state/identity" ] && fail "identity still there after --force"

# An invalid config is refused, with its errors.
printf '[agent]\nstate_dir = relative\n' > "$T/bad.conf"
OUT=$("$AGENTCTL" --config "$T/bad.conf" unenroll 2>&1)
RC=$?
expect_eq "invalid config: exit" "$RC" 1
expect_match "invalid config" "$OUT" "bad.conf is invalid"
exit 0
