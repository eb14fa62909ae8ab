#!/bin/bash
# The updates collector through the real agentd: a stand-in apt-get that
# prints a captured `apt-get -s dist-upgrade` (and says how it was called),
# a test root with /var/run/reboot-required, and a command whose directory
# is writable by others, which agentd must refuse to run.
. tests/integration/lib.sh

mkdir -p "$T/root/var/run" "$T/root/var/lib/apt/periodic" "$T/bin" "$T/open"
touch "$T/root/var/lib/apt/periodic/update-success-stamp"
printf 'linux-image-6.1.0-40-amd64\n' > "$T/root/var/run/reboot-required.pkgs"
: > "$T/root/var/run/reboot-required"
cat > "$T/bin/apt-get" <<SH
#!/bin/sh
echo "\$*" > "$T/apt-args"
cat "$TOP/tests/fixtures/updates/apt-debian12.txt"
SH
chmod 755 "$T/bin/apt-get"
cp "$T/bin/apt-get" "$T/open/apt-get"
chmod 777 "$T/open"

write_config <<EOF2
[collector.updates]
interval = 10m
apt_get = $T/bin/apt-get
root = $T/root
EOF2
start_agentd
out=$(ctl check run updates)
rc=$?
expect_eq "check run updates exit code (WARNING)" "$rc" 1
expect_match "summary" "$out" "^updates: WARNING: 76 security updates pending \(WARNING > 0\), 116 updates in all, reboot required"
expect_eq "apt-get's arguments" "$(cat "$T/apt-args")" \
    "-s -q -o Debug::NoLocking=true dist-upgrade"
stop_agentd || fail "agentd exited $? on SIGTERM"

write_config <<EOF2
[collector.updates]
interval = 10m
apt_get = $T/open/apt-get
root = $T/root
EOF2
rm -f "$T/apt-args"
start_agentd
out=$(ctl check run updates)
rc=$?
expect_eq "check run exit code (UNKNOWN)" "$rc" 3
expect_match "summary" "$out" "refusing to run .*writable by group or others"
[ -e "$T/apt-args" ] && fail "the command in a world-writable directory ran"
stop_agentd || fail "agentd exited $? on SIGTERM"
echo "PASS: updates"
