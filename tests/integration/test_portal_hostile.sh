#!/bin/sh
# agentd-portal under hostile clients (issue 7), on loopback: requests that
# are refused on their headers with JSON before any body is read, the
# per-address connection limit, and a real enrolled agent's reports still
# served while 4000 idle and 800 slow connections (from 127.10.x.y and
# 127.20.x.y) are held open; the slow ones are cut off at the request
# deadline although they never go idle; SIGTERM still stops the portal.
# Prints the portal's RSS under the load and the reports' latency.
. tests/integration/lib.sh

PORTAL=$BUILD/agentd-portal
HELP=$TOP/tests/integration/portal
PORTAL_PID="" LOAD_PID=""
IDLE=4000 SLOW=800 PER_IP=100 DEADLINE=10
[ -x "$PORTAL" ] || fail "$PORTAL not built"
command -v curl >/dev/null || fail "curl CLI missing (packaging/build-deps.sh)"
command -v openssl >/dev/null || fail "openssl CLI missing"

hostile_cleanup() {
	for p in $LOAD_PID $PORTAL_PID; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	cleanup
}
trap hostile_cleanup EXIT

pfail() {
	if [ -s "$T/portal.log" ]; then
		echo "--- last lines of the portal's log:"
		tail -n 20 "$T/portal.log"
	fi
	fail "$@"
}

# Both sides need a descriptor per connection: the soft limit up to the
# hard one (the portal would do the same for itself).
ulimit -Hn 65536 2>/dev/null
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 6000 ] ||
    fail "ulimit -n is $(ulimit -n) (hard $(ulimit -Hn)); this test needs 6000"

make_certs
CA=$T/certs/ca.pem CERT=$T/certs/server.pem KEY=$T/certs/server.key

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DB=$T/portal.db
TOKEN=$("$PORTAL" token create --db "$DB" --expires 1h --log-stderr) ||
    fail "token create failed"

# --- the option is checked
out=$("$PORTAL" serve --listen 127.0.0.1:1 --db "$DB" --tls-cert "$CERT" \
    --tls-key "$KEY" --connections-per-ip 0 2>&1)
expect_eq "--connections-per-ip 0 exit status" "$?" 2
expect_match "--connections-per-ip 0 message" "$out" "--connections-per-ip 0"

# --- the connection cap fits RLIMIT_NOFILE: soft raised to hard, cap lowered
limits_line() {	# SOFT HARD: the portal's start line under those limits
	(ulimit -Sn "$1" && ulimit -Hn "$2" && exec "$PORTAL" serve \
	    --listen "127.0.0.1:$PORT" --db "$DB" --tls-cert "$CERT" \
	    --tls-key "$KEY" --log-stderr) >"$T/limits.log" 2>&1 &
	lp=$!
	wait_until 10 grep -q 'connections,' "$T/limits.log"
	kill -TERM $lp 2>/dev/null
	wait $lp
	grep -E 'lowered|connections,' "$T/limits.log" | tr '\n' ' '
}
out=$(limits_line 300 "$(ulimit -Hn)")
expect_match "soft limit 300 raised to the hard one" "$out" 'at most 10000 connections'
out=$(limits_line 300 600)
expect_match "cap lowered to fit 600 descriptors" "$out" \
    '--max-connections 10000 lowered to 472 to fit RLIMIT_NOFILE 600.*at most 472 connections'

"$PORTAL" serve --listen "127.0.0.1:$PORT" --db "$DB" --tls-cert "$CERT" \
    --tls-key "$KEY" --log-stderr --connections-per-ip $PER_IP \
    --request-timeout $DEADLINE >>"$T/portal.log" 2>&1 &
PORTAL_PID=$!
URL=https://127.0.0.1:$PORT/api/v1
req() {
	m=$1 p=$2
	shift 2
	curl -sS --cacert "$CA" -X "$m" -w ' %{http_code}' "$@" "$URL$p"
}
wait_until 10 req GET /hosts || pfail "portal did not answer HTTPS within 10 s"
grep -q "at most 10000 connections, $PER_IP per address, $DEADLINE s per request" \
    "$T/portal.log" || pfail "start line does not give the connection limits"

