#!/bin/sh
# `make demo`: runs agentd on this host with every built-in collector and
# the Debian monitoring plugins, in build/demo, and shows where to look.
# Runs until Ctrl-C (or DEMO_SECONDS, for unattended runs).
set -eu
top=$(pwd)
demo=$top/build/demo
plugins=/usr/lib/nagios/plugins
mkdir -p "$demo/state"
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
EOF

"$top/build/agentd" --foreground --config "$demo/agentd.conf" \
    >"$demo/agentd.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; echo; echo "demo: agentd stopped"' EXIT INT TERM

ctl="$top/build/agentctl --socket $demo/control.sock"
i=0
while [ $i -lt 100 ]; do
	if out=$($ctl status 2>/dev/null) &&
	    ! printf '%s\n' "$out" | grep -q ' PENDING '; then
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
$ctl status
cat <<EOF

demo: agentd $(cat VERSION) is monitoring this host (pid $pid).
  config   $demo/agentd.conf
  log      $demo/agentd.log
  try      $ctl status
           $ctl checks
           $ctl check run root_disk
           kill -HUP $pid     (reload; a broken config is refused and logged)
The portal, backups and support sessions join this demo as they are built.
Ctrl-C stops the demo.
EOF
if [ -n "${DEMO_SECONDS:-}" ]; then
	sleep "$DEMO_SECONDS"
else
	wait $pid
fi
