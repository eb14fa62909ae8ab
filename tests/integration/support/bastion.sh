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
# bastion_setup_portal PORT URL CREDENTIAL CAFILE sets up instead exactly
# docs/bastion.md's configuration: U takes only the keys the portal lists
# (`agentd-portal bastion-keys` as AuthorizedKeysCommand), and E is an
# engineer's own account (key $T/ssh/eng) that may only jump to the
# bastion's loopback.
[ -x /usr/sbin/sshd ] || fail "no /usr/sbin/sshd (packaging/build-deps.sh installs openssh-server)"
[ "$(id -u)" -eq 0 ] || fail "needs root (a test user)"

U=$(printf 'sptun%s' "$$" | cut -c1-30)
H=/home/$U
SSHD_PID=""
E=""
BASTION_CMDDIR=""

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
	for u in "$U" ${E:+"$E"}; do
		id "$u" >/dev/null 2>&1 || continue
		# A command an engineer ran (sleep 60) outlives its connection:
		# sshd does not end it, and userdel refuses a user with
		# processes, so the test user stayed behind.
		pids=$(pgrep -u "$u")
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
		i=0
		until userdel -r "$u" 2>/dev/null || [ $i -ge 20 ]; do
			i=$((i + 1))
			sleep 0.1
		done
	done
	if [ -n "$BASTION_CMDDIR" ]; then rm -rf "$BASTION_CMDDIR"; fi
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
# bastion_setup_portal PORT URL CREDENTIAL CAFILE: docs/bastion.md's
# configuration, not started: bastion_portal_accounts PORT, then
# bastion_portal_config URL CREDENTIAL CAFILE (apart for a test that makes
# the credential after the accounts).
bastion_setup_portal() {
	bastion_portal_accounts "$1"
	bastion_portal_config "$2" "$3" "$4"
}
# bastion_portal_accounts PORT: the agents' account U, the engineer's E
# (key $T/ssh/eng), the host key; sets PORT and E.
bastion_portal_accounts() {
	PORT=$1
	E=$(printf 'speng%s' "$$" | cut -c1-30)
	useradd -m -s /usr/sbin/nologin "$U" && usermod -p '*' "$U" || fail "useradd $U"
	useradd -m -s /usr/sbin/nologin "$E" && usermod -p '*' "$E" || fail "useradd $E"
	mkdir -p /run/sshd "$T/ssh"
	ssh-keygen -q -t ed25519 -N '' -C '' -f "$T/ssh/host" || fail "ssh-keygen host"
	ssh-keygen -q -t ed25519 -N '' -C '' -f "$T/ssh/eng" || fail "ssh-keygen eng"
	install -d -o "$E" -m 0700 "/home/$E/.ssh"
	install -o "$E" -m 0600 "$T/ssh/eng.pub" "/home/$E/.ssh/authorized_keys"
}
# bastion_portal_config URL CREDENTIAL CAFILE: the key command is a copy
# of agentd-portal in a root-owned directory $BASTION_CMDDIR (sshd refuses
# it otherwise), run as nobody with the bastion credential in a 0600 file
# of nobody's; sets BK (the command line, for trying it by hand) and
# writes and checks sshd_config.
bastion_portal_config() {
	BASTION_CMDDIR=/run/agentd-bastion-test.$$
	mkdir -m 0755 "$BASTION_CMDDIR" || fail "mkdir $BASTION_CMDDIR"
	install -m 0755 "$BUILD/agentd-portal" "$BASTION_CMDDIR/agentd-portal"
	install -m 0644 "$3" "$BASTION_CMDDIR/ca.pem"
	printf '%s\n' "$2" > "$BASTION_CMDDIR/bastion.cred"
	chown nobody "$BASTION_CMDDIR/bastion.cred"
	chmod 0600 "$BASTION_CMDDIR/bastion.cred"
	BK="$BASTION_CMDDIR/agentd-portal bastion-keys --portal $1 --credential-file $BASTION_CMDDIR/bastion.cred --ca $BASTION_CMDDIR/ca.pem --timeout 5"
	# docs/bastion.md section 4, with Match User for its Match Group
	cat > "$T/ssh/sshd_config" <<EOC
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/ssh/host
PidFile $T/ssh/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers $U $E
Match User $U
	AuthorizedKeysFile none
	AuthorizedKeysCommand $BK %k
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
Match User $E
	AllowTcpForwarding local
	PermitOpen 127.0.0.1:*
	PermitListen none
	GatewayPorts no
	PermitTTY no
	X11Forwarding no
	ForceCommand /usr/sbin/nologin
EOC
	/usr/sbin/sshd -t -f "$T/ssh/sshd_config" ||
		fail "sshd -t refuses docs/bastion.md's configuration"
}
