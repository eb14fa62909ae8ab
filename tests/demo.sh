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

[check.load]
command = $plugins/check_load -w 8,6,4 -c 16,12,8
interval = 30s
[check.root_disk]
command = $plugins/check_disk -w 10% -c 5% -p /
[check.procs]
command = $plugins/check_procs -w 2000 -c 4000
[check.users]
command = $plugins/check_users -w 20 -c 50
