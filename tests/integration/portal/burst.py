#!/usr/bin/env python3
"""Sends N empty report batches over one keep-alive HTTPS connection and
prints "ok=<200s> limited=<429s> retry_after=<first Retry-After>".
usage: burst.py CA PORT AGENT_ID CREDENTIAL N"""
import http.client
import ssl
import sys

ca, port, agent, cred, n = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
c = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx)
ok = limited = 0
retry = ""
for _ in range(int(n)):
    c.request("POST", "/api/v1/agents/%s/reports" % agent, body=b'{"reports": []}',
              headers={"Authorization": "Bearer " + cred,
                       "Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    if r.status == 200:
        ok += 1
    elif r.status == 429:
        limited += 1
        if not retry:
            retry = r.getheader("Retry-After") or "none"
print("ok=%d limited=%d retry_after=%s" % (ok, limited, retry))