# --- a real agent: enrolled, reporting (gzip) from 127.0.0.1
host='{"hostname": "legit.test", "machine_id": "1f8c5a1e9b7d4c3a8e2f6b1d0c9a7e5f", "os": "Debian", "cpus": 2}'
out=$(req POST /enroll -d "{\"token\": \"$TOKEN\", \"host\": $host}")
expect_match "enrol" "$out" ' 201$'
AGENT=$(printf '%s' "${out% *}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["agent_id"])')
CRED=$(printf '%s' "${out% *}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["credential"])')
SEQ=0
report() {	# prints "STATUS SECONDS"
	SEQ=$((SEQ + 1))
	printf '{"reports": [{"seq": %d, "kind": "heartbeat", "time": 1795430400, "payload": {"checks": [{"name": "disk", "state": "OK", "summary": "fine", "when": 1}]}}]}' \
	    "$SEQ" | gzip -c >"$T/r.gz"
	curl -sS --cacert "$CA" --interface 127.0.0.1 --max-time 10 \
	    -o /dev/null -w '%{http_code} %{time_total}' \
	    -H "Authorization: Bearer $CRED" -H 'Content-Encoding: gzip' \
	    -H 'Content-Type: application/json' --data-binary "@$T/r.gz" \
	    "$URL/agents/$AGENT/reports"
}
out=$(report)
expect_match "report before the load" "$out" '^200 '

# --- refused on the headers, JSON, without waiting for the body
python3 "$HELP/hostile.py" early "$CA" "$PORT" "$AGENT" "$CRED" >"$T/early.out" 2>&1 ||
    { cat "$T/early.out"; pfail "some requests were not refused early with JSON"; }
sed 's/^/  /' "$T/early.out"

# --- per-address limit
out=$(python3 "$HELP/hostile.py" perip "$PORT" $((PER_IP + 50)))
expect_eq "connections kept from one address" "$out" "open=$PER_IP"

# --- 4000 idle and 800 slow connections held open; the agent reports
python3 "$HELP/hostile.py" load "$PORT" $IDLE $SLOW $PER_IP "$T/ready" \
    $((DEADLINE + 15)) "$AGENT" "$CRED" >"$T/load.out" 2>&1 &
LOAD_PID=$!
wait_until 40 test -e "$T/ready" || { cat "$T/load.out"; pfail "load not ready in 40 s"; }
expect_eq "connections held" "$(cat "$T/ready" | cut -d' ' -f1-2)" "idle=$IDLE slow=$SLOW"
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$PORTAL_PID/status")
worst=0
for i in 1 2 3 4 5; do
	out=$(report)
	expect_match "report $i under load" "$out" '^200 '
	echo "  report $i under load: ${out#* } s"
	worst=$(python3 -c "print(max($worst, ${out#* }))")
done
python3 -c "import sys; sys.exit(0 if $worst < 2 else 1)" ||
    pfail "a report under load took $worst s (more than 2 s)"
rss2=$(awk '/^VmRSS/ {print $2}' "/proc/$PORTAL_PID/status")
echo "  portal RSS under load: $rss kB, after the reports $rss2 kB"
[ "$rss2" -lt 400000 ] || pfail "portal RSS $rss2 kB under load (more than 400 MB)"

# --- the slow ones never go idle, yet are cut off at the deadline
wait "$LOAD_PID"
LOAD_PID=""
cat "$T/load.out" | sed 's/^/  /'
line=$(grep '^slow_open=' "$T/load.out")
expect_match "every slow connection cut off" "$line" "^slow_open=$SLOW slow_closed=$SLOW "
max=${line##*max_life=}
python3 -c "import sys; sys.exit(0 if $max <= $DEADLINE + 4 else 1)" ||
    pfail "a slow connection lived $max s (deadline $DEADLINE s)"
out=$(report)
expect_match "report after the load" "$out" '^200 '

# --- SIGTERM still stops it promptly
t0=$(date +%s)
kill -TERM "$PORTAL_PID"
wait_until 10 sh -c "! kill -0 $PORTAL_PID" || pfail "portal still running 10 s after SIGTERM"
wait "$PORTAL_PID"
rc=$?
PORTAL_PID=""
expect_eq "exit status after SIGTERM" "$rc" 0
echo "  stopped $(( $(date +%s) - t0 )) s after SIGTERM"
echo "PASS: test_portal_hostile"
