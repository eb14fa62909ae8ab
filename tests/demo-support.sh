# The remote support part of `make demo` (docs/remote-support.md,
# docs/bastion.md), sourced by tests/demo.sh: a second sshd on the loopback
# as the provider's bastion, set up as docs/bastion.md says (an agents'
# account whose keys come from `agentd-portal bastion-keys`, an engineer's
# account with a generated key), and a session opened, used by the
# engineer's stock ssh, and closed. Needs root (throwaway accounts) and
# OpenSSH's sshd; sup_check says why not. Everything lives in
# $demo/support; sup_cleanup stops the sshds and removes the accounts.
# sshd runs the bastion's key command, and reads the accounts'
# authorized_keys, only under directories that are root's and writable by
# no one else, and the accounts must reach them: when the tree is not
# such a place (a checkout in a home directory), the key command and the
# accounts' homes go to /run/agentd-demo instead ($sup_base).
sup=$demo/support
sup_base=$sup
SUP_AGENTS=agentd-demo-agents	# the bastion account agents log in as
SUP_ENG=agentd-demo-eve		# the engineer's bastion account
SUP_LOGIN=agentd-demo-login	# the account the engineer uses on this host
sup_sshds="" sup_users=""

# sup_check: 0 when the support part can run, else 1 with the reason in
# $sup_why.
sup_check() {
	if [ "$(id -u)" -ne 0 ]; then
		sup_why="needs root (throwaway accounts and sshds)"
	elif [ ! -x /usr/sbin/sshd ] || ! command -v ssh >/dev/null ||
	    ! command -v ssh-keyscan >/dev/null; then
		sup_why="no /usr/sbin/sshd or ssh (packaging/build-deps.sh installs openssh-server)"
	else
		return 0
	fi
	return 1
}

