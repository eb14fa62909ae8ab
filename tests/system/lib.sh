# Helpers for the boot test (tests/system/run.sh): the cached Debian root,
# the container booted from a throw-away overlay of it, commands run inside
# it with nsenter, bounded waits. Sourced, not run.
set -u

SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CACHE=${AGENTD_SYSTEST_CACHE:-/var/cache/agentd-system-test}
# agentd's run-time libraries are in the cached root so that installing the
# .deb needs no network; anything else the package wants comes from apt.
INCLUDE=systemd,systemd-sysv,dbus,ca-certificates,procps,libjansson4,libinih1,libcurl4,zlib1g
W="" CGDIRS=""
NSPAWN_PID="" CPID="" PORTAL_PID="" MOUNTED=""

say() {
	printf '%s %s\n' "$(date +%T)" "$*"
}

fail() {
	echo "FAIL: $*"
	if [ -n "$CPID" ] && kill -0 "$CPID" 2>/dev/null; then
		echo "--- agentd's journal in the container (last 30 lines):"
		ct journalctl -u agentd -n 30 --no-pager -o short-monotonic 2>&1
		echo "--- failed units:"
		ct systemctl --failed --no-pager 2>&1
	fi
	if [ -n "$W" ] && [ -s "$W/portal.log" ]; then
		echo "--- last lines of the portal's log:"
		tail -n 15 "$W/portal.log"
	fi
	exit 1
}

# The sandbox cannot do this at all: say exactly why and stop with success,
# so that `make check-system` on such a machine reports and does not fail.
skip() {
	echo "SKIP: the system test cannot run in this sandbox: $*"
	exit 0
}

# wait_until SECONDS COMMAND...: polls every 0.2 s.
wait_until() {
	limit=$(( $1 * 5 ))
	shift
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -ge $limit ] && return 1
		sleep 0.2
	done
	return 0
}

expect_eq() {	# WHAT GOT WANT
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

expect_match() {	# WHAT TEXT REGEX
	printf '%s\n' "$2" | grep -Eq -- "$3" ||
	    fail "$1: '$2' does not match /$3/"
}

# ct COMMAND...: runs it in every namespace of the container with a clean
# environment, bounded to 120 s (a hung systemctl must not hang the test).
ct() {
	timeout -k 5 120 nsenter -t "$CPID" -a \
	    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
	    SYSTEMD_PAGER= DEBIAN_FRONTEND=noninteractive "$@"
}

# prop UNIT PROPERTY: one property's value.
prop() {
	ct systemctl show -p "$2" --value "$1"
}

has_cap() {	# BIT: whether this process has that capability effective
	eff=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status)
	[ $(( (0x$eff >> $1) & 1 )) -eq 1 ]
}

# Positive checks for what systemd-nspawn needs from the kernel and the
# sandbox; each failure names the missing piece and skips.
probe_sandbox() {
	[ "$(id -u)" -eq 0 ] || fail "must run as root (systemd-nspawn, mount)"
	has_cap 21 || skip "no CAP_SYS_ADMIN (CapEff $(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status)): no mounts or namespaces for a container"
	err=$(unshare --mount --pid --uts --ipc --fork true 2>&1) ||
	    skip "cannot create mount/PID/UTS/IPC namespaces: $err"
	# systemd in the container needs a cgroup hierarchy it may write:
	# cgroup2 at /sys/fs/cgroup, or the v1 name=systemd one and (hybrid)
	# cgroup2 at unified/. nspawn puts the container in a child of its own
	# cgroup: each run gets its own, so runs do not share one.
	fstype=$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)
	v2=$(sed -n 's/^0:://p' /proc/self/cgroup)
	v1=$(sed -n 's/^[0-9]*:name=systemd://p' /proc/self/cgroup)
	if [ "$fstype" = cgroup2fs ]; then
		dirs=/sys/fs/cgroup${v2%/}
	elif [ -d /sys/fs/cgroup/systemd ] && [ -n "$v1" ]; then
		dirs=/sys/fs/cgroup/systemd${v1%/}
		[ -d /sys/fs/cgroup/unified ] && dirs="$dirs /sys/fs/cgroup/unified${v2%/}"
	else
		skip "no cgroup2 at /sys/fs/cgroup and no name=systemd hierarchy (found '$fstype')"
	fi
	for d in $dirs; do
		err=$(mkdir "$d/agentd-systest.$$" 2>&1) ||
		    skip "the cgroup hierarchy $d is not writable: $err"
		CGDIRS="$CGDIRS $d/agentd-systest.$$"
	done
}

# Host tools: only those missing are installed.
host_deps() {
	missing=""
	for p in debootstrap systemd-container openssl curl python3 util-linux; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	say "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get update -qq >"$W/apt.log" 2>&1 ||
	    ! apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
	    --no-install-recommends $missing >>"$W/apt.log" 2>&1; then
		cat "$W/apt.log"
		fail "cannot install$missing"
	fi
}

