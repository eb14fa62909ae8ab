# Plays systemd's side of the notify protocol: a datagram socket as
# NOTIFY_SOCKET and WATCHDOG_USEC set; expects READY=1 with STATUS=,
# watchdog pings, RELOADING=1 + MONOTONIC_USEC= on SIGHUP, STOPPING=1.
. tests/integration/lib.sh

write_config <<EOF2
[check.a]
command = $PLUGINS/check_dummy 0 fine
EOF2

python3 - "$AGENTD" "$T" <<'PY' || fail "notify protocol"
import os, signal, socket, subprocess, sys, time
agentd, tmp = sys.argv[1], sys.argv[2]
path = os.path.join(tmp, "notify.sock")
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
sock.settimeout(0.2)
env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="1000000")
log = open(os.path.join(tmp, "agentd.log"), "ab")
p = subprocess.Popen([agentd, "--foreground", "--config",
                      os.path.join(tmp, "agentd.conf")], env=env,
                     stdout=log, stderr=log)
msgs = []   # (time, {key: value})

def pump(seconds, until=None):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            data = sock.recv(4096).decode()
        except socket.timeout:
            continue
        kv = dict(l.split("=", 1) for l in data.split("\n") if "=" in l)
        msgs.append((time.monotonic(), kv))
        if until and until(kv):
            return kv
    return None

def fail(why):
    p.kill()
    print("notify:", why, "messages:", [m[1] for m in msgs])
    sys.exit(1)

ready = pump(10, lambda kv: kv.get("READY") == "1")
if not ready:
    fail("no READY=1 within 10 s")
if not any("STATUS" in kv for _, kv in msgs):
    pump(5, lambda kv: "STATUS" in kv) or fail("no STATUS=")
st = [kv["STATUS"] for _, kv in msgs if "STATUS" in kv][-1]
if "checks:" not in st:
    fail("STATUS is not a summary: " + st)

t0 = time.monotonic()
pump(2.2)
pings = [t for t, kv in msgs if kv.get("WATCHDOG") == "1" and t >= t0]
if len(pings) < 3:
    fail("expected >= 3 watchdog pings in 2.2 s with WATCHDOG_USEC=1s, got %d" % len(pings))

p.send_signal(signal.SIGHUP)
kv = pump(5, lambda kv: kv.get("RELOADING") == "1")
if not kv:
    fail("no RELOADING=1 after SIGHUP")
mono = int(kv.get("MONOTONIC_USEC", "0"))
now = time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6
if not (0 < mono <= now and now - mono < 5e6):
    fail("MONOTONIC_USEC=%s is not CLOCK_MONOTONIC now (%d)" % (mono, now))
if "READY" not in kv and not pump(5, lambda kv: kv.get("READY") == "1"):
    fail("no READY=1 after the reload")

p.send_signal(signal.SIGTERM)
if not pump(5, lambda kv: kv.get("STOPPING") == "1"):
    fail("no STOPPING=1 after SIGTERM")
try:
    rc = p.wait(5)
except subprocess.TimeoutExpired:
    fail("agentd still running 5 s after SIGTERM")
if rc != 0:
    fail("exit code %d" % rc)
print("notify: READY, STATUS=%r, %d pings in 2.2 s, RELOADING, STOPPING" % (st, len(pings)))
PY
exit 0
