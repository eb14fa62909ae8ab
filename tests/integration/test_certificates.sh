#!/bin/bash
# The certificates collector through the real agentd and agentd-certcheck:
# files (3 days left, a chain written CA first, a missing one) and
# endpoints on loopback (a real TLS server, one that accepts and never
# speaks, one that sends garbage). The probe runs in a child: while it
# waits out the silent endpoint, agentctl status still answers at once.
. tests/integration/lib.sh

command -v openssl >/dev/null || { echo "SKIP: no openssl"; exit 0; }
[ -x "$BUILD/agentd-certcheck" ] || fail "$BUILD/agentd-certcheck not built"

mk() {	# name days subject [ca]
	if [ $# -eq 3 ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		    -nodes -keyout "$T/$1.key" -out "$T/$1.pem" -days "$2" \
		    -subj "$3" 2>>"$T/openssl.log" || fail "openssl req $1"
	else
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		    -nodes -keyout "$T/$1.key" -out "$T/$1.csr" -subj "$3" \
		    -addext "subjectAltName=DNS:localhost.test" \
		    2>>"$T/openssl.log" &&
		openssl x509 -req -in "$T/$1.csr" -CA "$T/$4.pem" \
		    -CAkey "$T/$4.key" -CAcreateserial -days "$2" \
		    -copy_extensions copy -out "$T/$1.pem" \
		    2>>"$T/openssl.log" || fail "openssl x509 $1"
	fi
}
mk three 3 /CN=three.test
mk ca 365 "/CN=Test CA"
mk server 60 /CN=localhost.test ca
mk leaf 10 /CN=leaf.test ca
cat "$T/ca.pem" "$T/leaf.pem" > "$T/chain.pem"

python3 tests/integration/certificates/endpoints.py "$T/ports" \
    "$T/server.pem" "$T/server.key" 2>"$T/endpoints.log" &
EP_PID=$!
trap 'kill $EP_PID 2>/dev/null; cleanup' EXIT
wait_until 10 test -s "$T/ports" || fail "endpoints.py did not start: $(cat "$T/endpoints.log")"
read -r TLS SILENT GARBAGE < "$T/ports"

# Not configured: off (no check at all).
write_config <<EOF2
[collector.certificates]
EOF2
start_agentd
wait_until 20 all_checks_ran || fail "checks never ran: $(ctl status)"
ctl status | grep -q '^certificates ' &&
    fail "certificates runs without files or endpoints: $(ctl status)"
stop_agentd || fail "agentd exited $? on SIGTERM"

write_config <<EOF2
[collector.certificates]
interval = 10m
files = $T/three.pem $T/chain.pem $T/missing.pem
endpoints = 127.0.0.1:$TLS@localhost.test 127.0.0.1:$SILENT 127.0.0.1:$GARBAGE
timeout = 3
EOF2
start_agentd

# The silent endpoint holds the probe for 3 s: agentd must not wait.
start=$(date +%s%N)
ctl check run certificates > "$T/run.out" 2>&1 &
RUN_PID=$!
sleep 0.5
for i in 1 2 3 4 5; do
	t0=$(date +%s%N)
	ctl status > /dev/null || fail "agentctl status failed during the probe"
	t1=$(date +%s%N)
	ms=$(( (t1 - t0) / 1000000 ))
	[ $ms -lt 1000 ] || fail "agentctl status took $ms ms while the probe ran"
	sleep 0.3
done
kill -0 $RUN_PID 2>/dev/null ||
    fail "the run ended before the silent endpoint's timeout: $(cat "$T/run.out")"
wait $RUN_PID
rc=$?
took=$(( ($(date +%s%N) - start) / 1000000 ))
out=$(cat "$T/run.out")
expect_eq "check run exit code (CRITICAL: 3 days left)" "$rc" 2
[ $took -lt 15000 ] || fail "the run took $took ms with a 3 s timeout"
expect_match "summary" "$out" "three.pem expires in (2|3) d \(CN=three.test\)"

json=$(ctl checks --json) || fail "agentctl checks --json exited $?"
printf '%s' "$json" > "$T/checks.json"
python3 - "$T/checks.json" "$T" "$TLS" "$SILENT" "$GARBAGE" <<'PY' || fail "checks --json: see above"
import json, sys
data = json.load(open(sys.argv[1]))
T, tls, silent, garbage = sys.argv[2:6]
checks = data["checks"] if isinstance(data, dict) else data
c = [x for x in checks if x.get("name") == "certificates"]
if not c:
    sys.exit(print("no certificates check in", data) or 1)
c = c[0]
res = c.get("result", c)
long_text = res.get("long_text") or ""
perf = {p["label"]: p for p in res.get("perfdata", res.get("perf", []))}
def need(cond, why):
    if not cond:
        print("FAIL:", why, "\nlong text:\n" + long_text, "\nperf:", perf)
        sys.exit(1)
ep = "127.0.0.1:%s@localhost.test" % tls
need(ep in perf and 59 <= perf[ep]["value"] <= 60.01, "TLS endpoint: 60 days")
need("%s/chain.pem" % T in perf and 9 <= perf["%s/chain.pem" % T]["value"] <= 10.01,
     "chain.pem: the leaf's 10 days, not the CA's 365")
need("127.0.0.1:%s: TLS handshake: timed out (UNKNOWN)" % silent in long_text,
     "silent endpoint: timed out")
need("127.0.0.1:%s: TLS handshake:" % garbage in long_text,
     "garbage endpoint: a handshake error")
need("missing.pem: cannot open: No such file or directory (UNKNOWN)" in long_text,
     "missing file")
need(ep + ": CN=localhost.test, issuer CN=Test CA" in long_text, "TLS endpoint's subject/issuer")
PY
kill -0 "$AGENTD_PID" || fail "agentd died"
# The TLS library stays in the child.
grep -q gnutls "/proc/$AGENTD_PID/maps" &&
    fail "agentd itself has GnuTLS mapped: $(grep gnutls "/proc/$AGENTD_PID/maps" | head -1)"
stop_agentd || fail "agentd exited $? on SIGTERM"
echo "PASS: certificates (probe run ${took} ms, status stayed responsive)"
