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

# Plugins that someone besides root could change are refused, each with
# file:line and the reason (OpenSSH's safe_path rule, up to /).
mkdir -p "$T/plugins/gw" "$T/plugins/ok"
chmod 0755 "$T/plugins" "$T/plugins/ok"
chmod 0775 "$T/plugins/gw"
for f in ok/good ok/open gw/inside ok/theirs; do
	printf '#!/bin/sh\necho OK\n' > "$T/plugins/$f"
	chmod 0755 "$T/plugins/$f"
done
chmod 0777 "$T/plugins/ok/open"
chown 65534 "$T/plugins/ok/theirs"
ln -s "$T/plugins/ok/open" "$T/plugins/ok/link"
write_config <<EOF2
[check.nonexistent]
command = /nonexistent
[check.passwd]
command = /etc/passwd
[check.open]
command = $T/plugins/ok/open
[check.groupdir]
command = $T/plugins/gw/inside
[check.theirs]
command = $T/plugins/ok/theirs
[check.link]
command = $T/plugins/ok/link
[check.dir]
command = $T/plugins/ok
[check.good]
command = $T/plugins/ok/good -w 1
capabilities = dac_read_search
[check.caps]
command = $T/plugins/ok/good
capabilities = everything
EOF2
out=$("$AGENTD" --config "$T/agentd.conf" --check-config 2>&1); rc=$?
expect_eq "unsafe plugins exit code" $rc 1
expect_match "nonexistent plugin" "$out" "^$T/agentd.conf:6: command: refusing to run /nonexistent: /nonexistent: No such file or directory$"
expect_match "/etc/passwd" "$out" "^$T/agentd.conf:8: command: refusing to run /etc/passwd: /etc/passwd is not executable$"
expect_match "0777 plugin" "$out" "^$T/agentd.conf:10: command: refusing to run $T/plugins/ok/open: $T/plugins/ok/open is writable by group or others$"
expect_match "group-writable dir" "$out" "^$T/agentd.conf:12: command: refusing to run $T/plugins/gw/inside: directory $T/plugins/gw is writable by group or others$"
expect_match "foreign owner" "$out" "^$T/agentd.conf:14: command: refusing to run $T/plugins/ok/theirs: $T/plugins/ok/theirs is owned by uid 65534, not by root or agentd$"
expect_match "symlink target" "$out" "^$T/agentd.conf:16: command: refusing to run $T/plugins/ok/link: $T/plugins/ok/open is writable by group or others$"
expect_match "directory" "$out" "^$T/agentd.conf:18: command: refusing to run $T/plugins/ok: $T/plugins/ok is not a regular file$"
expect_match "capabilities value" "$out" "^$T/agentd.conf:24: capabilities: 'everything' is not 'none' or 'dac_read_search'$"
printf '%s\n' "$out" | grep -q "good" && fail "a safe plugin was refused: $out"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 8 ] || fail "want 8 errors: $out"

out=$("$AGENTD" --config /nonexistent.conf --check-config 2>&1)
expect_eq "missing config" "$out" "/nonexistent.conf: cannot open: No such file or directory"

# Backup jobs: every bad key with file:line, the schemes named.
write_config <<EOF2
[backup.www]
paths = /etc "/srv/my data"
target = ftp://u@h/p
compression = 0
pre_hook = dump-db
[backup.nopaths]
target = file:///srv/b
[backup.s]
paths = /etc
target = sftp://u@h:2222/srv/b
encryption = no
bandwidth_limit = 10X
sftp_host_key = ssh-dss AAAAB3NzaC1kc3MAAACBAP
sftp_timeout = 0
hook_timeout = 5x
EOF2
out=$("$AGENTD" --config "$T/agentd.conf" --check-config 2>&1); rc=$?
expect_eq "backup check-config exit" $rc 1
expect_match "backup target" "$out" "^$T/agentd.conf:7: target: 'ftp://u@h/p' is not supported: only file:///ABSOLUTE/PATH and sftp://USER@HOST\\[:PORT\\]/PATH targets are$"
expect_match "bandwidth_limit" "$out" "^$T/agentd.conf:16: bandwidth_limit: '10X' is not a rate in bytes per second"
expect_match "sftp_host_key" "$out" "^$T/agentd.conf:17: sftp_host_key: not an ssh public key line"
expect_match "sftp_timeout" "$out" "^$T/agentd.conf:18: sftp_timeout: '0' is not a duration from 1s to 1h$"
expect_match "hook_timeout" "$out" "^$T/agentd.conf:19: hook_timeout: '5x' is not a duration from 1s to 1d \\(e.g. 10m\\)$"
expect_match "sftp host key missing" "$out" "^$T/agentd.conf:12: \\[backup.s\\]: an sftp target needs sftp_host_key$"
expect_match "sftp key file missing" "$out" "^$T/agentd.conf:12: \\[backup.s\\]: an sftp target needs sftp_key_file$"
expect_match "sftp without encryption" "$out" "^$T/agentd.conf:12: \\[backup.s\\]: an sftp target needs encryption = yes$"
expect_match "backup compression" "$out" "^$T/agentd.conf:8: compression: '0' is not a zstd level from 1 to 19$"
expect_match "backup hook" "$out" "^$T/agentd.conf:9: pre_hook: 'dump-db' is not an absolute path"
expect_match "backup missing" "$out" "^$T/agentd.conf:5: \\[backup.www\\]: missing 'target'$"
expect_match "backup missing paths" "$out" "^$T/agentd.conf:10: \\[backup.nopaths\\]: missing 'paths'$"
write_config <<EOF2
[backup.www]
paths = /etc
target = file:///srv/backup
schedule = 0 2 * * *
[backup.remote]
paths = /etc
target = sftp://backup@192.0.2.7:2222/srv/backups/web1
sftp_host_key = ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBWkT8Zb1bH8q7Ydxk2z5cOvxg7dXo3zKqJ6y0Cz4bR2 root@nas
sftp_key_file = /etc/agentd/backup_ed25519
bandwidth_limit = 10M
sftp_timeout = 1m
EOF2
out=$("$AGENTD" --config "$T/agentd.conf" --check-config 2>&1) ||
    fail "a good backup job is refused: $out"
# full_every and keep_*: file:line for each bad value.
write_config <<EOF2
[backup.k]
paths = /etc
target = file:///srv/backup
full_every = 2w
keep_daily = many
keep_last = 3
EOF2
out=$("$AGENTD" --config "$T/agentd.conf" --check-config 2>&1); rc=$?
expect_eq "backup keep_* check-config exit" $rc 1
expect_match "backup full_every" "$out" "^$T/agentd.conf:8: full_every: '2w' is not a duration from 0 to 366d"
expect_match "backup keep_daily" "$out" "^$T/agentd.conf:9: keep_daily: 'many' is not a number from 0 to 100000$"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] || fail "want 2 errors: $out"

# [support] (issue 10): each refusal where it stands.
cat > "$T/agentd.conf" <<EOF2
[support]
policy = sometimes
bastion = bastion.example.net
max_ttl = 8h
EOF2
out=$("$AGENTD" --config "$T/agentd.conf" --check-config 2>&1); rc=$?
expect_eq "support check-config exit" $rc 1
expect_match "support policy" "$out" "^$T/agentd.conf:2: policy: 'sometimes' is not deny, ask or allow$"
expect_match "support bastion" "$out" "^$T/agentd.conf:3: bastion: 'bastion.example.net' is not HOST:PORT$"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] || fail "want 2 errors: $out"

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
