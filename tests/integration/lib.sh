# Shared helpers for the integration tests: each test gets a private
# temporary directory, its own control socket and state dir, and a real
# agentd started from the build tree. Sourced by test_*.sh.
set -u

TOP=$(pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
AGENTD=$BUILD/agentd
AGENTCTL=$BUILD/agentctl
PLUGINS=/usr/lib/nagios/plugins
T=$(mktemp -d /tmp/agentd-it.XXXXXX)
AGENTD_PID=""

cleanup() {
	if [ -n "$AGENTD_PID" ] && kill -0 "$AGENTD_PID" 2>/dev/null; then
		kill -KILL "$AGENTD_PID" 2>/dev/null
		wait "$AGENTD_PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT

# Says why, shows the agent's log tail, and ends the test.
fail() {
	echo "FAIL: $*"
	if [ -s "$T/agentd.log" ]; then
		echo "--- last lines of agentd's log:"
		tail -n 25 "$T/agentd.log"
	fi
	exit 1
}

# The [agent] section every test needs; the rest comes on stdin. The
# updates collector is off at the end (its apt-get -s costs a second of CPU
# at every start) unless the test configures it.
write_config() {
	{
		printf '[agent]\ncontrol_socket = %s/control.sock\n' "$T"
		printf 'state_dir = %s/state\ncontrol_group =\n' "$T"
		cat
	} > "$T/agentd.conf"
	grep -q '^\[collector\.updates\]' "$T/agentd.conf" ||
	    printf '[collector.updates]\nenabled = no\n' >> "$T/agentd.conf"
}

ctl() {
	"$AGENTCTL" --socket "$T/control.sock" "$@"
}

# wait_until SECONDS COMMAND...: polls every 0.1 s.
wait_until() {
	limit=$(( $1 * 10 ))
	shift
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -ge $limit ] && return 1
		sleep 0.1
	done
	return 0
}

start_agentd() {
	"$AGENTD" --foreground --config "$T/agentd.conf" "$@" \
	    >>"$T/agentd.log" 2>&1 &
	AGENTD_PID=$!
	wait_until 10 test -S "$T/control.sock" ||
	    fail "agentd did not open its control socket within 10 s"
}

# Every check has run at least once.
all_checks_ran() {
	out=$(ctl status) || return 1
	! printf '%s\n' "$out" | grep -q ' PENDING '
}

stop_agentd() {
	kill -TERM "$AGENTD_PID"
	wait "$AGENTD_PID"
	rc=$?
	AGENTD_PID=""
	return $rc
}

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

# expect_match WHAT TEXT REGEX
expect_match() {
	printf '%s\n' "$2" | grep -Eq -- "$3" ||
	    fail "$1: '$2' does not match /$3/"
}

# The agent's reporting status field KEY (from the control socket's JSON).
report_field() {
	python3 tests/integration/portal/status.py "$T/control.sock" "$1"
}

# True when every spooled report has been acknowledged.
spool_drained() {
	[ "$(report_field spool_depth 2>/dev/null)" = 0 ]
}

# Writes an identity as enrolment would (for tests against a fake portal).
write_identity() {	# portal-url ca-file interval
	mkdir -p "$T/state"
	printf '{"agent_id":"fake-agent","credential":"agc_fake_credential","portal":"%s","ca_file":"%s","report_interval":%s,"bastion_address":null,"bastion_host_key":null,"enrolled_at":1795430400}\n' \
	    "$1" "$2" "$3" > "$T/state/identity"
	chmod 600 "$T/state/identity"
}

# Starts tests/integration/portal/fakeportal.py with cert NAME; sets FAKE_PORT.
start_fake_portal() {	# cert-name
	rm -f "$T/fake.port"
	python3 tests/integration/portal/fakeportal.py "$T/fake.port" \
	    "$T/certs/$1.pem" "$T/certs/$1.key" "$T/fake.mode" "$T/fake.seqs" \
	    2>>"$T/fake.log" &
	FAKE_PID=$!
	wait_until 10 test -s "$T/fake.port" || fail "the fake portal did not start"
	FAKE_PORT=$(cat "$T/fake.port")
}

make_certs() {
	mkdir -p "$T/certs"
	sh tests/integration/portal/mkcerts.sh "$T/certs" ||
	    fail "cannot make test certificates with openssl"
}

# start_portal [SERVE OPTIONS...]: the real agentd-portal on a free
# loopback port with the test certificates (make_certs first); sets PORT
# and PORTAL_PID, and stops it on exit.
start_portal() {
	PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$BUILD/agentd-portal" serve --listen "127.0.0.1:$PORT" \
	    --db "$T/portal.db" --tls-cert "$T/certs/server.pem" \
	    --tls-key "$T/certs/server.key" --log-stderr "$@" \
	    >>"$T/portal.log" 2>&1 &
	PORTAL_PID=$!
	trap '[ -n "$PORTAL_PID" ] && kill $PORTAL_PID 2>/dev/null; cleanup' EXIT
	wait_until 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT))" ||
	    fail "the portal did not listen on $PORT: $(tail -3 "$T/portal.log")"
}

# Enrols the agent of $T/agentd.conf with the portal of start_portal.
enroll_agent() {
	"$BUILD/agentd-portal" token create --db "$T/portal.db" --expires 1h \
	    > "$T/token" || fail "token create"
	out=$("$AGENTCTL" --config "$T/agentd.conf" enroll \
	    --portal "https://127.0.0.1:$PORT" --token-file "$T/token" \
	    --ca "$T/certs/ca.pem" 2>&1) || fail "enrol: $out"
}

# q SQL: the first value of the first row from the portal's database.
q() {
	python3 - "$T/portal.db" "$1" <<'PY'
import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()
print("" if r is None or r[0] is None else r[0])
PY
}
