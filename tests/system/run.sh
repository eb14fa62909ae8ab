#!/bin/sh
# The boot test (`make check-system`): a minimal Debian booted with
# systemd-nspawn runs the agentd .deb under its real unit, enrolled with an
# agentd-portal on the host, through reload, failure, upgrade and purge.
#
# Needs root. The debootstrapped root is cached in $AGENTD_SYSTEST_CACHE
# (default /var/cache/agentd-system-test) and never written: each run boots
# an overlay of it. KEEP=1 keeps the run's directory. Exits 0 with "SKIP:"
# only when the sandbox positively cannot boot a container (and says why).
set -u
cd "$(dirname "$0")/../.." || exit 1
TOP=$(pwd)
. tests/system/lib.sh

T_START=$(date +%s)
trap cleanup EXIT
trap 'exit 1' INT TERM
probe_sandbox
W=$(mktemp -d /tmp/agentd-systest.XXXXXX) || exit 1
chmod 755 "$W"
host_deps
mkdir -p "$W/share"

# --- the packages: this tree's, and a newer release (VERSION bumped, a
# changelog entry for it), each built by packaging/build-deb.sh (what
# `make deb` runs) in a copy of the tree, so that nothing is written here.
# AGENTD_SYSTEST_DEB1/DEB2 name ready-made .debs instead (CI builds once).
V1=$(cat VERSION)
V2=$(printf '%s\n' "$V1" | awk -F. -v OFS=. '$NF ~ /^[0-9]+$/ { $NF = $NF + 1; print; next } { print $0 ".1" }')
arch=$(dpkg --print-architecture)
t0=$(date +%s)
build_deb() {	# VERSION DIR: the .debs land in DIR/build/packages
	mkdir -p "$2"
	tar -C "$TOP" --exclude=./build --exclude=./.git -cf - . |
	    tar -C "$2" -xf - || fail "cannot copy the tree to $2"
	if [ "$1" != "$V1" ]; then
		printf '%s\n' "$1" >"$2/VERSION"
		{
			printf 'agentd (%s) unstable; urgency=medium\n\n' "$1"
			printf '  * System test: a newer release to upgrade to.\n\n'
			printf ' -- %s  %s\n\n' \
			    "$(dpkg-parsechangelog -l packaging/debian/changelog -S Maintainer)" \
			    "$(date -R)"
			cat packaging/debian/changelog
		} >"$2/packaging/debian/changelog"
	fi
	(cd "$2" && sh packaging/build-deb.sh) >"$2.log" 2>&1 ||
	    { tail -n 40 "$2.log"; fail "packaging/build-deb.sh for $1 failed"; }
}
if [ -n "${AGENTD_SYSTEST_DEB1:-}" ]; then
	DEB1=$AGENTD_SYSTEST_DEB1 DEB2=${AGENTD_SYSTEST_DEB2:?with AGENTD_SYSTEST_DEB1}
	V1=$(dpkg-deb -f "$DEB1" Version)
	V2=$(dpkg-deb -f "$DEB2" Version)
else
	[ -f packaging/build-deb.sh ] || fail "packaging/build-deb.sh is missing"
	say "building the agentd $V1 and $V2 .debs"
	build_deb "$V1" "$W/src1"
	build_deb "$V2" "$W/src2"
	DEB1=$W/src1/build/packages/agentd_${V1}_$arch.deb
	DEB2=$W/src2/build/packages/agentd_${V2}_$arch.deb
