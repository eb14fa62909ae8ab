# SIGTERM while checks run: agentd stops within 5 s and kills them.
. tests/integration/lib.sh

cat > "$T/stubborn" <<'SH'
#!/bin/sh
# Ignores SIGTERM like a badly written plugin: only SIGKILL ends it.
trap '' TERM
/bin/sleep 27.1828
SH
chmod +x "$T/stubborn"
write_config <<EOF2
[check.stubborn]
command = $T/stubborn
timeout = 50s
interval = 1m
EOF2
start_agentd
wait_until 10 pgrep -f "sleep 27[.]1828" || fail "the stubborn check never started"

start=$(date +%s%N)
stop_agentd; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "exit code on SIGTERM" $rc 0
[ $ms -lt 5000 ] || fail "stopping took $ms ms"
echo "stopped in $ms ms"
wait_until 3 sh -c '! pgrep -f "sleep 27[.]1828"' ||
    fail "check processes survive agentd: $(pgrep -af 'sleep 27[.]1828')"
grep -q 'killing them' "$T/agentd.log" || fail "no kill escalation logged"
exit 0
