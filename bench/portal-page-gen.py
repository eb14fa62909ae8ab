#!/usr/bin/env python3
"""Fills an agentd-portal database (already created and migrated by the
portal itself: `agentd-portal operator create`) with a simulated fleet,
written straight into the portal's schema (portal/store.c, version 8):

  HOSTS hosts (default 10000), each with 12 checks in mixed states
  (about 90% OK, 6% WARNING, 3% CRITICAL, 1% unreachable), their open
  alerts, an inventory, a backup job, and one heartbeat report (the
  latest) with its sample;
  HB_HOSTS of them (default 2) with DAYS days (default 30) of heartbeats
  every INTERVAL seconds (default 60) and their samples, as ingest writes
  them (reports.payload, samples.fs).

Full density for every host (10000 x 43200 heartbeats, ~600 GB) does not
fit a bench machine; the per-host density of the heavy hosts is the real
one, so a host page and its charts cost what they would in the full
fleet, and the DB size is extrapolated per host by the caller.

usage: portal-page-gen.py DB
"""
import json
import os
import random
import sqlite3
import sys
import time
import uuid

HOSTS = int(os.environ.get("HOSTS", "10000"))
HB_HOSTS = int(os.environ.get("HB_HOSTS", "2"))
DAYS = float(os.environ.get("DAYS", "30"))
INTERVAL = int(os.environ.get("INTERVAL", "60"))
CHECKS = ["cpu", "memory", "load", "filesystems", "forecast", "uptime",
          "processes", "network", "diskio", "journal", "nginx", "ntp"]
FS = ["/", "/var"]


def perf(label, value, uom):
    return {"label": label, "value": round(value, 2), "uom": uom}


def checks_at(t, rnd, states):
    out = []
    for name, state in zip(CHECKS, states):
        c = {"name": name, "kind": "collector", "state": state,
             "summary": "%s %s" % (name, state.lower()), "when": t,
             "last_change": t - 86400, "interval": INTERVAL}
        if name == "cpu":
            c["perfdata"] = [perf("usage", rnd.uniform(1, 95), "%")]
        elif name == "memory":
            c["perfdata"] = [perf("available", rnd.uniform(10, 90), "%"),
                             perf("available_bytes", 4e9, "B")]
        elif name == "load":
            c["perfdata"] = [perf("load1", rnd.uniform(0, 4), ""),
                             perf("load5", 1.0, ""), perf("load15", 1.0, "")]
        elif name == "filesystems":
            c["perfdata"] = []
            for fs in FS:
                pct = rnd.uniform(20, 95)
                c["perfdata"] += [perf(fs + ":used", pct, "%"),
                                  perf(fs + ":used_bytes", pct * 1e9, "B"),
                                  perf(fs + ":inodes", 3.0, "%")]
        out.append(c)
    return out


def sample_row(agent, t, seq, checks):
    cpu = mem = load = None
    fs = ""
    for c in checks:
        pd = {p["label"]: p["value"] for p in c.get("perfdata", [])}
        if c["name"] == "cpu":
            cpu = pd.get("usage")
        elif c["name"] == "memory":
            mem = 100 - pd["available"]
        elif c["name"] == "load":
            load = pd.get("load1")
        elif c["name"] == "filesystems":
            for k, v in pd.items():
                if k.endswith(":used") or k.endswith(":used_bytes"):
                    fs += "%s\t%r\n" % (k, float(v))
    return (agent, t, seq, cpu, mem, load, fs or None)


