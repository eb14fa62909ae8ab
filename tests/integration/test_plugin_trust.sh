# What a plugin may do to the host through agentd: it runs with no
# capability unless its check asks for CAP_DAC_READ_SEARCH; a plugin made
# unsafe after the config was loaded is refused at the next run; and what
# it leaves running in its process group is killed when it exits.
. tests/integration/lib.sh

mkdir -p "$T/plugins"
chmod 0755 "$T/plugins"
cat > "$T/plugins/showcaps" <<'SH'
#!/bin/sh
awk '/^CapEff:/ { e = $2 } /^CapAmb:/ { a = $2 }
    END { printf "CAPS OK - CapEff %s CapAmb %s\n", e, a }' /proc/self/status
SH
cat > "$T/plugins/leftover" <<'SH'
#!/bin/sh
# Starts a helper and exits without waiting for it.
/bin/sleep 1037.25 &
echo "OK - started a helper"
SH
cat > "$T/plugins/loosened" <<'SH'
#!/bin/sh
echo "OK - fine for now"
SH
chmod 0755 "$T/plugins/showcaps" "$T/plugins/leftover" "$T/plugins/loosened"

# --- leftovers and the re-check at run time (agentd as root) ---
write_config <<EOF2
[check.leftover]
command = $T/plugins/leftover
interval = 10m
[check.loosened]
command = $T/plugins/loosened
interval = 10m
EOF2
start_agentd
wait_until 20 all_checks_ran || fail "some checks never ran: $(ctl status)"
out=$(ctl check run leftover); rc=$?
expect_eq "leftover exit code" $rc 0
expect_eq "leftover" "$out" "leftover: OK: OK - started a helper"
wait_until 5 sh -c '! pgrep -f "sleep 1037[.]25"' ||
    fail "the plugin's background process survives: $(pgrep -af 'sleep 1037[.]25')"

chmod 0777 "$T/plugins/loosened"
out=$(ctl check run loosened); rc=$?
expect_eq "loosened exit code" $rc 3
expect_eq "loosened" "$out" "loosened: UNKNOWN: refusing to run $T/plugins/loosened: $T/plugins/loosened is writable by group or others"
chmod 0755 "$T/plugins/loosened"
chmod 0777 "$T/plugins"
out=$(ctl check run loosened); rc=$?
expect_eq "loosened dir exit code" $rc 3
expect_eq "loosened dir" "$out" "loosened: UNKNOWN: refusing to run $T/plugins/loosened: directory $T/plugins is writable by group or others"
chmod 0755 "$T/plugins"
out=$(ctl check run loosened); expect_eq "loosened again exit code" $? 0
stop_agentd || fail "agentd exited $? on SIGTERM"

# --- capabilities: agentd as an unprivileged user holding
# CAP_DAC_READ_SEARCH as an ambient capability, as systemd starts it ---
asuser="setpriv --ambient-caps +dac_read_search --inh-caps +dac_read_search --reuid 65534 --regid 65534 --clear-groups"
if ! $asuser true 2>/dev/null; then
	echo "SKIP: capabilities part: cannot give a non-root agentd an ambient capability here (setpriv)"
	exit 0
fi
chown 65534 "$T"
write_config <<EOF2
[check.capsnone]
command = $T/plugins/showcaps
interval = 10m
[check.capskeep]
command = $T/plugins/showcaps
interval = 10m
capabilities = dac_read_search
EOF2
: > "$T/agentd.log"
$asuser "$AGENTD" --foreground --config "$T/agentd.conf" >>"$T/agentd.log" 2>&1 &
AGENTD_PID=$!
wait_until 10 test -S "$T/control.sock" || fail "agentd (uid 65534) did not start"
[ "$(awk '/^CapAmb:/ {print $2}' /proc/$AGENTD_PID/status)" = 0000000000000004 ] ||
    fail "agentd itself lacks the ambient capability: $(grep Cap /proc/$AGENTD_PID/status)"
out=$(ctl check run capsnone); rc=$?
expect_eq "capsnone exit code" $rc 0
expect_eq "capsnone" "$out" "capsnone: OK: CAPS OK - CapEff 0000000000000000 CapAmb 0000000000000000"
out=$(ctl check run capskeep); rc=$?
expect_eq "capskeep exit code" $rc 0
expect_eq "capskeep" "$out" "capskeep: OK: CAPS OK - CapEff 0000000000000004 CapAmb 0000000000000004"
stop_agentd || fail "agentd exited $? on SIGTERM"
exit 0
