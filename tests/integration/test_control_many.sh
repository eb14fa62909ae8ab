# agentctl status and checks --json with about a thousand checks: replies
# far beyond the 64 KiB a request may have (issue 7, defect 18).
. tests/integration/lib.sh

N=980
cat > "$T/check_tiny" <<'EOS'
#!/bin/sh
echo "OK - tiny check $1 is fine and says a little more to fill the line | time=0.001s;1;2;0 size=1234B;;;0"
echo "a long text line of the tiny check"
EOS
chmod +x "$T/check_tiny"
{
	printf 'max_concurrent_checks = 16\n'
	i=0
	while [ $i -lt $N ]; do
		printf '[check.tiny%d]\ncommand = %s %d\ninterval = 10m\n' \
		    $i "$T/check_tiny" $i
		i=$((i + 1))
	done
} | write_config
# All enabled checks: the N and the built-ins on by default.
all=$("$AGENTD" --config "$T/agentd.conf" --check-config |
    sed -n 's/.*: OK, \([0-9]*\) checks enabled$/\1/p')
[ "${all:-0}" -gt $N ] || fail "check-config did not count the checks"
start_agentd

# Every check runs once within the first-run spread (5 s).
wait_until 40 all_checks_ran || {
	ctl status 2>&1 | grep -E "^checks:|PENDING|agentctl:" | head -5
	fail "not every check ran within 40 s (or status failed)"
}

out=$(ctl status) || fail "agentctl status failed: $out"
expect_match "status header" "$out" "^checks: $all \("
lines=$(printf '%s\n' "$out" | grep -c '^tiny[0-9]* *OK ')
expect_eq "status rows" "$lines" $N
size=$(ctl status | wc -c)
[ "$size" -gt 65536 ] || fail "status is only $size bytes: not a test of large replies"

ctl checks --json > "$T/checks.json" || fail "agentctl checks --json failed"
python3 - "$T/checks.json" $N <<'PY' || fail "checks --json output"
import json, sys
checks = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
tiny = [c for c in checks if c["name"].startswith("tiny")]
assert len(tiny) == n, len(tiny)
for c in tiny:
    assert c["state"] == "OK", c
    assert c["long_text"].startswith("a long text"), c
    assert [p["label"] for p in c["perfdata"]] == ["time", "size"], c
    assert isinstance(c["age"], int) and 0 <= c["age"] < 120, c
size = len(open(sys.argv[1]).read())
assert size > 4 * 65536, size
PY

# Requests stay small: a line over the request limit is refused.
python3 - "$T/control.sock" <<'PY' || fail "request limit"
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b'{"cmd":"status","pad":"' + b"x" * 8192 + b'"}\n')
buf = b""
while not buf.endswith(b"\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
r = json.loads(buf.split(b"\n")[0])
assert r["ok"] is False and "too long" in r["error"], r
PY
kill -0 "$AGENTD_PID" || fail "agentd died"
stop_agentd || fail "agentd did not stop cleanly"
echo "PASS"