def main():
    db = sqlite3.connect(sys.argv[1])
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    rnd = random.Random(1)
    now = time.time()
    t0 = time.monotonic()
    agents, checks, alerts, backups, reports, samples = [], [], [], [], [], []
    heavy = []
    for i in range(HOSTS):
        aid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        r = rnd.random()
        unreachable = 1 if r < 0.01 else 0
        states = ["OK"] * len(CHECKS)
        if 0.01 <= r < 0.04:
            states[rnd.randrange(len(CHECKS))] = "CRITICAL"
        elif 0.04 <= r < 0.10:
            states[rnd.randrange(len(CHECKS))] = "WARNING"
        hostname = "host-%05d.example.net" % i
        inv = json.dumps({"hostname": hostname, "os": "Debian GNU/Linux 12",
                          "kernel": "6.1.0-27-amd64", "arch": "x86_64",
                          "cpus": 4, "memory_bytes": 8219541504,
                          "agent_version": "0.1.0", "machine_id": aid})
        last = now - (600 if unreachable else rnd.uniform(0, 60))
        seq = 1
        if i < HB_HOSTS:
            heavy.append((aid, states))
            seq = int(DAYS * 86400 / INTERVAL)
        agents.append((aid, "x" * 64, aid.replace("-", ""), hostname, inv,
                       now - 90 * 86400, last, INTERVAL, seq, unreachable))
        cl = checks_at(last, rnd, states)
        for c, st in zip(cl, states):
            fc = None
            if c["name"] == "forecast":
                fc = json.dumps({"item": "/var", "resource": "space",
                                 "eta": 9 * 86400, "rate": 2e9, "unit": "B",
                                 "when": last})
            checks.append((aid, c["name"], st, last - 86400, last,
                           json.dumps(c, separators=(",", ":")), seq, fc))
            if st in ("WARNING", "CRITICAL"):
                alerts.append((aid, "check", c["name"], st, c["summary"],
                               last - 3600))
        if unreachable:
            alerts.append((aid, "unreachable", None, "UNREACHABLE",
                           "no report for 10 minutes", last + 180))
        backups.append((aid, "etc", "snap", "full", "ok", 1000, 10**8,
                        10**7, 20.0, last - 3600, "[]", last - 3600))
        if i >= HB_HOSTS:
            payload = json.dumps({"agent": {"version": "0.1.0"},
                                  "checks": cl}, separators=(",", ":"))
            reports.append((aid, seq, "heartbeat", last, last, payload))
            samples.append(sample_row(aid, last, seq, cl))
    db.executemany("INSERT INTO agents (id, cred_hash, machine_id, hostname, "
                   "inventory, enrolled, last_seen, report_interval, "
                   "max_seq, unreachable) VALUES (?,?,?,?,?,?,?,?,?,?)",
                   agents)
    db.executemany("INSERT INTO checks (agent_id, name, state, since, at, "
                   "result, seq, forecast) VALUES (?,?,?,?,?,?,?,?)", checks)
    db.executemany("INSERT INTO alerts (agent_id, kind, check_name, state, "
                   "summary, opened) VALUES (?,?,?,?,?,?)", alerts)
    db.executemany("INSERT INTO backups VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                   backups)
    db.executemany("INSERT INTO reports VALUES (?,?,?,?,?,?)", reports)
    db.executemany("INSERT INTO samples VALUES (?,?,?,?,?,?,?)", samples)
    db.commit()
    n = int(DAYS * 86400 / INTERVAL)
    for aid, states in heavy:
        rows, srows = [], []
        for k in range(n):
            t = now - DAYS * 86400 + (k + 1) * INTERVAL
            cl = checks_at(t, rnd, states)
            payload = json.dumps({"agent": {"version": "0.1.0"},
                                  "checks": cl}, separators=(",", ":"))
            rows.append((aid, k + 1, "heartbeat", t, t, payload))
            srows.append(sample_row(aid, t, k + 1, cl))
            if len(rows) == 5000:
                db.executemany("INSERT INTO reports VALUES (?,?,?,?,?,?)",
                               rows)
                db.executemany("INSERT INTO samples VALUES (?,?,?,?,?,?,?)",
                               srows)
                rows, srows = [], []
        db.executemany("INSERT INTO reports VALUES (?,?,?,?,?,?)", rows)
        db.executemany("INSERT INTO samples VALUES (?,?,?,?,?,?,?)", srows)
        db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    print("generated %d hosts (%d with %g days of heartbeats every %d s: "
          "%d reports each), %d checks, %d open alerts in %.1f s" %
          (HOSTS, len(heavy), DAYS, INTERVAL, n, len(checks), len(alerts),
           time.monotonic() - t0))
    for aid, _ in heavy:
        print("heavy host", aid)


if __name__ == "__main__":
    main()
