#!/usr/bin/env python3
"""A hostile agentd-reporter for test_report_hostile.sh: installed beside a
copy of agentd, it reads agentd's frames on fd 3 and, at the first "send",
misbehaves as the file MODE beside it says:
  nostringid  answers with a command whose id is a number (the crash of
              issue 7) and type null
  flood       writes well-formed stale results as fast as it can, for 8 s
  slow        announces a 1000-byte frame and trickles it, a byte per 0.1 s
  huge        announces a frame of 2^31 bytes
  silent      never answers the batch (and ignores SIGTERM)
Each start is logged to LOG beside it."""
import json, os, signal, socket, struct, sys, time

here = os.path.dirname(os.path.abspath(sys.argv[0]))
mode = open(os.path.join(here, "mode")).read().strip()
with open(os.path.join(here, "log"), "a") as f:
    f.write("start %s\n" % mode)
s = socket.socket(fileno=3)

def frame(obj):
    b = json.dumps(obj).encode()
    return struct.pack(">I", len(b)) + b

def read_frame():
    head = b""
    while len(head) < 4:
        d = s.recv(4 - len(head))
        if not d:
            sys.exit(0)
        head += d
    n = struct.unpack(">I", head)[0]
    body = b""
    while len(body) < n:
        d = s.recv(n - len(body))
        if not d:
            sys.exit(0)
        body += d
    return json.loads(body)

while True:
    m = read_frame()
    if m.get("t") == "send":
        break
bid = m["id"]
try:
    if mode == "nostringid":
        s.sendall(frame({"t": "result", "id": bid, "ok": True, "ack": 0,
            "commands": [{"id": 42, "type": None, "args": {}}],
            "skipped": 0, "http": "1.1"}))
    elif mode == "flood":
        stale = frame({"t": "result", "id": -1, "ok": False, "status": 500,
            "retry_after": -1, "error": "x"}) * 500
        end = time.monotonic() + 8
        while time.monotonic() < end:
            s.sendall(stale)
    elif mode == "slow":
        s.sendall(struct.pack(">I", 1000) + b"{")
        for _ in range(300):
            s.sendall(b" ")
            time.sleep(0.1)
    elif mode == "huge":
        s.sendall(struct.pack(">I", 1 << 31) + b"{")
    elif mode == "silent":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
except OSError:
    sys.exit(0)
time.sleep(30)