# The cached root: debootstrapped once, never written by a run. It is made
# again when the package list changes (the stamp records it).
cached_root() {
	ROOT_CACHE=$CACHE/$SUITE
	stamp="$SUITE $INCLUDE"
	if [ -f "$ROOT_CACHE/.agentd-systest" ] &&
	    [ "$(cat "$ROOT_CACHE/.agentd-systest")" = "$stamp" ]; then
		return 0
	fi
	say "debootstrap $SUITE into $ROOT_CACHE (once; cached for later runs)"
	mkdir -p "$CACHE"
	rm -rf "$ROOT_CACHE.tmp" "$ROOT_CACHE"
	t0=$(date +%s)
	timeout 1200 debootstrap --variant=minbase --include="$INCLUDE" \
	    "$SUITE" "$ROOT_CACHE.tmp" "$MIRROR" >"$W/debootstrap.log" 2>&1 || {
		tail -n 20 "$W/debootstrap.log"
		rm -rf "$ROOT_CACHE.tmp"
		# The mirror out of reach is this machine's network, not a
		# defect of agentd: say so loudly, but do not fail on it.
		if grep -Eq "Failed getting release file|Couldn't download|Temporary failure resolving|Could not resolve|Connection (refused|timed out)" \
		    "$W/debootstrap.log"; then
			skip "the Debian mirror $MIRROR cannot be reached"
		fi
		fail "debootstrap $SUITE from $MIRROR failed"
	}
	# The container gets a machine id at each boot; an empty file makes
	# systemd use a transient one instead of running first-boot setup.
	: >"$ROOT_CACHE.tmp/etc/machine-id"
	printf '%s\n' "$stamp" >"$ROOT_CACHE.tmp/.agentd-systest"
	mv "$ROOT_CACHE.tmp" "$ROOT_CACHE"
	say "debootstrap took $(( $(date +%s) - t0 )) s"
}

# A writable root for this run: an overlay over the cache, else a copy.
make_root() {
	mkdir -p "$W/upper" "$W/work" "$W/root"
	if mount -t overlay overlay -o "lowerdir=$ROOT_CACHE,upperdir=$W/upper,workdir=$W/work" \
	    "$W/root" 2>"$W/mount.err"; then
		MOUNTED=$W/root
	else
		say "overlayfs unavailable ($(cat "$W/mount.err")); copying the root"
		cp -a "$ROOT_CACHE/." "$W/root/" || fail "cannot copy $ROOT_CACHE"
	fi
	ROOT=$W/root
}

# The container's init: the child of nspawn that is PID 1 in its own PID
# namespace (nspawn's short-lived outer child is not).
container_pid1() {
	for c in $(ps -o pid= --ppid "$NSPAWN_PID" 2>/dev/null); do
		nspid=$(sed -n 's/^NSpid:.*[[:space:]]//p' "/proc/$c/status" 2>/dev/null)
		if [ "$nspid" = 1 ]; then
			CPID=$c
			return 0
		fi
	done
	return 1
}

booted() {
	s=$(ct systemctl is-system-running 2>/dev/null)
	[ "$s" = running ] || [ "$s" = degraded ]
}

# Boots the root. The container shares the host's network: the portal runs
# on the host's loopback, and apt can fetch what the .deb depends on.
boot() {
	t0=$(date +%s)
	# The shell moves itself into this run's cgroup, then becomes nspawn.
	# shellcheck disable=SC2016
	sh -c 'for d in $0; do echo $$ >"$d/cgroup.procs" || exit 97; done; exec "$@"' \
	    "$CGDIRS" systemd-nspawn -q -D "$ROOT" -b --register=no --keep-unit \
	    -M "agentd-systest-$$" --resolv-conf=copy-host --console=pipe \
	    --bind-ro="$W/share:/srv/systest" \
	    </dev/null >"$W/nspawn.log" 2>&1 &
	NSPAWN_PID=$!
	if ! wait_until 30 container_pid1; then
		sleep 1
		why=$(grep -Ei 'not permitted|permission denied|read-only file system|cgroup' "$W/nspawn.log" | head -n 3)
		if kill -0 "$NSPAWN_PID" 2>/dev/null; then
			cat "$W/nspawn.log"
			fail "systemd-nspawn started no container init within 30 s"
		fi
		wait "$NSPAWN_PID"
		rc=$?
		NSPAWN_PID=""
		[ -n "$why" ] && skip "systemd-nspawn exited $rc: $why"
		cat "$W/nspawn.log"
		fail "systemd-nspawn exited $rc before the container's init ran"
	fi
	# is-system-running answers only once systemd's bus is up.
	if ! wait_until 90 booted; then
		state=$(ct systemctl is-system-running 2>&1)
		if grep -Eqi 'cgroup.*(not permitted|read-only|denied)' "$W/nspawn.log"; then
			skip "systemd in the container cannot use cgroups: $(grep -Ei cgroup "$W/nspawn.log" | head -n 2)"
		fi
		cat "$W/nspawn.log"
		fail "the container's systemd did not finish booting within 90 s (state: $state)"
	fi
	say "container booted in $(( $(date +%s) - t0 )) s ($(ct systemctl is-system-running))"
}

# Halts the container (SIGTERM asks nspawn for a clean poweroff), bounded.
halt() {
	[ -n "$NSPAWN_PID" ] || return 0
	kill -TERM "$NSPAWN_PID" 2>/dev/null
	i=0
	while kill -0 "$NSPAWN_PID" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	if kill -0 "$NSPAWN_PID" 2>/dev/null; then
		# Killing the namespace's init kills everything in it.
		[ -n "$CPID" ] && kill -KILL "$CPID" 2>/dev/null
		kill -KILL "$NSPAWN_PID" 2>/dev/null
	fi
	wait "$NSPAWN_PID" 2>/dev/null
	NSPAWN_PID="" CPID=""
}

cleanup() {
	if [ -n "$PORTAL_PID" ]; then
		kill -TERM "$PORTAL_PID" 2>/dev/null
		wait "$PORTAL_PID" 2>/dev/null
	fi
	halt
	# The cgroups nspawn made below this run's (payload, supervisor, the
	# container's own) are empty once it exited.
	for d in $CGDIRS; do
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	[ -n "$MOUNTED" ] && umount "$MOUNTED"
	[ -n "$W" ] && [ -z "${KEEP:-}" ] && rm -rf "$W"
	[ -n "${KEEP:-}" ] && echo "kept $W"
}
