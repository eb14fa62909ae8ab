# A 64 MiB tmpfs (in a private mount namespace) filled at a steady
# 1.5 MiB/s while the real agentd runs the forecast collector every second
# over a 60 s window: the check warns with an ETA within 20% of the true
# time to full (computed from the writer's rate) before the tmpfs is 90%
# full, then goes CRITICAL under eta_critical, still before 90%; the real
# portal gets the state change with reason "forecast" and shows the ETA in
# the host view and in the alert; a reload and a restart (the rings saved
# to state_dir/forecast) forecast at once.
if [ -z "${FORECAST_TMPFS_NS:-}" ]; then
	if unshare -m true 2>/dev/null; then
		FORECAST_TMPFS_NS=1 exec unshare -m bash "$0" "$@"
	fi
	echo "forecast tmpfs: skipped (no private mount namespace)"
	exit 0
fi
. tests/integration/lib.sh

MNT=$T/fill
mkdir -p "$MNT"
make_certs
start_portal --report-interval 1
trap 'kill ${WRITER_PID:-} $PORTAL_PID 2>/dev/null; umount -l "$MNT" 2>/dev/null; cleanup' EXIT
if ! mount -t tmpfs -o size=64m,mode=0700 none "$MNT"; then
	echo "forecast tmpfs: skipped (tmpfs mount refused)"
	exit 0
fi
{
	for c in cpu memory load filesystems diskio network uptime processes \
	    units journal clock; do
		printf '[collector.%s]\nenabled = no\n' "$c"
	done
	cat <<EOF2
[collector.forecast]
interval = 1s
window = 60s
min_samples = 6
min_span = 5s
min_fit = 0.9
eta_warning = 1h
eta_critical = 15s
EOF2
} | write_config
enroll_agent
start_agentd

# The writer keeps written = rate * elapsed (65 KiB steps), stops at 95%.
RATE=$((3 * 1024 * 1024 / 2))
python3 - "$MNT/data" "$RATE" "$T/writer.t0" <<'PY' &
import os, sys, time
path, rate, t0file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
stop = int(64 * 1024 * 1024 * 0.95)
t0 = time.time()
with open(t0file + ".tmp", "w") as f:
    f.write("%.6f\n" % t0)
os.rename(t0file + ".tmp", t0file)
written = 0
while written < stop and time.time() - t0 < 90:
    target = min(int(rate * (time.time() - t0)), stop)
    while written < target:
        written += os.write(fd, b"\0" * min(65536, target - written))
    time.sleep(0.01)
os.close(fd)
time.sleep(120)
PY
WRITER_PID=$!

python3 - "$AGENTCTL" "$T/control.sock" "$MNT" "$RATE" "$T/writer.t0" <<'PY' || fail "no correct forecast before 90% full"
import json, os, subprocess, sys, time
ctl, sock, mnt, rate, t0file = sys.argv[1:6]
rate = int(rate)
deadline = time.time() + 55
while not os.path.exists(t0file):
    assert time.time() < deadline, "the writer did not start"
    time.sleep(0.05)