sup_children() {
	for p in $(pgrep -P "$1"); do
		echo "$p"
		sup_children "$p"
	done
}
sup_cleanup() {
	for p in $sup_sshds; do
		kill $(sup_children "$p") "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	sup_sshds=""
	for u in $sup_users; do
		userdel -r "$u" 2>/dev/null
	done
	sup_users=""
	[ "$sup_base" = "$sup" ] || rm -rf "$sup_base"
}
# sup_leftovers: the accounts of a demo that was killed (by their homes).
sup_leftovers() {
	for u in $SUP_AGENTS $SUP_ENG $SUP_LOGIN; do
		case $(getent passwd "$u" | cut -d: -f6) in
		*/build/demo/support/home/*|/run/agentd-demo/home/*)
			userdel -r "$u" 2>/dev/null || true ;;
		esac
	done
}
# sup_safe DIR: DIR and every directory above it are root's, writable by
# no one else and searchable by all.
sup_safe() {
	sup_d=$1
	while :; do
		set -- $(stat -c "%u %a" "$sup_d" 2>/dev/null)
		[ "${1:-}" = 0 ] && [ $((0$2 & 022)) = 0 ] && [ $((0$2 & 1)) = 1 ] ||
			return 1
		[ "$sup_d" = / ] && return 0
		sup_d=$(dirname "$sup_d")
	done
}
# sup_user NAME SHELL: a throwaway account with its home in
# $sup_base/home, unlocked without a password (sshd without PAM refuses a
# locked one).
sup_user() {
	if getent passwd "$1" >/dev/null; then
		echo "demo: an account $1 exists and is not the demo's"
		return 1
	fi
	useradd -d "$sup_base/home/$1" -m -s "$2" "$1" && usermod -p '*' "$1" ||
		return 1
	sup_users="$sup_users $1"
}
sup_sshd() {	# CONFIG LOG
	/usr/sbin/sshd -D -E "$2" -f "$1" &
	sup_sshds="$sup_sshds $!"
}
sup_listens() { bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
sup_wait() {	# TENTHS COMMAND...: until COMMAND succeeds
	n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# sup_prepare: ports, keys and accounts. The bastion itself starts (sup_start) once the portal's database
# exists.
sup_prepare() {
	set -- $(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
	sup_bport=$1 sup_fport=$2 sup_tport=$3
	mkdir -p "$sup/bastion" "$sup/engineer" /run/sshd
	chmod 0755 "$sup"
	sup_safe "$sup" || sup_base=/run/agentd-demo
	mkdir -p "$sup_base/home" "$sup_base/bastion/bin"
	chmod 0755 "$sup_base" "$sup_base/home" "$sup_base/bastion" \
	    "$sup_base/bastion/bin"
	ssh-keygen -q -t ed25519 -N '' -C bastion -f "$sup/bastion/host" &&
	    ssh-keygen -q -t ed25519 -N '' -C "$SUP_ENG" -f "$sup/engineer/id_ed25519" ||
		return 1
	sup_user "$SUP_AGENTS" /usr/sbin/nologin &&
	    sup_user "$SUP_ENG" /usr/sbin/nologin &&
	    sup_user "$SUP_LOGIN" /bin/sh || return 1
	for u in "$SUP_ENG" "$SUP_LOGIN"; do
		install -d -o "$u" -m 0700 "$sup_base/home/$u/.ssh"
		install -o "$u" -m 0600 "$sup/engineer/id_ed25519.pub" \
		    "$sup_base/home/$u/.ssh/authorized_keys"
	done
}

# sup_start PORTAL_PORT: the bastion credential, the key command where
# sshd accepts it, the bastion's sshd, and the session's target: this
# host's sshd on 127.0.0.1:22 or else a throwaway one (sup_target_line
# for agentd.conf).
sup_start() {
	b=$sup/bastion k=$sup_base/bastion
	"$top/build/agentd-portal" bastion-credential create demo-bastion \
	    --db "$demo/portal.db" > "$k/bastion.cred" || return 1
	chown nobody "$k/bastion.cred" && chmod 0600 "$k/bastion.cred"
	install -m 0755 "$top/build/agentd-portal" "$k/bin/agentd-portal"
	install -m 0644 "$demo/certs/ca.pem" "$k/portal-ca.pem"
	cat > "$b/sshd_config" <<EOF
# docs/bastion.md's configuration, with Match User for its Match Group.
Port $sup_bport
ListenAddress 127.0.0.1
HostKey $b/host
PidFile $b/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers $SUP_AGENTS $SUP_ENG
Match User $SUP_AGENTS
	AuthorizedKeysFile none
	AuthorizedKeysCommand $k/bin/agentd-portal bastion-keys --portal https://127.0.0.1:$1 --credential-file $k/bastion.cred --ca $k/portal-ca.pem --timeout 10 %k
	AuthorizedKeysCommandUser nobody
	AllowTcpForwarding remote
	PermitOpen none
	GatewayPorts no
	PermitTTY no
	X11Forwarding no
	AllowAgentForwarding no
	PermitUserRC no
	ForceCommand /usr/sbin/nologin
	ClientAliveInterval 15
	ClientAliveCountMax 3
Match User $SUP_ENG
	AllowTcpForwarding local
	PermitOpen 127.0.0.1:*
	PermitListen none
	GatewayPorts no
	PermitTTY no
	X11Forwarding no
	ForceCommand /usr/sbin/nologin
EOF
	/usr/sbin/sshd -t -f "$b/sshd_config" || return 1
	sup_sshd "$b/sshd_config" "$b/sshd.log"
	printf '[127.0.0.1]:%s %s\n' "$sup_bport" \
	    "$(cut -d' ' -f1,2 "$b/host.pub")" > "$sup/engineer/known_hosts"

	# This host's sshd if one answers on 127.0.0.1:22, else our own.
	if keys=$(ssh-keyscan -T 3 -p 22 127.0.0.1 2>/dev/null) &&
	    [ -n "$keys" ]; then
		sup_target=127.0.0.1:22
		sup_target_what="this host's sshd on 127.0.0.1:22"
		sup_target_line=""
	else
		t=$sup/target
		mkdir -p "$t"
		ssh-keygen -q -t ed25519 -N '' -C target -f "$t/host" || return 1
		cat > "$t/sshd_config" <<EOF
# A stand-in for this host's sshd (none listens on 127.0.0.1:22).
Port $sup_tport
ListenAddress 127.0.0.1
HostKey $t/host
PidFile $t/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers $SUP_LOGIN
EOF
		sup_sshd "$t/sshd_config" "$t/sshd.log"
		keys="127.0.0.1 $(cut -d' ' -f1,2 "$t/host.pub")"
		sup_target=127.0.0.1:$sup_tport
		sup_target_what="a stand-in sshd on $sup_target (none listens on 127.0.0.1:22)"
		sup_target_line="target = $sup_target"
	fi
	# The engineer pins the host's key as seen through the forward.
	printf '%s\n' "$keys" | while read -r _ type key; do
		printf '[127.0.0.1]:%s %s %s\n' "$sup_fport" "$type" "$key"
	done >> "$sup/engineer/known_hosts"
	cat > "$sup/engineer/ssh_config" <<EOF
Host *
	IdentityFile $sup/engineer/id_ed25519
	IdentitiesOnly yes
	BatchMode yes
	StrictHostKeyChecking yes
	UserKnownHostsFile $sup/engineer/known_hosts
	GlobalKnownHostsFile /dev/null
	ConnectTimeout 10
	LogLevel ERROR
EOF
	sup_wait 100 sup_listens "$sup_bport" || return 1
	sup_wait 100 sup_listens "${sup_target#*:}" || return 1
}

# sup_field ID KEY: from agentctl support status --json
sup_field() {
	$ctl support status --json | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["id"] == sys.argv[1]:
        print(s.get(sys.argv[2], "")); break' "$1" "$2"
}
sup_connected() { [ "$(sup_field "$1" connected)" = True ]; }
sup_idle() { [ "$(sup_field "$1" open_connections)" = 0 ]; }
sup_trail() {	# portal-side trail of session $1; 0 once it is closed
	curl -s --cacert "$demo/certs/ca.pem" \
	    -H "Authorization: Bearer $(cat "$demo/operator-token")" \
	    "https://127.0.0.1:$port/api/v1/hosts/$sup_host/sessions" |
	    python3 -c '
import json, sys, time
want = sys.argv[1]
s = [s for s in json.load(sys.stdin) if s["session"] == want]
if not s or s[0]["state"] != "closed":
    sys.exit(1)
s = s[0]
print("  %s: %s (%s), requested by %s: %s" % (want, s["state"],
      s["close_reason"], s["requested_by"], s["reason"]))
for e in s["events"]:
    d = {"requested": lambda: "by %s, ttl %ss" % (e["by"], e["ttl"]),
         "approved": lambda: "by " + e["by"],
         "opened": lambda: "bastion %s, port %s" % (e["bastion"], e["forward_port"]),
         "connection_closed": lambda: "%s bytes in, %s out" % (e["bytes_in"], e["bytes_out"]),
         "closed": lambda: "by %s" % e.get("by", "")}.get(e["event"], lambda: "")()
    print(("    %s %-17s %s" % (time.strftime("%H:%M:%S",
          time.localtime(e["at"])), e["event"], d)).rstrip())' "$1" > "$sup/trail"
}

# sup_session: open, status, the engineer's ssh, close, the portal's trail.
sup_session() {
	sup_host=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent_id"])' \
	    "$demo/state/identity")
	eng="ssh -F $sup/engineer/ssh_config -J $SUP_ENG@127.0.0.1:$sup_bport -p $sup_fport $SUP_LOGIN@127.0.0.1"
	echo
	fmt -w 76 <<EOF
demo: a remote support session. The provider's bastion is a second sshd
on 127.0.0.1:$sup_bport, set up as docs/bastion.md says. Through it the
engineer ($SUP_ENG) reaches $sup_target_what and logs in there as
$SUP_LOGIN, a throwaway account that takes the engineer's key (the
bastion grants a path, the host the login). Policy here is allow; a real
host defaults to ask (agentctl support approve).
EOF
	echo "\$ agentctl support open --ttl 10m --reason demo"
	out=$($ctl support open --ttl 10m --reason demo 2>&1) ||
		{ echo "$out"; echo "demo: the session did not open"; return 0; }
	echo "$out"
	sid=$(printf '%s\n' "$out" | sed -n 's/^session \(ses_[0-9a-f]*\) .*/\1/p')
	sup_wait 150 sup_connected "$sid" ||
		echo "demo: not connected to the bastion after 15 s (see $demo/agentd.log)"
	echo "\$ agentctl support status"
	$ctl support status
	echo "\$ $eng hostname"
	timeout 30 $eng hostname 2>&1 ||
		echo "demo: the engineer's ssh failed (logs: $sup/bastion/sshd.log, $demo/agentd.log)"
	sup_wait 50 sup_idle "$sid" || true
	echo "\$ agentctl support close"
	$ctl support close
	if sup_wait 200 sup_trail "$sid"; then
		echo "demo: the portal's record (GET /api/v1/hosts/$sup_host/sessions):"
		cat "$sup/trail"
	else
		echo "demo: the portal has not recorded the session's close yet"
	fi
}
