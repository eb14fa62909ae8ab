# A real OpenSSH sshd on 127.0.0.1 as the support bastion, configured as
# docs/bastion.md says for agents (AllowTcpForwarding remote, GatewayPorts
# no, PermitTTY no), for the support tests to source after lib.sh. Needs
# root (a throwaway user) and sets:
#   U, H            the bastion user and its home
#   PORT            the bastion's port ($1 of bastion_setup)
#   SSHD_PID        the running sshd (start_sshd / stop_sshd)
#   $T/ssh/host     the bastion's host key (.pub: the pinned one)
# bastion_authorize_agent PUBFILE FPORT adds an agent key restricted to
# port-forwarding and permitlisten="127.0.0.1:FPORT"; bastion_authorize
# PUBFILE adds a plain key (an engineer's). bastion_cleanup stops sshd and
# removes the user; call it from the test's EXIT trap.
[ -x /usr/sbin/sshd ] || fail "no /usr/sbin/sshd (packaging/build-deps.sh installs openssh-server)"
[ "$(id -u)" -eq 0 ] || fail "needs root (a test user)"

U=$(printf 'sptun%s' "$$" | cut -c1-30)
H=/home/$U
SSHD_PID=""

# Every process below the sshd listener, by pid (the per-connection
# children hold the forward).
sshd_children() {
	for p in $(pgrep -P "$1"); do
		echo "$p"
		sshd_children "$p"
	done
}
stop_sshd() {
	[ -n "$SSHD_PID" ] || return 0
	kids=$(sshd_children "$SSHD_PID")
	kill -CONT $kids 2>/dev/null
	kill "$SSHD_PID" $kids 2>/dev/null
	wait "$SSHD_PID" 2>/dev/null
	SSHD_PID=""
}
start_sshd() {
	/usr/sbin/sshd -D -e -f "$T/ssh/sshd_config" 2>>"$T/sshd.log" &
	SSHD_PID=$!
	wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" ||
		fail "sshd did not listen: $(tail -5 "$T/sshd.log")"
}
bastion_cleanup() {
	stop_sshd
	userdel -r "$U" 2>/dev/null
}
bastion_authorize_agent() {
	printf 'restrict,port-forwarding,permitlisten="127.0.0.1:%s" %s\n' \
		"$2" "$(cut -d' ' -f1-2 "$1")" >> "$H/.ssh/authorized_keys"
}
bastion_authorize() {
	cat "$1" >> "$H/.ssh/authorized_keys"
}
# bastion_setup PORT: the user, the host key and sshd_config; not started.
bastion_setup() {
	PORT=$1
	useradd -m -s /bin/sh "$U" && usermod -p '*' "$U" || fail "useradd $U"
	mkdir -p /run/sshd "$T/ssh" "$H/.ssh"
	: > "$H/.ssh/authorized_keys"
	chown -R "$U" "$H/.ssh"
	ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/host" || fail "ssh-keygen host"
	cat > "$T/ssh/sshd_config" <<EOC
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/ssh/host
PidFile $T/ssh/sshd.pid
AuthorizedKeysFile $H/.ssh/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers $U
AllowTcpForwarding remote
GatewayPorts no
PermitTTY no
X11Forwarding no
EOC
}
