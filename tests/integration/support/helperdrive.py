#!/usr/bin/python3
"""Plays agentd's part for agentd-support (test_support_helper.sh):

  helperdrive.py HELPER FRAME TIMEOUT [--probe]

starts HELPER with one end of a socketpair on fd 3, sends FRAME (JSON
text) as the session frame, and prints every frame the helper sends as one
JSON line. --probe: on "up", connects to 127.0.0.1:PORT through the
bastion's forward, prints "probe=" and the first line the target sent,
closes it, and after the helper's conn_close closes the channel (as
agentd's helper_stop does). Prints "exit=N" with the helper's status;
exits 1 if the helper is still running at TIMEOUT seconds.
"""
import fcntl
import json
import os
import socket
import struct
import subprocess
import sys
import time


def main():
    helper, frame, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    probe = '--probe' in sys.argv[4:]
    a, theirs = socket.socketpair()
    # Our end away from fd 3, which the helper's end takes.
    ours = socket.socket(fileno=fcntl.fcntl(a.fileno(), fcntl.F_DUPFD_CLOEXEC,
                                            10))
    a.close()
    os.dup2(theirs.fileno(), 3, inheritable=True)
    proc = subprocess.Popen([helper], pass_fds=(3,))
    os.close(3)
    theirs.close()
    body = frame.encode()
    ours.sendall(struct.pack('>I', len(body)) + body)
    ours.settimeout(0.5)
    buf = b''
    deadline = time.monotonic() + timeout
    closed = False
    while time.monotonic() < deadline:
        try:
            data = ours.recv(65536)
        except socket.timeout:
            if proc.poll() is not None:
                break
            continue
        if not data:
            break
        buf += data
        while len(buf) >= 4:
            n = struct.unpack('>I', buf[:4])[0]
            if len(buf) < 4 + n:
                break
            msg = json.loads(buf[4:4 + n])
            buf = buf[4 + n:]
            print(json.dumps(msg, sort_keys=True), flush=True)
            if probe and msg['t'] == 'up':
                s = socket.create_connection(('127.0.0.1', msg['port']), 10)
                s.settimeout(10)
                line = s.recv(256).split(b'\r\n')[0].decode('ascii', 'replace')
                print('probe=' + line, flush=True)
                s.close()
            if probe and msg['t'] == 'conn_close' and not closed:
                ours.shutdown(socket.SHUT_WR)
                closed = True
    try:
        rc = proc.wait(max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        print('helper still running at the timeout', flush=True)
        sys.exit(1)
    print('exit=%d' % rc, flush=True)


main()
