"""A misbehaving portal for agentd's fault tests: HTTPS on loopback, its
behaviour read from MODE_FILE at each request (ok, garbage, huge, slow, 500,
500utf8: an error text of 200 two-byte characters, 429, 429forever: a Retry-After of 99999999999 s, refuse:N: 400 for a batch
that holds seq N, run_backup:NAME: ok, with a run_backup command for job
NAME, id cmd_backup_NAME; open_support_session:ID: ok, with that command
from eve@provider, id ID). The payloads of backup_result, command_result
and support_event reports go to SEQ_FILE.payloads, one JSON line each, once
per seq however often a batch is resent. Every report seq it accepts is appended to SEQ_FILE; it
answers with the highest seq seen, as the real portal would. Each request
is logged to SEQ_FILE.requests as "status first last count". POST
/api/v1/enroll (any mode) writes the request body to SEQ_FILE.enroll and
enrols as the issue 10 contract says: a bastion with the user and forward
port assigned when the request carries ssh_key, null for both if not."""
import gzip, json, os, ssl, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, cert, key, mode_file, seq_file = sys.argv[1:6]
seen = set()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body, extra=None):
        with open(seq_file + ".requests", "a") as f:
            f.write("%d %s\n" % (code, getattr(self, "span", "- - 0")))
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/api/v1/enroll":
            with open(seq_file + ".enroll", "wb") as f:
                f.write(body)
            keyed = "ssh_key" in json.loads(body)
            return self.reply(201, json.dumps({
                "agent_id": "fake-agent", "credential": "agc_fake_credential",
                "report_interval": 60,
                "bastion": {"address": "127.0.0.1:2222",
                            "host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
                            "user": "agents" if keyed else None,
                            "forward_port": 20001 if keyed else None}}).encode())
        mode = open(mode_file).read().strip()
        if mode == "garbage":
            return self.reply(200, b"<html>this is not json</html>")
        if mode == "huge":
            return self.reply(200, b'{"ack":1,"pad":"' + b"x" * (3 << 20) + b'"}')
        if mode == "500":
            return self.reply(500, b'{"error":"database is locked"}')
        if mode == "500utf8":
            # 401 bytes: the 300th is the first of a 2-byte character.
            return self.reply(500, json.dumps({"error": "a" + "\u00e9" * 200},
                ensure_ascii=False).encode())
        if mode == "429":
            return self.reply(429, b'{"error":"slow down"}', {"Retry-After": "2"})
        if mode == "429forever":
            return self.reply(429, b'{"error":"go away"}',
                              {"Retry-After": "99999999999"})
        if mode == "slow":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(30):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(1)
            return
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        assert self.headers["Authorization"] == "Bearer agc_fake_credential"
        reports = json.loads(body)["reports"]
        if reports:
            self.span = "%d %d %d" % (reports[0]["seq"], reports[-1]["seq"],
                                      len(reports))
        if mode.startswith("refuse:"):
            bad = int(mode.split(":")[1])
            for i, r in enumerate(reports):
                if r["seq"] == bad:
                    return self.reply(400, json.dumps({"error":
                        "reports[%d].payload: refused" % i}).encode())
        # A resent batch (its ack was lost or late) is stored once, as the
        # real portal stores each (agent, seq) once; SEQ_FILE still shows
        # every delivery.
        fresh = [r for r in reports if r["seq"] not in seen]
        with open(seq_file, "a") as f:
            for r in reports:
                f.write("%d %s\n" % (r["seq"], r["kind"]))
                seen.add(r["seq"])
        with open(seq_file + ".payloads", "a") as f:
            for r in fresh:
                if r["kind"] in ("backup_result", "command_result",
                                 "support_event"):
                    f.write(json.dumps(r["payload"]) + "\n")
        commands = []
        if mode.startswith("open_support_session:"):
            commands = [{"id": mode.split(":", 1)[1],
                         "type": "open_support_session",
                         "args": {"requested_by": "eve@provider",
                                  "minutes": 30, "reason": "ticket 42"}}]
        if mode.startswith("run_backup:"):
            name = mode.split(":", 1)[1]
            commands = [{"id": "cmd_backup_" + name, "type": "run_backup",
                         "args": {"name": name}}]
        self.reply(200, json.dumps({"ack": max(seen),
                                    "commands": commands}).encode())

srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
