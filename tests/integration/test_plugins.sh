# Real monitoring-plugins through agentd: results equal a direct run, no
# shell, scrubbed environment, timeouts kill the whole process group.
. tests/integration/lib.sh

cat > "$T/envcheck" <<'SH'
#!/bin/sh
echo "ENV OK - $(env | sort | tr '\n' ' ')"
SH
cat > "$T/chatty" <<'SH'
#!/bin/sh
echo "CHATTY OK - first line|big=1;;;;"
head -c 1048576 /dev/zero | tr '\0' 'x'
exit 0
SH
cat > "$T/hang" <<'SH'
#!/bin/sh
# A plugin that forks a helper and both hang: the group must die.
/bin/sleep 31.4159 &
/bin/sleep 31.4159
SH
printf '#!/bin/sh\necho never run\n' > "$T/vanish"
chmod +x "$T/envcheck" "$T/chatty" "$T/hang" "$T/vanish"

write_config <<EOF2
[check.check_load]
command = $PLUGINS/check_load -w 50,40,30 -c 100,80,60
interval = 5s
timeout = 4s
[check.disk]
command = $PLUGINS/check_disk -w 5% -c 2% -p /
[check.procs]
command = $PLUGINS/check_procs -w 5000 -c 10000
[check.swap]
command = $PLUGINS/check_swap -n ok -w 20% -c 10%
[check.users]
command = $PLUGINS/check_users -w 50 -c 100
[check.quoted]
command = $PLUGINS/check_dummy 1 'text with spaces; and \$(id) > $T/shell-ran'
[check.env]
command = $T/envcheck
[check.chatty]
command = $T/chatty
[check.hang]
command = $T/hang
timeout = 2s
interval = 10m
[check.missing]
command = $T/vanish
interval = 10m
EOF2

SECRET_TOKEN=do-not-leak start_agentd
# Gone after the config was accepted: the run is refused with the reason.
rm "$T/vanish"
wait_until 20 all_checks_ran || fail "some checks never ran: $(ctl status)"

status=$(ctl status) || fail "agentctl status exited $?"
for c in cpu memory load filesystems diskio network uptime processes units \
    journal clock oom restarts forecast check_load disk procs swap users quoted \
    env chatty hang missing; do
	printf '%s\n' "$status" | grep -Eq "^$c +(OK|WARNING|CRITICAL|UNKNOWN) " ||
	    fail "status does not show check $c:
$status"
done
expect_match "status header" "$status" '^agentd [0-9.]+ \(pid [0-9]+\), up '

# The same bytes as running the plugin directly (users is stable).
direct=$($PLUGINS/check_users -w 50 -c 100 | cut -d'|' -f1 | sed 's/ *$//')
via=$(ctl check run users)
rc=$?
expect_eq "check run users exit code" "$rc" 0
expect_eq "check run users summary" "$(printf '%s\n' "$via" | head -n1)" \
    "users: OK: $direct"
printf '%s\n' "$via" | grep -q '^    users=0 warn 50 crit 100$' ||
    printf '%s\n' "$via" | grep -Eq '^    users=[0-9]+ warn 50 crit 100$' ||
    fail "users perfdata not shown: $via"

out=$(ctl check run check_load); rc=$?
[ $rc -le 2 ] || fail "check_load exit code $rc: $out"
expect_match "load" "$out" '^check_load: (OK|WARNING|CRITICAL): LOAD .* total load average'
expect_match "load perfdata" "$out" '^    load1=[0-9.]+ warn 50.000 crit 100.000$'

out=$(ctl check run swap); expect_eq "swap exit" $? 0

# No shell: the quoted argument arrives as one word, untouched.
out=$(ctl check run quoted); rc=$?
expect_eq "quoted exit code" $rc 1
expect_eq "quoted" "$out" "quoted: WARNING: WARNING: text with spaces; and \$(id) > $T/shell-ran"
[ -e "$T/shell-ran" ] && fail "a shell ran the quoted command"

out=$(ctl check run env)
case "$out" in *SECRET_TOKEN*) fail "environment not scrubbed: $out" ;; esac
expect_match "env PATH" "$out" 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
expect_match "env locale" "$out" 'LC_ALL=C'

out=$(ctl check run chatty); expect_eq "chatty exit" $? 0
expect_match "chatty summary" "$out" '^chatty: OK: CHATTY OK - first line$'
expect_match "chatty truncated" "$out" 'output truncated at 16384 bytes'

start=$(date +%s)
out=$(ctl check run hang); rc=$?
took=$(( $(date +%s) - start ))
expect_eq "hang exit code" $rc 3
expect_eq "hang summary" "$out" "hang: UNKNOWN: timed out after 2s"
[ $took -le 6 ] || fail "a 2 s timeout took $took s"
wait_until 5 sh -c '! pgrep -f "sleep 31[.]4159"' ||
    fail "the timed-out plugin's processes survive: $(pgrep -af 'sleep 31[.]4159')"

out=$(ctl check run missing); rc=$?
expect_eq "missing exit code" $rc 3
expect_eq "missing" "$out" \
    "missing: UNKNOWN: refusing to run $T/vanish: $T/vanish: No such file or directory"

out=$(ctl check run nosuch 2>&1); rc=$?
expect_eq "unknown check exit code" $rc 1
expect_eq "unknown check" "$out" "agentctl: no such check"

# The JSON view carries the parsed perfdata of a real plugin.
ctl checks --json > "$T/checks.json" || fail "checks --json exited $?"
python3 - "$T/checks.json" <<'PY' || fail "checks --json content"
import json, sys
checks = {c["name"]: c for c in json.load(open(sys.argv[1]))}
disk = checks["disk"]
p = disk["perfdata"][0]
assert p["label"] == "/", p
assert p["uom"] == "B", p
assert p["value"] > 0 and p["max"] > p["value"], p
assert disk["state"] in ("OK", "WARNING", "CRITICAL"), disk
load = {p["label"]: p for p in checks["check_load"]["perfdata"]}
assert set(load) == {"load1", "load5", "load15"}, load
assert load["load1"]["warn"] == "50.000", load
PY

grep -q 'check hang timed out after 2s; killed' "$T/agentd.log" ||
    fail "no timeout event in the log"
stop_agentd || fail "agentd exited $? on SIGTERM"
exit 0
