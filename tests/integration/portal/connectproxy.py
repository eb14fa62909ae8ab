"""A minimal HTTP CONNECT proxy on loopback for agentd's proxy test: it
writes its port to PORT_FILE, logs each CONNECT it serves to LOG_FILE
("CONNECT host:port"), then relays bytes both ways. Nothing else."""
import os, socket, sys, threading

port_file, log_file = sys.argv[1:3]

def relay(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

def serve(c):
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 8192:
        d = c.recv(1)
        if not d:
            c.close()
            return
        head += d
    line = head.split(b"\r\n")[0].decode("latin-1")
    method, target = line.split(" ")[:2]
    host, port = target.rsplit(":", 1)
    if method != "CONNECT" or host not in ("127.0.0.1", "localhost"):
        c.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
        c.close()
        return
    up = socket.create_connection((host, int(port)))
    with open(log_file, "a") as f:
        f.write("CONNECT %s\n" % target)
    c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    threading.Thread(target=relay, args=(c, up), daemon=True).start()
    relay(up, c)

srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
