# The control socket survives bad clients: malformed JSON, unknown
# commands, overlong lines, clients that vanish mid-run, floods.
. tests/integration/lib.sh

write_config <<EOF2
[check.slow]
command = /bin/sleep 3
timeout = 5s
EOF2
start_agentd

python3 - "$T/control.sock" <<'PY' || fail "raw control protocol"
import json, socket, sys, time
path = sys.argv[1]

def talk(payload, timeout=10):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(payload)
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return buf

def expect_error(payload, text):
    r = json.loads(talk(payload).split(b"\n")[0])
    assert r["ok"] is False and text in r["error"], (payload[:60], r)

expect_error(b"{not json\n", "malformed JSON")
expect_error(b"[1,2]\n", "not a JSON object")
expect_error(b'{"cmd":"format_disk"}\n', "unknown cmd")
expect_error(b'{"cmd":"check_run","name":"nosuch"}\n', "no such check")
expect_error(b"\xff\xfe\x00garbage\n", "malformed JSON")
expect_error(b"x" * 70000 + b"\n", "too long")

# Two requests in one write: two replies, in order.
out = talk(b'{"cmd":"status"}\n{"cmd":"checks"}\n').split(b"\n")
a, b = json.loads(out[0]), json.loads(out[1])
assert "uptime" in a and "checks" in b and "uptime" not in b, out

# A client that leaves while its check runs.
s = socket.socket(socket.AF_UNIX)
s.connect(path)
s.sendall(b'{"cmd":"check_run","name":"slow"}\n')
s.close()

# A flood of idle connections: some refused, the agent keeps serving.
idle = []
for i in range(40):
    c = socket.socket(socket.AF_UNIX)
    c.connect(path)
    idle.append(c)
time.sleep(0.5)
for c in idle:
    c.close()
time.sleep(0.5)
r = json.loads(talk(b'{"cmd":"status"}\n').split(b"\n")[0])
assert r["ok"] is True, r
PY
kill -0 "$AGENTD_PID" || fail "agentd died"
grep -q 'too many connections' "$T/agentd.log" || fail "flood not noticed"

# check run of the slow check still works after the vanished client.
out=$(ctl check run slow); expect_eq "slow exit" $? 0
expect_match "slow" "$out" '^slow: OK: .*no output'

# A second agent on the same socket refuses to take it over.
out=$("$AGENTD" --foreground --config "$T/agentd.conf" 2>&1); rc=$?
expect_eq "second agent exit" $rc 1
expect_match "second agent" "$out" "another agentd is listening on $T/control.sock"
ctl status >/dev/null || fail "first agent lost its socket"

# agentctl's own exit codes.
"$AGENTCTL" --socket "$T/none.sock" status 2>/dev/null; expect_eq "unreachable" $? 69
ctl frobnicate 2>/dev/null; expect_eq "usage" $? 64
stop_agentd || fail "agentd exited $? on SIGTERM"
[ -e "$T/control.sock" ] && fail "socket left behind after stop"
exit 0