fi
# What agentd itself reports: the upstream part of the package version.
V2_UP=${V2#*:}
V2_UP=${V2_UP%-*}
for f in "$DEB1" "$DEB2"; do
	[ -f "$f" ] || fail "no package $f"
done
cp "$DEB1" "$W/share/agentd-v1.deb"
cp "$DEB2" "$W/share/agentd-v2.deb"
say "packages ready in $(( $(date +%s) - t0 )) s"

# The portal runs on the host, built from the same snapshot as the package.
src=$TOP
[ -d "$W/src1" ] && src=$W/src1
make -s -C "$src" BUILD="$W/host" -j2 "$W/host/agentd-portal" >"$W/host.log" 2>&1 ||
    { tail -n 20 "$W/host.log"; fail "cannot build agentd-portal"; }
PORTAL=$W/host/agentd-portal

# --- the container
cached_root
make_root
boot

# --- the portal on the host's loopback, with a test CA
t_tests=$(date +%s)
mkdir -p "$W/certs"
sh tests/integration/portal/mkcerts.sh "$W/certs" || fail "mkcerts.sh failed"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=https://127.0.0.1:$PORT
DB=$W/portal.db
OPERATOR=$("$PORTAL" operator create systest --db "$DB") || fail "operator create failed"
"$PORTAL" token create --db "$DB" --expires 1h >"$W/share/token" || fail "token create failed"
start_portal() {
	"$PORTAL" serve --listen "127.0.0.1:$PORT" --db "$DB" \
	    --tls-cert "$W/certs/server.pem" --tls-key "$W/certs/server.key" \
	    --report-interval 2 --log-stderr >>"$W/portal.log" 2>&1 &
	PORTAL_PID=$!
	wait_until 10 api /hosts || fail "agentd-portal did not answer on $URL"
}
api() {	# PATH: GET from the operator API
	curl -sf --max-time 10 --cacert "$W/certs/ca.pem" \
	    -H "Authorization: Bearer $OPERATOR" "$URL/api/v1$1"
}
start_portal

# --- install: the service must not start before enrolment
say "installing agentd $V1"
out=$(ct dpkg -i /srv/systest/agentd-v1.deb 2>&1) || {
	# Dependencies the cached root lacks come from the archive.
	ct apt-get update -qq >/dev/null 2>&1
	out=$(ct apt-get install -y -q -f 2>&1) ||
	    fail "cannot install the agentd .deb: $out"
}
ct id _agentd >/dev/null 2>&1 || fail "the package did not create the user _agentd"
ct test -x /usr/sbin/agentd || fail "no /usr/sbin/agentd after install"
state=$(prop agentd.service ActiveState)
expect_eq "agentd before enrolment" "$state" inactive
ct systemctl --quiet is-enabled agentd.service ||
    fail "agentd.service is not enabled by the package ($(ct systemctl is-enabled agentd.service 2>&1))"

# --- enrol, then start (the unit's condition is now met)
install -m 0644 "$W/certs/ca.pem" "$ROOT/etc/agentd/portal-ca.pem"
out=$(ct agentctl enroll --portal "$URL/" --token-file /srv/systest/token \
    --ca /etc/agentd/portal-ca.pem 2>&1) || fail "agentctl enroll: $out"
expect_match "enroll" "$out" "^enrolled as "
AGENT_ID=$(ct cat /var/lib/agentd/identity | python3 -c 'import json, sys; print(json.load(sys.stdin)["agent_id"])') ||
    fail "identity unreadable"
expect_eq "identity mode" "$(ct stat -c %a /var/lib/agentd/identity)" 600
# The package's agentd.path (when it ships one) starts the service as soon
# as the identity exists; without one, the operator starts it.
if [ "$(prop agentd.path LoadState)" = loaded ]; then
	expect_eq "agentd.path after install" "$(prop agentd.path ActiveState)" active
else
	ct systemctl start agentd.service || fail "systemctl start agentd failed"
fi

running() {
	[ "$(prop agentd.service ActiveState)/$(prop agentd.service SubState)" = active/running ]
}
wait_until 30 running || fail "agentd.service not active (running) 30 s after start"
say "agentd.service active (running)"

# --- the unit as systemd runs it: notify, watchdog, user, capability
expect_eq "Type" "$(prop agentd.service Type)" notify
wd=$(prop agentd.service WatchdogUSec)
case $wd in ''|0|infinity) fail "no watchdog: WatchdogUSec=$wd" ;; esac
# The timestamp moves only when the daemon sends WATCHDOG=1.
ts1=$(prop agentd.service WatchdogTimestampMonotonic)
watchdog_moved() {
	ts=$(prop agentd.service WatchdogTimestampMonotonic)
	[ -n "$ts" ] && [ "$ts" != 0 ] && [ "$ts" != "$ts1" ]
}
wait_until 90 watchdog_moved ||
    fail "no WATCHDOG=1 in 90 s (WatchdogUSec=$wd, timestamp stays at '$ts1')"
