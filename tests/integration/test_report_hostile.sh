# agentd against a hostile agentd-reporter (tests/integration/portal/
# hostilereporter.py in its place): a command without a string id, a frame
# larger than allowed, a flood of frames, a frame that never completes, a
# batch never answered. agentd must not crash, must kill and restart the
# child for a bad frame or a batch unanswered past the request timeout,
# and must keep its loop answering the control socket meanwhile.
. tests/integration/lib.sh

mkdir -p "$T/bin"
cp "$AGENTD" "$T/bin/agentd"
cp tests/integration/portal/hostilereporter.py "$T/bin/agentd-reporter"
chmod 0755 "$T/bin/agentd-reporter"
AGENTD=$T/bin/agentd
write_identity "https://127.0.0.1:9" "/nonexistent/ca.pem" 1
write_config </dev/null

# ctl status must answer within a second, N times over.
responsive() {	# N
	for i in $(seq "$1"); do
		start=$(date +%s%N)
		ctl status >/dev/null || fail "agentctl status failed"
		ms=$(( ($(date +%s%N) - start) / 1000000 ))
		[ "$ms" -lt 1000 ] || fail "agentctl status took $ms ms"
		sleep 0.2
	done
}

for mode in nostringid huge; do
	echo "$mode" > "$T/bin/mode"
	: > "$T/bin/log"
	: > "$T/agentd.log"
	start_agentd
	case $mode in
	nostringid) want='agentd-reporter sent a bad frame \(command 0: Expected string, got integer\); killing and restarting it' ;;
	huge) want='agentd-reporter announced a frame of 0 or over 2097152 bytes; killing and restarting it' ;;
	esac
	wait_until 20 grep -Eq "$want" "$T/agentd.log" ||
	    fail "$mode: no /$want/ in the log"
	# Restarted (back-off 1 s, then 2 s).
	wait_until 10 sh -c "[ \$(grep -c '^start' '$T/bin/log') -ge 2 ]" ||
	    fail "$mode: the child was not restarted: $(cat "$T/bin/log")"
	kill -0 "$AGENTD_PID" || fail "$mode: agentd died"
	responsive 2
	stop_agentd || fail "$mode: agentd exited $? on SIGTERM"
done

for mode in flood slow; do
	echo "$mode" > "$T/bin/mode"
	: > "$T/bin/log"
	: > "$T/agentd.log"
	start_agentd
	wait_until 10 grep -q "^start $mode" "$T/bin/log" ||
	    fail "$mode: the fake reporter did not start"
	sleep 1
	responsive 10
	kill -0 "$AGENTD_PID" || fail "$mode: agentd died"
	stop_agentd || fail "$mode: agentd exited $? on SIGTERM"
done
# A batch never answered: restarted once the request timeout (1 s here)
# and DELIVER_FLIGHT_GRACE_SEC (10 s) have passed, not waited for.
echo silent > "$T/bin/mode"
: > "$T/bin/log"
: > "$T/agentd.log"
printf '[portal]\ntimeout = 1s\n' | write_config
start_agentd
wait_until 10 grep -q '^start silent' "$T/bin/log" ||
    fail "silent: the fake reporter did not start"
want='agentd-reporter did not answer batch [0-9]+\.\.[0-9]+ within 11 s; restarting it'
wait_until 25 grep -Eq "$want" "$T/agentd.log" ||
    fail "silent: no /$want/ in the log: $(tail -n 5 "$T/agentd.log")"
wait_until 10 sh -c "[ \$(grep -c '^start' '$T/bin/log') -ge 2 ]" ||
    fail "silent: the child was not restarted: $(cat "$T/bin/log")"
kill -0 "$AGENTD_PID" || fail "silent: agentd died"
responsive 2
stop_agentd || fail "silent: agentd exited $? on SIGTERM"
exit 0
