#!/usr/bin/python3
"""Both ends of traffic through the support tunnel, for
test_support_tunnel.sh and bench/tunnel.

  tunnelpeer.py target PORT LOG SIZE   listen on 127.0.0.1:PORT; for each
      connection send SIZE random bytes (then shut down writing) while
      hashing what arrives until EOF; append "sent=H recv=H bytes=N" to LOG
  tunnelpeer.py client PORT COUNT SIZE TIMEOUT  COUNT concurrent
      connections, each sending SIZE random bytes and reading to EOF; prints
      one "sent=H recv=H bytes=N" line each and "seconds=S", exit 1 on any
      error or timeout
  tunnelpeer.py sink PORT   listen on 127.0.0.1:PORT; read each connection
      to EOF, never send
  tunnelpeer.py hold PORT TIMEOUT   connect, print "connected", wait for EOF;
      prints "eof after S" or exits 1 at TIMEOUT
"""
import hashlib
import os
import random
import socket
import sys
import threading
import time

CHUNK = 1 << 20


def send_random(sock, size, out):
    try:
        send_hashed(sock, size, out)
    except OSError as e:
        out['error'] = str(e)


# TUNNELPEER_FAST=1 (bench/tunnel): one random block per connection, sent
# over and over, so the peers spend their CPU on hashing, not on random.
FAST = os.environ.get('TUNNELPEER_FAST') == '1'


def send_hashed(sock, size, out):
    h = hashlib.sha256()
    rnd = random.Random()
    fixed = rnd.randbytes(CHUNK) if FAST else None
    left = size
    while left > 0:
        n = min(CHUNK, left)
        block = fixed[:n] if FAST else rnd.randbytes(n)
        h.update(block)
        sock.sendall(block)
        left -= len(block)
    sock.shutdown(socket.SHUT_WR)
    out['sent'] = h.hexdigest()


def recv_all(sock, out):
    h = hashlib.sha256()
    n = 0
    while True:
        b = sock.recv(CHUNK)
        if not b:
            break
        h.update(b)
        n += len(b)
    out['recv'] = h.hexdigest()
    out['bytes'] = n


def both(sock, size):
    out = {}
    t = threading.Thread(target=send_random, args=(sock, size, out))
    t.start()
    recv_all(sock, out)
    t.join()
    return out


def target(port, log, size):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', port))
    srv.listen(16)
    lock = threading.Lock()

    def serve(c):
        try:
            out = both(c, size)
            if 'error' in out:
                raise OSError(out['error'])
            line = 'sent=%s recv=%s bytes=%d\n' % (out['sent'], out['recv'],
                                                   out['bytes'])
        except OSError as e:
            line = 'error=%s\n' % e
        c.close()
        with lock, open(log, 'a') as f:
            f.write(line)

    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def client(port, count, size, timeout):
    res = [None] * count

    def one(i):
        try:
            s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
            res[i] = both(s, size)
            s.close()
            if 'error' in res[i]:
                raise OSError(res[i]['error'])
        except OSError as e:
            res[i] = {'error': str(e)}

    start = time.monotonic()
    ts = [threading.Thread(target=one, args=(i,), daemon=True)
          for i in range(count)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(max(0.1, timeout - (time.monotonic() - start)))
    secs = time.monotonic() - start
    ok = True
    for r in res:
        if r is None or 'error' in r:
            print('error=%s' % ('timeout' if r is None else r['error']))
            ok = False
        else:
            print('sent=%s recv=%s bytes=%d' % (r['sent'], r['recv'],
                                                r['bytes']))
    print('seconds=%.3f' % secs)
    sys.exit(0 if ok else 1)


def sink(port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', port))
    srv.listen(16)

    def drain(c):
        try:
            while c.recv(CHUNK):
                pass
        except OSError:
            pass
        c.close()

    while True:
        c, _ = srv.accept()
        threading.Thread(target=drain, args=(c,), daemon=True).start()


def hold(port, timeout):
    s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    print('connected', flush=True)
    start = time.monotonic()
    try:
        while s.recv(65536):
            pass
    except socket.timeout:
        print('no eof within %s s' % timeout)
        sys.exit(1)
    except OSError:
        pass
    print('eof after %.1f' % (time.monotonic() - start))


if __name__ == '__main__':
    a = sys.argv
    if a[1] == 'target':
        target(int(a[2]), a[3], int(a[4]))
    elif a[1] == 'client':
        client(int(a[2]), int(a[3]), int(a[4]), float(a[5]))
    elif a[1] == 'sink':
        sink(int(a[2]))
    elif a[1] == 'hold':
        hold(int(a[2]), float(a[3]))
