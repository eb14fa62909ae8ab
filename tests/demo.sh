#!/bin/sh
# `make demo`: a portal on loopback with a generated CA, and an agent
# enrolled to it that monitors this host with every built-in collector and
# the Debian monitoring plugins. As root with OpenSSH's sshd it adds a
# remote support session through a bastion on the loopback
# (tests/demo-support.sh). Everything lives in build/demo. Runs until
# Ctrl-C (or DEMO_SECONDS, for unattended runs).
set -eu
top=$(pwd)
demo=$top/build/demo
plugins=/usr/lib/nagios/plugins
port=${DEMO_PORT:-8443}
. tests/demo-support.sh
support=yes
pid="" portal=""
demo_stop() {
	trap - EXIT
	set +e
	kill $pid $portal 2>/dev/null
	[ -z "$pid$portal" ] || wait $pid $portal 2>/dev/null
	sup_cleanup
	echo
	echo "demo: stopped"
}
trap demo_stop EXIT
trap 'exit 130' INT TERM
# A killed demo's accounts go before its directory.
! sup_check || sup_leftovers
rm -rf "$demo"
mkdir -p "$demo/state" "$demo/certs" "$demo/backups" "$demo/restore"
sh tests/integration/portal/mkcerts.sh "$demo/certs"

set --
if ! sup_check; then
	support="" sup_skip="demo: remote support is skipped: it $sup_why."
elif ! sup_prepare; then
	sup_cleanup
	support="" sup_skip="demo: remote support is skipped: its accounts or keys could not be made."
else
	set -- --bastion "127.0.0.1:$sup_bport" --bastion-host-key \
	    "$(cut -d' ' -f1,2 "$sup/bastion/host.pub")" \
	    --bastion-user "$SUP_AGENTS" --forward-ports "$sup_fport-$sup_fport"
fi
"$top/build/agentd-portal" serve --listen "127.0.0.1:$port" \
    --db "$demo/portal.db" --tls-cert "$demo/certs/server.pem" \
    --tls-key "$demo/certs/server.key" --report-interval 10 --log-stderr \
    "$@" >"$demo/portal.log" 2>&1 &
portal=$!
sleep 1
kill -0 $portal 2>/dev/null || { cat "$demo/portal.log"; exit 1; }
if [ -n "$support" ] && ! sup_start "$port"; then
	sup_cleanup
	support="" sup_skip="demo: remote support is skipped: its sshds did not start (see $sup)."
fi

cat > "$demo/agentd.conf" <<EOF
# Written by make demo. The same keys work in /etc/agentd/agentd.conf.
[agent]
control_socket = $demo/control.sock
state_dir = $demo/state
control_group =

[check.check_load]
command = $plugins/check_load -w 8,6,4 -c 16,12,8
interval = 30s
[check.root_disk]
command = $plugins/check_disk -w 10% -c 5% -p /
[check.procs]
command = $plugins/check_procs -w 2000 -c 4000
[check.users]
command = $plugins/check_users -w 20 -c 50

# Proactive warnings: the demo portal's own certificate lives two days,
# so this warns now, as it would weeks ahead with the default thresholds.
[collector.certificates]
endpoints = 127.0.0.1:$port

# An encrypted backup of /etc into build/demo/backups (docs/backup.md).
[backup.etc]
paths = /etc
target = file://$demo/backups
EOF
[ -z "$support" ] || cat >> "$demo/agentd.conf" <<EOF

# Remote support (docs/remote-support.md); the bastion comes from the
# enrolment. A real host leaves policy at ask, its default: each request
# waits for agentctl support approve.
[support]
policy = allow
$sup_target_line
EOF

"$top/build/agentd-portal" token create --db "$demo/portal.db" --expires 1h \
    > "$demo/token"
"$top/build/agentd-portal" operator create demo --db "$demo/portal.db" \
    > "$demo/operator-token"
