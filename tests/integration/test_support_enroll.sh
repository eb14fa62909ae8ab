# The agent side of enrolment for remote support (issue 10, contract items
# 1 and 2) against the fake portal: `agentctl enroll` makes the agent's
# key and sends it as ssh_key (the .pub line exactly, no comment); the
# reply's bastion user and forward port land in the identity, which agentd
# then loads; `support key` prints the same key without making another.
# An identity written before (no bastion_user, no forward_port) still
# loads.
. tests/integration/lib.sh

make_certs
echo ok > "$T/fake.mode"
start_fake_portal server
trap 'kill $FAKE_PID 2>/dev/null; cleanup' EXIT
mkdir -p "$T/state"
cat > "$T/agentd.conf" <<EOC
[agent]
state_dir = $T/state
control_socket = $T/control.sock
EOC
actl() { "$BUILD/agentctl" -c "$T/agentd.conf" "$@"; }

out=$(actl enroll --portal "https://127.0.0.1:$FAKE_PORT" --token tok \
    --ca "$T/certs/ca.pem" 2>&1) || fail "enroll: $out"
expect_match "enroll prints the assignment" "$out" \
    "^support bastion 127.0.0.1:2222: user agents, forward port 20001$"
pub=$(cat "$T/state/support/id_ed25519.pub")
sent=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ssh_key"])' \
    "$T/fake.seqs.enroll") || fail "no ssh_key in the request: $(cat "$T/fake.seqs.enroll")"
expect_eq "ssh_key sent" "$sent" "$pub"
expect_match "ssh_key form" "$sent" '^ssh-ed25519 [A-Za-z0-9+/]{68}$'
[ ${#sent} -le 128 ] || fail "ssh_key longer than 128 bytes"
expect_eq "the key OpenSSH derives" "$(ssh-keygen -y -f "$T/state/support/id_ed25519" | cut -d' ' -f1-2)" "$pub"
idj() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/state/identity" "$1"; }
expect_eq "identity bastion_user" "$(idj bastion_user)" agents
expect_eq "identity forward_port" "$(idj forward_port)" 20001
expect_eq "identity bastion_address" "$(idj bastion_address)" 127.0.0.1:2222
expect_eq "support key after enroll" "$(actl support key 2>&1)" "$pub"

# Re-enrolling keeps the key (the portal keeps the agent's port by it).
out=$(actl enroll --force --portal "https://127.0.0.1:$FAKE_PORT" \
    --token tok --ca "$T/certs/ca.pem" 2>&1) || fail "re-enroll: $out"
expect_eq "key kept across re-enrolment" "$(cat "$T/state/support/id_ed25519.pub")" "$pub"

# agentd loads the new identity, and one written before issue 10.
"$AGENTD" --config "$T/agentd.conf" --check-config >/dev/null 2>&1 ||
	fail "config refused"
start_agentd() {
	: > "$T/agentd.log"
	"$AGENTD" --config "$T/agentd.conf" --foreground 2>"$T/agentd.log" &
	AGENTD_PID=$!
	wait_until 10 grep -q "reporting to https://127.0.0.1:$FAKE_PORT as agent fake-agent" \
	    "$T/agentd.log" || fail "agentd did not take the identity: $(cat "$T/agentd.log")"
	kill "$AGENTD_PID"; wait "$AGENTD_PID" 2>/dev/null
	rm -f "$T/control.sock"
}
start_agentd
write_identity "https://127.0.0.1:$FAKE_PORT" "$T/certs/ca.pem" 60
start_agentd
exit 0
