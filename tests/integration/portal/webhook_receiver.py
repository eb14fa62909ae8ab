#!/usr/bin/env python3
"""Webhook receiver for test_portal.sh: HTTPS on 127.0.0.1, answers 500 to
the first POST and 200 afterwards, appending "STATUS BODY" lines to a log.
usage: webhook_receiver.py CERT KEY PORTFILE LOG"""
import http.server
import ssl
import sys

cert, key, portfile, log = sys.argv[1:5]
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8", "replace")
        count += 1
        status = 500 if count == 1 else 200
        with open(log, "a") as f:
            f.write("%d %s\n" % (status, body))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
