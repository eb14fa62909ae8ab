#!/bin/bash
# The systemd units, sysusers and tmpfiles entries in systemd/, checked
# offline on the tree `make install` produces: systemd-analyze verify must
# say nothing at all, and agentd.service's exposure must stay <= 2.0.
set -u

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze not found (Debian package systemd)"
	exit 0
fi

BUILD=${BUILD:-build}
T=$(mktemp -d /tmp/agentd-units.XXXXXX)
R=$T/root
trap 'rm -rf "$T"' EXIT
MAX_EXPOSURE=2.0

fail() {
	echo "FAIL: $*"
	exit 1
}

# Shows a file under a title, for the failure messages.
show() {
	echo "--- $1:"
	sed 's/^/    /' "$2"
}

units=""
for f in systemd/*.service systemd/*.path systemd/*.timer; do
	[ -e "$f" ] && units="$units $(basename "$f")"
done
[ -n "$units" ] || fail "no units in systemd/"

# The tree a package installs, plus what the units need from the OS:
# its unit files (the targets our dependencies name) and /bin/kill
# (ExecReload=). verify checks Exec paths inside --root.
if ! make -s --no-print-directory BUILD="$BUILD" DESTDIR="$R" PREFIX=/usr \
    SYSCONFDIR=/etc install >"$T/install.log" 2>&1; then
	show "make install" "$T/install.log"
	fail "make install DESTDIR=$R failed"
fi
for u in $units; do
	[ -f "$R/usr/lib/systemd/system/$u" ] ||
	    fail "make install did not put $u in /usr/lib/systemd/system"
done
for d in /usr/lib/systemd/system /lib/systemd/system; do
	[ -d "$d" ] || continue
	for f in "$d"/*; do
		# Unit files only: *.wants/ would pull the whole boot into
		# each verification.
		[ -d "$f" ] && continue
		[ -e "$R/usr/lib/systemd/system/$(basename "$f")" ] ||
		    cp -P "$f" "$R/usr/lib/systemd/system/"
	done
done
[ -x /bin/kill ] || fail "this host has no /bin/kill to put in the test root"
mkdir -p "$R/bin"
cp "$(readlink -f /bin/kill)" "$R/bin/kill"

# Documentation= is checked with man(1) against the pages we install.
man_opt=--man=yes
if ! command -v man >/dev/null 2>&1; then
	echo "note: man(1) not installed, Documentation= not checked"
	man_opt=--man=no
fi
# shellcheck disable=SC2086 # $units is a list of names
MANPATH=$R/usr/share/man systemd-analyze verify "$man_opt" --root="$R" \
    $units >"$T/verify.out" 2>"$T/verify.err"
rc=$?
if [ $rc -ne 0 ] || [ -s "$T/verify.err" ]; then
	show "systemd-analyze verify stderr" "$T/verify.err"
	fail "systemd-analyze verify$units: exit $rc, output on stderr"
fi

# sysusers and tmpfiles: parsed by the real tools (info messages are not
# problems, warnings are). tmpfiles needs the users sysusers made.
if ! SYSTEMD_LOG_LEVEL=warning systemd-sysusers --root="$R" \
    >"$T/sysusers.out" 2>"$T/sysusers.err" || [ -s "$T/sysusers.err" ]; then
	show "systemd-sysusers stderr" "$T/sysusers.err"
	fail "systemd-sysusers --root rejected systemd/agentd.sysusers"
fi
grep -q '^_agentd:' "$R/etc/passwd" || fail "sysusers made no _agentd user"
grep -q '^agentd-admin:' "$R/etc/group" || fail "sysusers made no agentd-admin group"
grep -q '^systemd-journal:.*\b_agentd\b' "$R/etc/group" ||
    fail "_agentd is not a member of systemd-journal: $(grep '^systemd-journal:' "$R/etc/group")"
if [ "$(id -u)" -eq 0 ]; then
	if ! SYSTEMD_LOG_LEVEL=warning systemd-tmpfiles --root="$R" --create \
	    >"$T/tmpfiles.out" 2>"$T/tmpfiles.err" || [ -s "$T/tmpfiles.err" ]; then
		show "systemd-tmpfiles stderr" "$T/tmpfiles.err"
		fail "systemd-tmpfiles --root --create failed"
	fi
	mode=$(stat -c %a "$R/var/lib/agentd" 2>/dev/null)
	[ "$mode" = 700 ] || fail "/var/lib/agentd from tmpfiles has mode '$mode', want 700"
else
	echo "note: not root, tmpfiles entry not applied"
fi

# The three places that name the identity must agree, or an enrolment
# never starts the agent.
svc=$R/usr/lib/systemd/system/agentd.service
cond=$(sed -n 's/^ConditionPathExists=//p' "$svc")
trig=$(sed -n 's/^PathExists=//p' "$R/usr/lib/systemd/system/agentd.path")
state=/var/lib/$(sed -n 's/^StateDirectory=//p' "$svc")
[ "$cond" = "$trig" ] ||
    fail "agentd.service waits for '$cond' but agentd.path watches '$trig'"
[ "$cond" = "$state/identity" ] ||
    fail "agentd.service waits for '$cond', not for the identity in $state"

# Exposure: the number systemd-analyze prints, compared here so that the
# failure says it; --threshold makes systemd-analyze agree.
exposure() {
	local unit=$1 out rc score
	out=$(systemd-analyze security --offline=true --root="$R" \
	    --threshold=20 --no-pager "$unit" 2>&1)
	rc=$?
	score=$(printf '%s\n' "$out" |
	    sed -n "s/.*exposure level for ${unit//./\\.}: \([0-9][0-9.]*\).*/\1/p")
	if [ -z "$score" ]; then
		printf '%s\n' "$out" | sed 's/^/    /'
		fail "no exposure score for $unit in systemd-analyze's output"
	fi
	echo "$unit: exposure $score (limit $MAX_EXPOSURE)"
	if awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s > m) }' ||
	    [ $rc -ne 0 ]; then
		echo "--- what counts against it:"
		printf '%s\n' "$out" | grep -v '^✓' | sed 's/^/    /'
		fail "$unit: exposure $score is above $MAX_EXPOSURE (exit $rc)"
	fi
}
exposure agentd.service
exposure agentd-portal.service
exit 0
