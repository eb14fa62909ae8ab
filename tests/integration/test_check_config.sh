# --check-config and start-up with a bad config: every problem as
# file:line: message, exit 1; a good config says OK.
. tests/integration/lib.sh

write_config <<EOF2
[check.a]
command = /bin/true
timeout = 10s
interval = 5s
[collector.memory]
available_warning = ten
[nonsense]
EOF2
out=$("$AGENTD" --config "$T/agentd.conf" --check-config 2>&1); rc=$?
expect_eq "check-config exit code" $rc 1
expect_match "check-config timeout" "$out" "^$T/agentd.conf:5: \[check.a\]: timeout \(10s\) must be shorter than interval \(5s\)$"
expect_match "check-config collector" "$out" "^$T/agentd.conf:10: \[collector.memory\] available_warning: 'ten' is not a range$"
expect_match "check-config section" "$out" "^$T/agentd.conf:11: unknown section \[nonsense\]$"
[ "$(printf '%s\n' "$out" | wc -l)" -ge 3 ] || fail "not every error shown: $out"

# Start-up refuses the same config, saying why.
out=$("$AGENTD" --foreground --config "$T/agentd.conf" 2>&1); rc=$?
expect_eq "start-up exit code" $rc 1
expect_match "start-up error" "$out" "agentd.conf:10: \[collector.memory\]"
[ -S "$T/control.sock" ] && fail "agentd listened despite a bad config"

write_config <<EOF2
[check.a]
command = /bin/true
EOF2
out=$("$AGENTD" --config "$T/agentd.conf" --check-config); rc=$?
expect_eq "good check-config exit" $rc 0
expect_match "good check-config" "$out" "^$T/agentd.conf: OK, [0-9]+ checks enabled$"

out=$("$AGENTD" --config /nonexistent.conf --check-config 2>&1)
expect_eq "missing config" "$out" "/nonexistent.conf: cannot open: No such file or directory"

# The shipped example is valid, and uncommenting every default changes
# nothing that the parser would refuse.
out=$("$AGENTD" --config docs/agentd.conf.example --check-config 2>&1) ||
    fail "the example config is refused: $out"
sed -n '/^# External checks/q; s/^#\([a-z_0-9]* = .*\)$/\1/p; /^\[/p' \
    docs/agentd.conf.example > "$T/uncommented.conf"
out=$("$AGENTD" --config "$T/uncommented.conf" --check-config 2>&1) ||
    fail "the example's defaults are refused: $out"

expect_match "version" "$("$AGENTD" --version)" '^agentd [0-9]+\.[0-9]+\.[0-9]+$'
"$AGENTD" --bogus >/dev/null 2>&1; expect_eq "bad option exit" $? 2
exit 0
