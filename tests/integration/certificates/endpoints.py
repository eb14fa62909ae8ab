#!/usr/bin/env python3
"""Three endpoints on 127.0.0.1 for test_certificates.sh: a real TLS server
with CERT/KEY, one that accepts and never speaks, one that answers garbage.
Writes "TLS SILENT GARBAGE" ports to PORTFILE; runs until killed, at most
120 s (bounded even if the test's cleanup never comes)."""
import socket
import ssl
import sys
import threading
import time

portfile, cert, key = sys.argv[1:4]


def listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def serve_tls(s):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    while True:
        c, _ = s.accept()
        try:
            t = ctx.wrap_socket(c, server_side=True)
            t.settimeout(5)
            t.recv(1)
            t.close()
        except (OSError, ssl.SSLError):
            c.close()


held = []


def serve_silent(s):
    while True:
        c, _ = s.accept()
        held.append(c)      # never speaks, never closes


def serve_garbage(s):
    while True:
        c, _ = s.accept()
        try:
            c.sendall(b"\x16\x03\x01\xff\xffHELLO garbage \x00\x01\x02" * 64)
            time.sleep(0.5)
        except OSError:
            pass
        c.close()


socks = [listener() for _ in range(3)]
for fn, s in zip((serve_tls, serve_silent, serve_garbage), socks):
    threading.Thread(target=fn, args=(s,), daemon=True).start()
with open(portfile + ".tmp", "w") as f:
    f.write(" ".join(str(s.getsockname()[1]) for s in socks) + "\n")
import os
os.rename(portfile + ".tmp", portfile)
time.sleep(120)