# The web app's login: an admin with a generated password (user create
# prints it once when stdin is not a terminal).
"$top/build/agentd-portal" user create demo --role admin \
    --db "$demo/portal.db" </dev/null > "$demo/demo-password"
chmod 600 "$demo/token" "$demo/operator-token" "$demo/demo-password"
"$top/build/agentctl" --config "$demo/agentd.conf" enroll \
    --portal "https://127.0.0.1:$port" --token-file "$demo/token" \
    --ca "$demo/certs/ca.pem"

"$top/build/agentd" --foreground --config "$demo/agentd.conf" \
    >"$demo/agentd.log" 2>&1 &
pid=$!

ctl="$top/build/agentctl --socket $demo/control.sock"
sleep 7		# the checks' first runs and the first heartbeat
i=0
while [ $i -lt 150 ]; do
	if out=$($ctl status 2>/dev/null) &&
	    ! printf '%s\n' "$out" | grep -q ' PENDING ' &&
	    printf '%s\n' "$out" | grep -q 'spool 0 pending, last delivery'; then
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
$ctl status
echo
echo "demo: a backup of /etc (agentctl backup run etc), then a restore:"
$ctl backup run etc || echo "demo: the backup did not succeed (see $demo/agentd.log)"
actl="$top/build/agentctl --config $demo/agentd.conf"
$actl backup list etc || true
$actl restore etc latest --to "$demo/restore" ||
    echo "demo: the restore did not succeed"
echo
echo "demo: the portal's view of the fleet (GET /api/v1/hosts):"
curl -s --cacert "$demo/certs/ca.pem" \
    -H "Authorization: Bearer $(cat "$demo/operator-token")" \
    "https://127.0.0.1:$port/api/v1/hosts" | python3 -m json.tool
if [ -n "$support" ]; then
	sup_session || echo "demo: the support session stopped half-way"
else
	echo
	echo "$sup_skip"
fi
cat <<EOF

demo: agentd $(cat VERSION) monitors this host (pid $pid) and reports to the
portal at https://127.0.0.1:$port (pid $portal) every 10 s.
  agent    $demo/agentd.conf, log $demo/agentd.log, state $demo/state
  portal   db $demo/portal.db, log $demo/portal.log, CA $demo/certs/ca.pem
  try      $ctl status
           $ctl check run root_disk
           curl --cacert $demo/certs/ca.pem -H "Authorization: Bearer \$(cat $demo/operator-token)" https://127.0.0.1:$port/api/v1/hosts
           curl ... https://127.0.0.1:$port/api/v1/alerts
           kill -STOP $portal; sleep 40; kill -CONT $portal   (an outage: watch the spool, then the catch-up)
  warnings $ctl check run forecast   (time to full of each filesystem and of memory,
           from samples kept in $demo/state/forecast; it needs an hour of them)
           $ctl check run certificates; $ctl check run updates
           $ctl maintenance start --for 30m --reason demo; $ctl maintenance status
           $ctl silence check_load --for 1h; $ctl maintenance stop
  backups  $demo/backups (encrypted; key in $demo/state/backup), restored into $demo/restore
           $ctl backup run etc; $actl backup list etc; $actl backup verify etc latest
           $actl backup kit etc --out $demo/etc.kit; $actl dr-restore --kit $demo/etc.kit --to DIR
EOF
[ -z "$support" ] || cat <<EOF
  support  $ctl support status; $ctl support open --ttl 10m
           grep 'support session' $demo/agentd.log  (journalctl -u agentd SUPPORT_SESSION=ses_... on a real host)
           bastion $sup/bastion (sshd.log), engineer $sup/engineer (ssh_config, known_hosts)
EOF
cat <<EOF

  web app  open https://127.0.0.1:$port/ and log in as demo / $(cat "$demo/demo-password") (CA: build/demo/certs/ca.pem)
Ctrl-C stops it.
EOF
if [ -n "${DEMO_SECONDS:-}" ]; then
	sleep "$DEMO_SECONDS"
else
	wait $pid
fi
