# [portal] proxy and timeout reach the reporter: reports go through an
# HTTP CONNECT proxy on loopback (which logs the CONNECT it served), and a
# portal that never answers fails after the configured timeout (2 s), not
# the default (30 s) nor the connect timeout (20 s).
. tests/integration/lib.sh

# The reporter refuses a config frame with an unknown or mistyped member
# loudly (exit status and a log line), rather than running half-configured.
reporter_rejects() {	# JSON REGEX
	out=$(python3 - "$BUILD/agentd-reporter" "$1" <<'PY' 2>&1
import socket, struct, subprocess, sys
a, b = socket.socketpair()
fd = b.fileno()
p = subprocess.Popen(["sh", "-c", 'exec "$0" --stderr 3<&%d %d<&-' % (fd, fd),
    sys.argv[1]], pass_fds=[fd], stderr=subprocess.PIPE)
b.close()
msg = sys.argv[2].encode()
a.sendall(struct.pack(">I", len(msg)) + msg)
try:
    _, err = p.communicate(timeout=10)
except subprocess.TimeoutExpired:
    p.kill()
    print("still running")
    sys.exit(0)
print("exit %d: %s" % (p.returncode, err.decode().strip()))
PY
)
	expect_match "reporter given $1" "$out" "$2"
}
good='"t":"config","portal":"https://127.0.0.1:1","agent_id":"a","credential":"c","connect_timeout":2,"timeout":3'
reporter_rejects "{$good,\"proxy\":7}" '^exit [1-9].*bad config message.*Expected string, got integer'
reporter_rejects "{$good,\"extra\":1}" '^exit [1-9].*bad config message.*(left unpacked|extra)'
reporter_rejects '{"t":"config","portal":"https://127.0.0.1:1","agent_id":"a","credential":"c","connect_timeout":2}' \
    '^exit [1-9].*bad config message.*timeout'
reporter_rejects "{$good}" '^still running$'

make_certs
echo ok > "$T/fake.mode"
start_fake_portal server
PROXY_PID=""; SILENT_PID=""
trap 'kill $FAKE_PID $PROXY_PID $SILENT_PID 2>/dev/null; cleanup' EXIT
python3 tests/integration/portal/connectproxy.py "$T/proxy.port" \
    "$T/proxy.log" 2>>"$T/proxy.err" &
PROXY_PID=$!
wait_until 10 test -s "$T/proxy.port" || fail "the CONNECT proxy did not start"
PROXY_PORT=$(cat "$T/proxy.port")

write_identity "https://127.0.0.1:$FAKE_PORT" "$T/certs/ca.pem" 1
write_config <<EOF2
[portal]
proxy = http://127.0.0.1:$PROXY_PORT
timeout = 5s
connect_timeout = 2s
EOF2
start_agentd
wait_until 30 spool_drained || fail "spool not drained through the proxy"
grep -q "^CONNECT 127.0.0.1:$FAKE_PORT\$" "$T/proxy.log" ||
    fail "the proxy served no CONNECT to the portal: $(cat "$T/proxy.log" 2>/dev/null)"
stop_agentd || fail "agentd exited $? on SIGTERM"

# The proxy stopped: reports must not bypass it and go direct.
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null; PROXY_PID=""
: > "$T/fake.seqs"
: > "$T/agentd.log"
start_agentd
wait_until 20 grep -Eq "cannot deliver reports: .*(onnect|proxy)" "$T/agentd.log" ||
    fail "no proxy connection error with the proxy gone"
[ -s "$T/fake.seqs" ] && fail "reports went around the configured proxy"
stop_agentd || fail "agentd exited $? on SIGTERM"

# A portal that never answers: the request ends after [portal] timeout.
python3 tests/integration/portal/silentportal.py "$T/silent.port" \
    "$T/certs/server.pem" "$T/certs/server.key" 2>>"$T/silent.err" &
SILENT_PID=$!
wait_until 10 test -s "$T/silent.port" || fail "the silent portal did not start"
write_identity "https://127.0.0.1:$(cat "$T/silent.port")" "$T/certs/ca.pem" 1
write_config <<EOF2
[portal]
timeout = 2s
connect_timeout = 20s
EOF2
: > "$T/agentd.log"
start_agentd
wait_until 15 grep -q "cannot deliver reports: .*timed out" "$T/agentd.log" ||
    fail "no timeout within 15 s (the configured timeout is 2 s)"
ms=$(sed -n 's/.*cannot deliver reports: .*timed out after \([0-9]*\) milli.*/\1/p' \
    "$T/agentd.log" | head -n 1)
[ -n "$ms" ] || fail "no duration in the timeout message"
[ "$ms" -ge 1900 ] && [ "$ms" -lt 5000 ] ||
    fail "the request timed out after $ms ms, want about 2000 (timeout = 2s)"
stop_agentd || fail "agentd exited $? on SIGTERM"
exit 0
