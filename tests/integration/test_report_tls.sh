# TLS verification is always on: a portal certificate from another CA, for
# another host name, or expired is refused with a clear log line, and the
# reports stay spooled until a valid portal answers.
. tests/integration/lib.sh

make_certs
echo ok > "$T/fake.mode"
trap 'kill $FAKE_PID 2>/dev/null; cleanup' EXIT
write_config <<EOF2
[portal]
timeout = 3s
connect_timeout = 2s
EOF2

# expect_refused CERT-NAME REGEX: the agent must refuse that portal.
expect_refused() {
	start_fake_portal "$1"
	write_identity "https://127.0.0.1:$FAKE_PORT" "$T/certs/ca.pem" 1
	: > "$T/agentd.log"
	start_agentd
	wait_until 20 grep -Eq "cannot deliver reports: .*$2" "$T/agentd.log" ||
	    fail "$1 certificate: no refusal matching /$2/ in the log"
	[ -s "$T/fake.seqs" ] && fail "$1 certificate: reports were delivered"
	[ "$(report_field spool_depth)" -gt 0 ] ||
	    fail "$1 certificate: nothing kept in the spool"
	stop_agentd || fail "agentd exited $? on SIGTERM"
	kill "$FAKE_PID"
	wait "$FAKE_PID" 2>/dev/null
}

expect_refused wronghost "no alternative certificate subject name matches|does not match"
expect_refused expired "certificate has expired"

# The right certificate, but the agent trusts another CA ([portal] ca_file).
printf '[portal]\nca_file = %s\n' "$T/certs/other-ca.pem" >> "$T/agentd.conf"
expect_refused server "unable to get local issuer certificate|certificate verify failed"

# The right CA but a pinned key that is not the portal's.
sed -i '/^ca_file/d' "$T/agentd.conf"
pin() {
	openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der |
	    openssl dgst -sha256 -binary | base64
}
printf 'pinned_pubkey = sha256//%s\n' "$(pin "$T/certs/wronghost.pem")" >> "$T/agentd.conf"
expect_refused server "pinned public key|public key does not match"

# With the right CA and the portal's own key pinned, the spooled reports
# are delivered.
sed -i "s|^pinned_pubkey = .*|pinned_pubkey = sha256//$(pin "$T/certs/server.pem")|" "$T/agentd.conf"
start_fake_portal server
write_identity "https://127.0.0.1:$FAKE_PORT" "$T/certs/ca.pem" 1
start_agentd
wait_until 30 spool_drained || fail "spool not drained with a valid portal"
[ -s "$T/fake.seqs" ] || fail "nothing delivered"
stop_agentd || fail "agentd exited $? on SIGTERM"
exit 0
