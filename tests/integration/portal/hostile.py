#!/usr/bin/env python3
"""Hostile clients for test_portal_hostile.sh, on loopback only.

  hostile.py early CA PORT AGENT CRED
      requests the portal must refuse on their headers alone, with a JSON
      body, before it reads (or waits for) the body; prints one line per
      case and exits 1 if any is wrong.
  hostile.py load PORT IDLE SLOW PER_IP READY SECONDS AGENT CRED
      holds IDLE idle TCP connections and SLOW TLS connections that
      trickle a byte a second (half never finish their headers, half an
      authenticated 1 MiB body), spread over 127.0.x.y source addresses
      with at most PER_IP each; writes READY when all are open, then
      watches for SECONDS and prints when the slow ones were cut off.
  hostile.py perip PORT N
      opens N plain connections from one address; prints how many the
      portal kept open after a second.

Every loop is bounded in count and time; it stops by itself.
"""
import json
import os
import selectors
import socket
import ssl
import sys
import time

HOST = "127.0.0.1"


def tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def connect(port, src=None, tls=True, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if src is not None:
        s.bind((src, 0))
    s.connect((HOST, port))
    if tls:
        s = tls_context().wrap_socket(s, server_hostname="localhost")
    return s


def read_reply(s, timeout):
    """(status, headers dict, body bytes) or raises on timeout/EOF."""
    s.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in data:
        if time.monotonic() > deadline:
            raise TimeoutError("no reply headers")
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("closed before a reply: %r" % data[:200])
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(body) < n:
        if time.monotonic() > deadline:
            raise TimeoutError("reply body incomplete")
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body[:n]


def early(ca, port, agent, cred):
    port = int(port)
    bad = 0
    big_header = "X-Pad: " + "a" * 10000 + "\r\n"
    deep = ('{"token": "enr_x", "host": {"hostname": "h", "machine_id": '
            '"m", "x": ' + "[" * 66 + "]" * 66 + "}}")
    cases = [
        # name, request head (no body sent unless given), body, status,
        # error substring
        ("reports, wrong credential, 1 MiB declared",
         "POST /api/v1/agents/%s/reports HTTP/1.1\r\nHost: x\r\n"
         "Authorization: Bearer agc_wrong\r\nContent-Length: 1048575\r\n"
         "\r\n" % agent, b"", 401, "credential refused"),
        ("reports, no credential, 1 MiB declared",
         "POST /api/v1/agents/%s/reports HTTP/1.1\r\nHost: x\r\n"
         "Content-Length: 1048575\r\n\r\n" % agent, b"", 401,
         "Authorization: missing"),
        ("reports, unknown agent",
         "POST /api/v1/agents/nobody/reports HTTP/1.1\r\nHost: x\r\n"
         "Authorization: Bearer %s\r\nContent-Length: 1000\r\n\r\n" % cred,
         b"", 404, "no such agent"),
        ("fleet, no operator token, 1 MiB declared",
         "POST /api/v1/hosts/x/commands HTTP/1.1\r\nHost: x\r\n"
         "Content-Length: 1048575\r\n\r\n", b"", 401, "operator"),
        ("enrolment over 8 KiB declared",
         "POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\n"
         "Content-Length: 100000\r\n\r\n", b"", 413, "at most 8192"),
        ("unknown path, 1 MiB declared",
         "POST /nothing HTTP/1.1\r\nHost: x\r\nContent-Length: 1048575\r\n"
         "\r\n", b"", 404, "no such endpoint"),
        ("wrong method for enrolment",
         "PUT /api/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
         "\r\n", b"", 405, "method PUT"),
        ("10 KiB of headers",
         "GET /api/v1/hosts HTTP/1.1\r\nHost: x\r\n" + big_header + "\r\n",
         b"", 431, "headers: more than 8192"),
        ("report body over 1 MiB declared, right credential",
         "POST /api/v1/agents/%s/reports HTTP/1.1\r\nHost: x\r\n"
         "Authorization: Bearer %s\r\nContent-Length: 1048577\r\n\r\n"
         % (agent, cred), b"", 413, "at most 1048576"),
        ("chunked enrolment body over 8 KiB",
         "POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\n"
         "Transfer-Encoding: chunked\r\n\r\n",
         b"2400\r\n" + b" " * 0x2400 + b"\r\n0\r\n\r\n", 413,
         "more than 8192"),
        ("enrolment body nested 66 deep",
         "POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
         "\r\n" % len(deep), deep.encode(), 400, "nested deeper than 64"),
    ]
    for name, head, body, want, text in cases:
        t0 = time.monotonic()
        try:
            s = connect(port)
            s.sendall(head.encode() + body)
            status, headers, rbody = read_reply(s, 3.0)
            s.close()
        except Exception as e:  # noqa: BLE001 - any failure is reported
            print("FAIL %s: no reply within 3 s (%s)" % (name, e))
            bad = 1
            continue
        dt = time.monotonic() - t0
        ctype = headers.get("content-type", "")
        try:
            err = json.loads(rbody)["error"]
        except Exception:  # noqa: BLE001
            err = None
        ok = status == want and ctype == "application/json" and \
            err is not None and text in err and dt < 2.0
        print("%s %s: %d %s %r in %.3f s" % ("ok" if ok else "FAIL", name,
              status, ctype, rbody[:100], dt))
        if not ok:
            print("  want %d application/json with an error containing %r "
                  "within 2 s" % (want, text))
            bad = 1
    bad |= anonymous_slots(port)
    bad |= deep_bodies(port, deep)
    return bad


def deep_bodies(port, deep):
    """12 deep enrolment bodies at once (they once took every thread for
    good): all answered 400 within 3 s."""
    socks = []
    t0 = time.monotonic()
    try:
        for i in range(12):
            # one address each: 8 from one address may be buffered at once
            s = connect(port, "127.50.0.%d" % (i + 1))
            s.sendall(("POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\n"
                       "Content-Length: %d\r\n\r\n%s" % (len(deep),
                                                       deep)).encode())
            socks.append(s)
        statuses = [read_reply(s, 3.0)[0] for s in socks]
    except Exception as e:  # noqa: BLE001
        print("FAIL 12 deep enrolment bodies at once: %s" % e)
        return 1
    finally:
        for s in socks:
            s.close()
    dt = time.monotonic() - t0
    ok = statuses == [400] * 12 and dt < 3.0
    print("%s 12 deep enrolment bodies at once: %s in %.3f s" % (
          "ok" if ok else "FAIL", statuses, dt))
    return 0 if ok else 1


def anonymous_slots(port):
    """Enrolment bodies held open: the 9th from one address and the 65th
    in all are refused with 503; once they go, enrolment works again."""
    head = b"POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{"
    held = []
    bad = 0

    def refused(src, what):
        s = connect(port, src)
        s.sendall(head)
        status, headers, body = read_reply(s, 3.0)
        s.close()
        ok = status == 503 and headers.get("retry-after") == "5" and \
            b"too many enrolments" in body
        print("%s %s: %d retry-after %s %r" % ("ok" if ok else "FAIL", what,
              status, headers.get("retry-after"), body[:100]))
        return 0 if ok else 1

    try:
        for i in range(64):
            s = connect(port, "127.40.0.%d" % (1 + i // 8))
            s.sendall(head)
            held.append(s)
            if i == 7:
                time.sleep(0.3)
                bad |= refused("127.40.0.1", "9th enrolment body from one "
                               "address")
        time.sleep(0.3)
        bad |= refused("127.40.0.9", "65th enrolment body at once")
        for s in held:
            s.close()
        held = []
        time.sleep(0.5)
        s = connect(port, "127.40.0.9")
        s.sendall(head + b"}")
        status, _, body = read_reply(s, 3.0)
        s.close()
        ok = status == 400 and b"token: missing" in body
        print("%s enrolment body once they are gone: %d %r" % (
              "ok" if ok else "FAIL", status, body[:100]))
        bad |= 0 if ok else 1
    except Exception as e:  # noqa: BLE001
        print("FAIL enrolment bodies held open: %s" % e)
        bad = 1
    for s in held:
        s.close()
    return bad


def sources(n, per_ip, third):
    """n source addresses 127.<third>.x.y, per_ip of each."""
    out = []
    i = 0
    while len(out) < n:
        addr = "127.%d.%d.%d" % (third, 1 + i // 250, 1 + i % 250)
        out.extend([addr] * min(per_ip, n - len(out)))
        i += 1
    return out


def load(port, idle, slow, per_ip, ready, seconds, agent, cred):
    port, idle, slow, per_ip = int(port), int(idle), int(slow), int(per_ip)
    seconds = float(seconds)
    t0 = time.monotonic()
    idles = []
    for src in sources(idle, per_ip, 10):
        try:
            idles.append(connect(port, src, tls=False))
        except OSError as e:
            print("idle connect from %s failed: %s" % (src, e))
            break
    slows = []      # [sslsocket, started, closed_at or None, bytes left]
    half = slow // 2
    for i, src in enumerate(sources(slow, per_ip, 20)):
        if time.monotonic() - t0 > 30:
            print("slow connections: only %d opened in 30 s" % len(slows))
            break
        try:
            s = connect(port, src)
        except OSError as e:
            print("slow connect from %s failed: %s" % (src, e))
            break
        started = time.monotonic()
        if i < half:
            # headers that never end
            s.sendall(b"POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\n")
            rest = b"X-Slow: " + b"a" * 4000
        else:
            # an authenticated body that never ends
            s.sendall(("POST /api/v1/agents/%s/reports HTTP/1.1\r\n"
                       "Host: x\r\nAuthorization: Bearer %s\r\n"
                       "Content-Length: 1048575\r\n\r\n"
                       % (agent, cred)).encode())
            rest = b" " * 4000
        s.setblocking(False)
        slows.append([s, started, None, rest])
    open_idle = len(idles)
    with open(ready + ".tmp", "w") as f:
        f.write("idle=%d slow=%d opened_in=%.1f\n" % (
            open_idle, len(slows), time.monotonic() - t0))
    os.rename(ready + ".tmp", ready)
    print("opened idle=%d slow=%d in %.1f s" % (open_idle, len(slows),
          time.monotonic() - t0))
    sel = selectors.DefaultSelector()
    for i, c in enumerate(slows):
        sel.register(c[0], selectors.EVENT_READ, i)
    end = t0 + seconds
    next_trickle = time.monotonic()
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_trickle:
            for c in slows:
                if c[2] is None and c[3]:
                    try:
                        c[0].send(c[3][:1])
                        c[3] = c[3][1:]
                    except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                        pass
                    except OSError:
                        c[2] = now
            next_trickle = now + 1.0
        for key, _ in sel.select(timeout=0.2):
            c = slows[key.data]
            try:
                data = c[0].recv(4096)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue
            except OSError:
                data = b""
            if not data and c[2] is None:
                c[2] = time.monotonic()
            if not data:
                sel.unregister(c[0])
        if all(c[2] is not None for c in slows):
            break
    closed = [c[2] - c[1] for c in slows if c[2] is not None]
    print("slow_open=%d slow_closed=%d min_life=%.1f max_life=%.1f" % (
          len(slows), len(closed), min(closed) if closed else -1,
          max(closed) if closed else -1))
    for c in slows:
        c[0].close()
    for s in idles:
        s.close()
    return 0


def perip(port, n):
    port, n = int(port), int(n)
    socks = []
    for _ in range(n):
        socks.append(connect(port, "127.30.0.1", tls=False))
    time.sleep(1.0)
    alive = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                continue
        except BlockingIOError:
            alive += 1
            continue
        except OSError:
            continue
    print("open=%d" % alive)
    for s in socks:
        s.close()
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "early":
        return early(*sys.argv[2:6])
    if cmd == "load":
        return load(*sys.argv[2:10])
    if cmd == "perip":
        return perip(*sys.argv[2:4])
    print("unknown command %s" % cmd)
    return 2


if __name__ == "__main__":
    sys.exit(main())