say "watchdog on ($wd), pinged: $(prop agentd.service WatchdogTimestamp)"
PID1=$(prop agentd.service MainPID)
expect_eq "agentd's user" "$(ct ps -o user= -p "$PID1" | tr -d ' ')" _agentd
amb=$(ct sed -n 's/^CapAmb:[[:space:]]*//p' "/proc/$PID1/status")
eff=$(ct sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$PID1/status")
expect_eq "ambient capabilities (CAP_DAC_READ_SEARCH only)" "$amb" 0000000000000004
expect_eq "effective capabilities" "$eff" 0000000000000004

# --- reports reach the portal
host_json() {
	api "/hosts/$AGENT_ID" >"$W/host.json"
	python3 -c 'import json, sys; h = json.load(open(sys.argv[1])); sys.exit(0 if h.get("last_seen") and h.get("checks") else 1)' "$W/host.json"
}
wait_until 60 host_json || fail "the portal has no checks from agent $AGENT_ID after 60 s: $(cat "$W/host.json")"
say "the portal has the host's checks"

# --- journald has the structured fields of check state changes
msgs=$(ct journalctl -o json --no-pager MESSAGE_ID=c3e1f27a9b4d4f0e8a6c2d1b7e5f9a34)
n=$(printf '%s\n' "$msgs" | python3 -c '
import json, sys
n = 0
for line in sys.stdin:
    if line.strip():
        e = json.loads(line)
        if e.get("CHECK") and e.get("STATE") and e.get("_SYSTEMD_UNIT") == "agentd.service":
            n += 1
print(n)')
[ "${n:-0}" -gt 0 ] || fail "no journal entry with MESSAGE_ID=c3e1f27a... and CHECK=, STATE= from agentd.service"
say "journal: $n check state entries with CHECK= and STATE="

# --- a bad config on reload: refused, the unit stays up, the old one runs
printf '[agent]\nno_such_key = 1\n' >"$ROOT/etc/agentd/conf.d/90-systest-bad.conf"
ct systemctl reload agentd.service
sleep 1
wait_until 10 running || fail "agentd.service not running after a reload with a bad config"
expect_eq "MainPID after a bad reload" "$(prop agentd.service MainPID)" "$PID1"
rejected() {
	ct journalctl --no-pager -o cat _SYSTEMD_UNIT=agentd.service \
	    MESSAGE_ID=2a3b4c5d6e7f48091a2b3c4d5e6f7a8b |
	    grep -q '90-systest-bad.conf:2: .*no_such_key'
}
wait_until 10 rejected ||
    fail "no config rejection (MESSAGE_ID=2a3b4c5d...) naming no_such_key in the journal"
rm -f "$ROOT/etc/agentd/conf.d/90-systest-bad.conf"
say "bad config rejected on reload; agentd stayed up (pid $PID1)"

# --- /etc/shadow through the sandbox: a check as _agentd, with the
# ambient capability. First prove _agentd cannot read it without.
out=$(ct setpriv --reuid=_agentd --regid=_agentd --clear-groups --inh-caps=-all \
    head -c1 /etc/shadow 2>&1 >/dev/null)
expect_match "_agentd reading /etc/shadow without the capability" "$out" "Permission denied"
# Checks get no capability unless they ask for it (capabilities =).
printf '[check.shadow]\ncommand = /usr/bin/head -c1 /etc/shadow\ninterval = 1h\ncapabilities = dac_read_search\n[check.noshadow]\ncommand = /usr/bin/head -c1 /etc/shadow\ninterval = 1h\n' \
    >"$ROOT/etc/agentd/conf.d/50-systest.conf"
ct systemctl reload agentd.service || fail "systemctl reload agentd failed"
has_shadow() {
	ct agentctl status | grep -q shadow
}
wait_until 15 has_shadow || fail "the check 'shadow' is not loaded after a reload"
out=$(ct agentctl check run shadow 2>&1)
rc=$?
[ $rc -eq 0 ] || fail "check shadow (head -c1 /etc/shadow as _agentd) exited $rc, want 0 (OK): $out"
say "check shadow OK: _agentd reads /etc/shadow with CAP_DAC_READ_SEARCH"
out=$(ct agentctl check run noshadow 2>&1)
rc=$?
[ $rc -ne 0 ] || fail "check noshadow (no capabilities =) read /etc/shadow: $out"
expect_match "check noshadow" "$out" "Permission denied"
say "check noshadow refused: a check without capabilities = gets none"

# --- the failed-units collector sees a unit that failed
printf '[Unit]\nDescription=agentd system test: fails on purpose\n[Service]\nType=oneshot\nExecStart=/bin/false\n' \
    >"$ROOT/etc/systemd/system/systest-broken.service"
ct systemctl daemon-reload
ct systemctl start systest-broken.service >/dev/null 2>&1
expect_eq "systest-broken.service" "$(prop systest-broken.service ActiveState)" failed
out=$(ct agentctl check run units 2>&1)
rc=$?
[ $rc -eq 1 ] || fail "check units exited $rc, want 1 (WARNING): $out"
expect_match "check units" "$out" "systest-broken\\.service"
say "check units: WARNING naming systest-broken.service"
ct systemctl reset-failed systest-broken.service

# --- upgrade with the portal down: config, identity and spool kept,
# the service restarted, the new version running; once the portal is back
# the spooled reports reach it.
printf '# systest: kept across upgrades\n' >>"$ROOT/etc/agentd/agentd.conf"
kill -TERM "$PORTAL_PID"
wait "$PORTAL_PID" 2>/dev/null
PORTAL_PID=""
pending() {	# the agent's count of reports waiting in its spool
	ct agentctl status | sed -n 's/^portal: .*, spool \([0-9]*\) pending,.*/\1/p'
}
spool_filled() {
	[ "$(pending)" -gt 0 ] 2>/dev/null
}
wait_until 30 spool_filled || fail "no report spooled 30 s after the portal went down: $(ct agentctl status | grep '^portal')"
sleep 2
spool_files() {
	ct sh -c 'cd /var/lib/agentd/spool && find . -type f -size +0 | sort'
}
n_before=$(pending)
spool_files >"$W/spool.before"
[ -s "$W/spool.before" ] || fail "$n_before reports pending but no spool file"
sum_before=$(ct sha256sum /var/lib/agentd/identity /etc/agentd/agentd.conf /etc/agentd/conf.d/50-systest.conf)
say "upgrading to $V2 with $n_before report(s) spooled"
out=$(ct dpkg -i --force-confold /srv/systest/agentd-v2.deb 2>&1) ||
    fail "upgrade to $V2: $out"
expect_eq "package version" "$(ct dpkg-query -W -f='${Version}' agentd)" "$V2"
sum_after=$(ct sha256sum /var/lib/agentd/identity /etc/agentd/agentd.conf /etc/agentd/conf.d/50-systest.conf)
expect_eq "identity and config after upgrade" "$sum_after" "$sum_before"
wait_until 30 running || fail "agentd.service not running after the upgrade"
PID2=$(prop agentd.service MainPID)
[ "$PID2" != "$PID1" ] || fail "agentd was not restarted by the upgrade (MainPID still $PID1)"
if [ "$(prop agentd.path LoadState)" = loaded ]; then
	expect_eq "agentd.path after upgrade" "$(prop agentd.path ActiveState)" active
fi
new_version() {
	ct agentctl status | grep -qF -- "$V2_UP"
}
wait_until 10 new_version || fail "agentctl status does not show $V2_UP: $(ct agentctl status 2>&1 | head -n 3)"
spool_files >"$W/spool.after"
lost=$(comm -23 "$W/spool.before" "$W/spool.after")
[ -z "$lost" ] || fail "spool files gone after the upgrade: $lost"
n_after=$(pending)
[ "${n_after:-0}" -ge "$n_before" ] ||
    fail "the new agent has $n_after reports pending, the old one had $n_before"
say "upgraded to $V2: config, identity and $n_after spooled reports kept, restarted (pid $PID1 -> $PID2)"
start_portal
drained() {
	[ "$(pending)" = 0 ] && api "/hosts/$AGENT_ID" >"$W/host.json" &&
	    python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["inventory"]["agent_version"] != sys.argv[2])' "$W/host.json" "$V2_UP"
}
wait_until 60 drained ||
    fail "spool not drained to the portal, or the portal does not show $V2, 60 s after it came back: $(ct agentctl status | grep '^portal'); $(cat "$W/host.json")"
say "the portal has the spooled reports and agent version $V2_UP"

# --- purge: everything of the package gone, nothing left running. The
# files this test added to /etc/agentd go first: dpkg keeps a directory
# that holds files it does not know.
rm -f "$ROOT/etc/agentd/conf.d/50-systest.conf" "$ROOT/etc/agentd/portal-ca.pem"
out=$(ct dpkg --purge agentd 2>&1) || fail "dpkg --purge agentd: $out"
ct pgrep -x agentd >/dev/null && fail "agentd still runs after purge"
for f in /usr/sbin/agentd /usr/bin/agentctl /etc/agentd /var/lib/agentd \
    /usr/lib/systemd/system/agentd.service /usr/lib/systemd/system/agentd.path; do
	ct test -e "$f" && fail "$f still exists after purge"
done
for u in agentd.service agentd.path; do
	expect_eq "$u after purge" "$(prop "$u" LoadState)" not-found
done
failed=$(ct systemctl --failed --no-legend --plain | grep -v '^$')
[ -z "$failed" ] || fail "failed units after purge: $failed"
say "purged cleanly"

say "PASS: system test (tests $(( $(date +%s) - t_tests )) s, total $(( $(date +%s) - T_START )) s)"
