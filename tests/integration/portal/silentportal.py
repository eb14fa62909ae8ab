"""A portal that completes the TLS handshake, reads the request and never
answers: the agent's [portal] timeout must end the request. Writes its
port to PORT_FILE."""
import os, socket, ssl, sys, threading, time

port_file, cert, key = sys.argv[1:4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)

def hold(c):
    try:
        s = ctx.wrap_socket(c, server_side=True)
        while s.recv(65536):
            pass
    except (OSError, ssl.SSLError):
        pass
    time.sleep(120)

srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
while True:
    c, _ = srv.accept()
    threading.Thread(target=hold, args=(c,), daemon=True).start()
