# A fleet of fake agents for tests/integration/test_portal_web.sh: enrols
# hosts and posts reports over HTTPS as agentd's reporter does, then keeps
# web-02 reporting and answers the commands the browser creates.
#   fakefleet.py URL CA OPERATOR_TOKEN STATE_DIR dead   one host, one report
#   fakefleet.py URL CA OPERATOR_TOKEN STATE_DIR run    the rest, then serve
import json, os, ssl, sys, time, urllib.request

url, ca, opr, state, mode = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)


def call(method, path, body=None, token=None):
    req = urllib.request.Request(url + path, method=method,
        data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        return json.loads(r.read() or b"null")


class Agent:
    def __init__(self, hostname):
        tok = call("POST", "/tokens", {"expires": 600}, opr)["token"]
        e = call("POST", "/enroll", {"token": tok, "host": {
            "hostname": hostname, "machine_id": "m-" + hostname}})
        self.id, self.cred, self.seq = e["agent_id"], e["credential"], 0
        self.hostname = hostname

    def report(self, kind, payload, t=None):
        self.seq += 1
        return call("POST", "/agents/%s/reports" % self.id, {"reports": [{
            "seq": self.seq, "kind": kind, "time": t or time.time(),
            "payload": payload}]}, self.cred)


def checks(state, t, i=0, extra=None):
    used = 40.0 + i * 0.5
    c = [
        {"name": "cpu", "kind": "collector", "state": "OK",
         "summary": "cpu %d%%" % (10 + i % 7), "when": t,
         "perfdata": [{"label": "usage", "value": 10 + (i * 7) % 30,
                       "uom": "%"}]},
        {"name": "memory", "kind": "collector", "state": "OK",
         "summary": "memory ok", "when": t,
         "perfdata": [{"label": "available", "value": 60 - i % 5,
                       "uom": "%"}]},
        {"name": "load", "kind": "collector", "state": "OK",
         "summary": "load ok", "when": t,
         "perfdata": [{"label": "load1", "value": 0.5 + (i % 4) / 4}]},
        {"name": "filesystems", "kind": "collector", "state": state,
         "summary": "/ %d%% used" % used, "when": t,
         "perfdata": [{"label": "/:used", "value": used, "uom": "%"},
                      {"label": "/:used_bytes", "value": used * 1e9,
                       "uom": "B"}]},
    ]
    return c + (extra or [])


def inventory(a):
    a.report("inventory", {"host": {"hostname": a.hostname, "os":
        "Debian GNU/Linux 12 (bookworm)", "kernel": "6.1.0-27-amd64",
        "arch": "x86_64", "cpus": 4, "memory_bytes": 8219541504,
        "agent_version": "0.1.0", "machine_id": "m-" + a.hostname}})


if mode == "dead":
    a = Agent("dead-01")
    a.report("heartbeat", {"checks": checks("OK", time.time())})
    sys.exit(0)

now = time.time()
web1, web2, db1 = Agent("web-01"), Agent("web-02"), Agent("db-01")
for a in (web1, web2, db1):
    inventory(a)
# A day of history, a heartbeat every two hours, for the charts.
for i in range(12):
    t = now - (12 - i) * 7200
    web1.report("heartbeat", {"checks": checks("OK", t, i)}, t)
    web2.report("heartbeat", {"checks": checks("OK", t, i)}, t)
nginx = {"name": "nginx", "kind": "external", "state": "CRITICAL",
         "summary": "connection refused", "when": now}
web2.report("state_change", {"check": nginx, "previous_state": "OK"})
web2.report("heartbeat", {"checks": checks("OK", now, 12, [nginx])})
web2.report("backup_result", {"job": "etc", "snapshot": "s1", "kind": "full",
    "status": "ok", "files": 120, "bytes": 2500000, "stored_bytes": 900000,
    "started": now - 3600, "duration": 12.5, "errors": []})
until = now + 3600
mark = {"until": until, "reason": "kernel update"}
db1.report("maintenance", {"event": "start", "until": until,
    "reason": "kernel update", "by": "root"})
pg = {"name": "postgres", "kind": "external", "state": "WARNING",
      "summary": "replication lag 40 s", "when": now}
db1.report("state_change", {"check": pg, "previous_state": "OK",
    "maintenance": mark})
db1.report("heartbeat", {"checks": checks("OK", now, 0, [pg]),
    "maintenance": mark})
web1.report("heartbeat", {"checks": checks("OK", now, 12)})
open(os.path.join(state, "fleet.json"), "w").write(json.dumps({
    a.hostname: a.id for a in (web1, web2, db1)}))
open(os.path.join(state, "fleet.ready"), "w").write("ready\n")

# web-02 reports every half second and answers what it is sent.
deadline = time.time() + 300
i = 13
while time.time() < deadline:
    r = web2.report("heartbeat", {"checks": checks("OK", time.time(), i,
        [nginx])})
    i += 1
    for c in (r or {}).get("commands") or []:
        p = {"command_id": c["id"], "type": c["type"], "status": "done"}
        if c["type"] == "run_check":
            p["detail"] = "%s: CRITICAL (ran now)" % c["args"]["name"]
            p["check"] = {"name": c["args"]["name"], "state": "CRITICAL",
                          "summary": "connection refused"}
        elif c["type"] == "open_support_session":
            p["detail"] = "session ses_0123456789abcdef waiting"
            p["session"] = "ses_0123456789abcdef"
            p["state"] = "waiting"
            p["connect"] = ("ssh -J ENGINEER@127.0.0.1:2222 -p 20001 "
                            "root@127.0.0.1")
        else:
            p["status"] = "refused"
            p["detail"] = "not in this test"
        web2.report("command_result", p)
    web1.report("heartbeat", {"checks": checks("OK", time.time(), i)})
    time.sleep(0.5)