t0 = float(open(t0file).read())
st = os.statvfs(mnt)
limit = (st.f_blocks - st.f_bfree + st.f_bavail) * st.f_frsize
t_full = t0 + limit / rate
seen = {}
while "CRITICAL" not in seen:
    assert time.time() < deadline, "no CRITICAL within 55 s: %s" % seen
    st = os.statvfs(mnt)
    used = 1 - st.f_bavail / st.f_blocks
    out = subprocess.run([ctl, "--socket", sock, "checks", "--json"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    c = [c for c in json.loads(out.stdout) if c["name"] == "forecast"][0]
    if c["state"] in ("WARNING", "CRITICAL") and c["state"] not in seen:
        assert used < 0.9, "%s only at %.0f%% full" % (c["state"], 100 * used)
        perf = {p["label"]: p["value"] for p in c["perfdata"]}
        eta = perf[mnt + ":eta"]
        true = t_full - c["when"]
        err = abs(eta - true) / true
        print("forecast: %s at %.0f%% full, ETA %.1f s, true %.1f s "
              "(%+.1f%%), rate %.2f MiB/s: %s" % (c["state"], 100 * used,
              eta, true, 100 * (eta - true) / true,
              perf[mnt + ":rate"] / 86400 / 1048576, c["summary"]))
        assert err <= 0.20, "ETA off by %.0f%%" % (100 * err)
        assert abs(perf[mnt + ":rate"] / 86400 - rate) / rate <= 0.2, perf
        assert mnt + " full in ~" in c["summary"], c["summary"]
        f = c.get("forecast")
        assert f is not None and f["resource"] in ("space", "inodes",
            "memory") and f["eta"] <= eta + 1e-6, c
        if f["item"] == mnt:
            assert f["resource"] == "space" and f["unit"] == "B", f
        seen[c["state"]] = used
    time.sleep(0.25)
assert "WARNING" in seen, "CRITICAL without WARNING first: %s" % seen
PY

# The portal: the state change says why, the host view and the alert show
# the ETA.
forecast_alert() {
	[ -n "$(q "SELECT forecast FROM alerts WHERE check_name = 'forecast' AND closed IS NULL AND state = 'CRITICAL'")" ]
}
wait_until 10 forecast_alert ||
    fail "no CRITICAL forecast alert with its forecast on the portal: $(q "SELECT count(*) FROM alerts")"
expect_eq "reason of the CRITICAL state change" "$(q "SELECT json_extract(payload, '$.reason.type') || ' ' || json_extract(payload, '$.reason.item') FROM reports WHERE kind = 'state_change' AND json_extract(payload, '$.check.state') = 'CRITICAL' AND json_extract(payload, '$.check.name') = 'forecast'")" "forecast $MNT"
OPR=$("$BUILD/agentd-portal" operator create ops --db "$T/portal.db" \
    --log-stderr 2>>"$T/portal.log") || fail "operator create"
ID=$(q "SELECT id FROM agents")
curl -s --cacert "$T/certs/ca.pem" -H "Authorization: Bearer $OPR" \
    "https://127.0.0.1:$PORT/api/v1/hosts/$ID" > "$T/host.json" ||
    fail "GET /hosts/$ID"
python3 - "$T/host.json" "$MNT" <<'PY' || fail "the host view does not show the forecast: $(head -c 800 "$T/host.json")"
import json, sys
host = json.load(open(sys.argv[1]))
c = [c for c in host["checks"] if c["name"] == "forecast"][0]
f = c["forecast"]
assert f["item"] == sys.argv[2] and f["resource"] == "space", f
assert 0 < f["eta"] < 60 and f["rate"] > 0, f
print("portal host view: forecast %s: %s in %.0f s at %.2f MiB/s" % (
    c["state"], f["item"], f["eta"], f["rate"] / 86400 / 1048576))
PY
# A reload replaces the collector's instance: the old one saves its rings
# when freed, after the new one started, and the new one reads them at its
# first run, which already forecasts.
hup=$(date +%s.%N)
kill -HUP "$AGENTD_PID"
python3 - "$AGENTCTL" "$T/control.sock" "$MNT" "$hup" <<'PY' || fail "no forecast at the first run after a reload"
import json, subprocess, sys, time
ctl, sock, mnt, hup = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
deadline = time.time() + 10
while True:
    out = subprocess.run([ctl, "--socket", sock, "checks", "--json"],
                         capture_output=True, text=True, timeout=10)
    c = [c for c in json.loads(out.stdout) if c["name"] == "forecast"][0]
    if c.get("when", 0) > hup + 0.05:
        break
    assert time.time() < deadline, "the forecast check did not run"
    time.sleep(0.05)
labels = [p["label"] for p in c["perfdata"]]
assert mnt + ":eta" in labels, c
print("after a reload: %s" % c["summary"])
PY
grep -q 'config reloaded from' "$T/agentd.log" || fail "no reload logged"

# A stop saves the rings (the last save on the 5-minute cadence was the
# first run's, with one point) and a start reads them: the first run
# after the restart already forecasts.
stop_agentd || fail "agentd exited $? on SIGTERM"
npts=$(awk -v m="$MNT" '$1 == "series" && $2 == "space" && $7 == m { print $6 }' \
    "$T/state/forecast")
[ "${npts:-0}" -ge 15 ] ||
    fail "the tmpfs's ring in state_dir/forecast has '${npts:-no}' points"
start_agentd
python3 - "$AGENTCTL" "$T/control.sock" "$MNT" <<'PY' || fail "no forecast at the first run after a restart"
import json, subprocess, sys, time
ctl, sock, mnt = sys.argv[1:4]
deadline = time.time() + 10
while True:
    out = subprocess.run([ctl, "--socket", sock, "checks", "--json"],
                         capture_output=True, text=True, timeout=10)
    c = [c for c in json.loads(out.stdout) if c["name"] == "forecast"][0]
    if c["state"] != "PENDING":
        break
    assert time.time() < deadline, "the forecast check did not run"
    time.sleep(0.1)
labels = [p["label"] for p in c["perfdata"]]
assert mnt + ":eta" in labels and c["state"] == "CRITICAL", c
print("after a restart: %s" % c["summary"])
PY
kill "$WRITER_PID" 2>/dev/null
stop_agentd || fail "agentd exited $? on SIGTERM"
exit 0
