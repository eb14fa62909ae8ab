#!/bin/bash
# agentd-check-smart against a fake smartctl that prints the fixtures in
# tests/fixtures/smart/: the live mode (its command lines, a failing disk,
# a healthy set, no smartctl, garbage), the --collect / --dir pair a root
# timer uses (stale files, devices gone), and the plugin run by agentd's
# external-check path, including a hung smartctl ended by the check's
# timeout.
. tests/integration/lib.sh

CHECK=$BUILD/agentd-check-smart
FIX=$TOP/tests/fixtures/smart
[ -x "$CHECK" ] || fail "$CHECK not built"
mkdir -p "$T/bin" "$T/smart"

# The fake: --scan prints scan.json; -H -A -j [-d TYPE] DEV prints
# $T/answers/DEVNAME.json. Every command line goes to $T/argv.log.
mkdir -p "$T/answers"
cp "$FIX/sda-passed.json" "$T/answers/sda.json"
cp "$FIX/sdb-failed.json" "$T/answers/sdb.json"
cp "$FIX/nvme0-passed.json" "$T/answers/nvme0.json"
cp "$FIX/scan.json" "$T/answers/scan"
cat > "$T/bin/smartctl" <<SH
#!/bin/sh
echo "\$*" >> $T/argv.log
[ -f $T/answers/sleep ] && exec /bin/sleep 27.1828
if [ "\$1" = --scan ]; then
	cat $T/answers/scan
	exit 0
fi
for last; do :; done
cat "$T/answers/\${last#/dev/}.json"
SH
chmod 0755 "$T/bin/smartctl"

# Runs the check; sets out and rc.
run() {
	out=$("$CHECK" "$@" 2>&1)
	rc=$?
}

run --smartctl "$T/bin/smartctl"
expect_eq "failing disk: exit code" $rc 2
expect_match "failing disk: summary" "$(printf '%s\n' "$out" | head -n1)" \
    '^SMART CRITICAL - sdb CRITICAL: SMART health FAILED, 16 pending sectors, 16 offline uncorrectable sectors \(1 of 3 devices\) \| sda_temperature=34 '
expect_match "failing disk: perfdata" "$out" ' sdb_reallocated=3972;;;0 '
expect_match "failing disk: long text" "$out" '^nvme0: OK$'
expect_eq "smartctl command lines" "$(cat "$T/argv.log")" "--scan -j
-H -A -j -d sat /dev/sda
-H -A -j -d sat /dev/sdb
-H -A -j -d nvme /dev/nvme0"

cp "$FIX/sda-passed.json" "$T/answers/sdb.json"
run --smartctl "$T/bin/smartctl"
expect_eq "healthy: exit code" $rc 0
expect_match "healthy: summary" "$out" '^SMART OK - 3 devices healthy \| '

run --smartctl "$T/nonexistent/smartctl"
expect_eq "no smartctl: exit code" $rc 3
expect_eq "no smartctl: output" "$out" \
    "SMART UNKNOWN - smartctl not installed (smartmontools)"

printf 'Segmentation fault\n' > "$T/answers/scan"
run --smartctl "$T/bin/smartctl"
expect_eq "garbage scan: exit code" $rc 3
expect_match "garbage scan: output" "$out" \
    "^SMART UNKNOWN - $T/bin/smartctl --scan: smartctl output is not JSON: "
cp "$FIX/scan.json" "$T/answers/scan"

# What the root timer does, then what agentd's check reads.
cp "$FIX/sdb-failed.json" "$T/answers/sdb.json"
touch "$T/smart/gone.json" "$T/smart/x y.json"
"$CHECK" --collect "$T/smart" --smartctl "$T/bin/smartctl" ||
    fail "--collect exited $?"
expect_eq "collected files" "$(cd "$T/smart" && ls)" "nvme0.json
sda.json
sdb.json
x y.json"
cmp -s "$T/smart/sdb.json" "$FIX/sdb-failed.json" ||
    fail "--collect did not save smartctl's output as it was"
run --dir "$T/smart"
expect_eq "--dir: exit code" $rc 2
expect_match "--dir: summary" "$out" '^SMART CRITICAL - sdb CRITICAL: SMART health FAILED'
touch -d '3 hours ago' "$T/smart/sda.json"
run --dir "$T/smart" --max-age 2h
expect_match "--dir stale: summary" "$out" \
    '^SMART CRITICAL - sdb CRITICAL: .*, sda UNKNOWN: saved 180 min ago, more than --max-age'
run --dir "$T/nosuch"
expect_eq "--dir missing: exit code" $rc 3
expect_match "--dir missing: output" "$out" \
    "^SMART UNKNOWN - $T/nosuch: No such file or directory \(is agentd-smart.timer enabled\?\)$"

# Through agentd's external-check path: the same result, and a hung
# smartctl is the check timeout's to end, the whole group with it.
touch "$T/smart/sda.json"
write_config <<EOF
[check.smart]
command = $CHECK --dir $T/smart
interval = 10m
[check.smartlive]
command = $CHECK --smartctl $T/bin/smartctl
interval = 10m
timeout = 2s
EOF
start_agentd
out=$(ctl check run smart); rc=$?
expect_eq "agentd: exit code" $rc 2
expect_match "agentd: summary" "$(printf '%s\n' "$out" | head -n1)" \
    '^smart: CRITICAL: SMART CRITICAL - sdb CRITICAL: SMART health FAILED, 16 pending sectors, 16 offline uncorrectable sectors \(1 of 3 devices\)$'
touch "$T/answers/sleep"
start=$(date +%s)
out=$(ctl check run smartlive); rc=$?
took=$(( $(date +%s) - start ))
expect_eq "hung smartctl: exit code" $rc 3
expect_eq "hung smartctl: summary" "$out" "smartlive: UNKNOWN: timed out after 2s"
[ $took -le 6 ] || fail "a 2 s timeout took $took s"
wait_until 5 sh -c '! pgrep -f "sleep 27[.]1828"' ||
    fail "the hung smartctl survives: $(pgrep -af 'sleep 27[.]1828')"
stop_agentd || fail "agentd exited $?"
echo "PASS: test_smart"
