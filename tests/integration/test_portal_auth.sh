#!/bin/sh
# The portal's operator accounts (issue 12, item 6) against the real
# agentd-portal over TLS: login and its cookie, CSRF and Origin checks,
# roles, login rate limiting, idle and absolute session expiry, logout,
# bearer tokens unchanged, the audit log, and hostile logins (a large or
# deeply nested body, a slow body, 1000 parallel logins from one address
# while another client is served).
. tests/integration/lib.sh

PORTAL=$BUILD/agentd-portal
[ -x "$PORTAL" ] || fail "$PORTAL not built"
PORTAL_PID=""
auth_cleanup() {
	[ -n "$PORTAL_PID" ] && kill "$PORTAL_PID" 2>/dev/null
	[ -n "$PORTAL_PID" ] && wait "$PORTAL_PID" 2>/dev/null
	cleanup
}
trap auth_cleanup EXIT
pfail() {
	echo "--- last lines of the portal's log:"
	tail -n 20 "$T/portal.log" 2>/dev/null
	fail "$@"
}

make_certs
DB=$T/portal.db

# --- the user commands: passwords never from argv
printf 'admin-password-1\n' | "$PORTAL" user create alice --role admin \
    --db "$DB" --password-stdin --log-stderr >/dev/null ||
    fail "user create alice"
printf 'engineer-password-1\n' | "$PORTAL" user create bob --role engineer \
    --db "$DB" --password-stdin --log-stderr >/dev/null ||
    fail "user create bob"
# No terminal and no --password-stdin: a password generated, printed once.
GEN=$("$PORTAL" user create carol --role viewer --db "$DB" --log-stderr \
    </dev/null) || fail "user create carol"
[ ${#GEN} -eq 24 ] || fail "generated password: expected 24 characters, got '$GEN'"
out=$(printf 'x\n' | "$PORTAL" user create dave --role viewer --db "$DB" \
    --password-stdin --log-stderr 2>&1)
expect_eq "short password refused" "$?" 1
out=$("$PORTAL" user create dave --role root --db "$DB" 2>&1 </dev/null)
expect_eq "bad role is a usage error" "$?" 2
out=$(printf 'other-password-1\n' | "$PORTAL" user create alice --role admin \
    --db "$DB" --password-stdin 2>&1)
expect_eq "duplicate user refused" "$?" 1
printf 'erin-password-1\n' | "$PORTAL" user create erin --role admin \
    --db "$DB" --password-stdin --log-stderr >/dev/null || fail "user create erin"
"$PORTAL" user disable erin --db "$DB" --log-stderr >/dev/null ||
    fail "user disable erin"
list=$("$PORTAL" user list --db "$DB") || fail "user list"
expect_match "user list shows bob's role" "$list" "bob +engineer"
case $list in *'$argon2id$'*) fail "user list shows a hash";; esac
expect_match "stored hash is Argon2id" "$(q "SELECT hash FROM users WHERE name = 'bob'")" '^\$argon2id\$v=19\$m=65536,t=2,p=1\$'
OPTOKEN=$("$PORTAL" operator create ops --db "$DB" --log-stderr) ||
    fail "operator create"
ENRTOKEN=$("$PORTAL" token create --db "$DB" --expires 1h --log-stderr) ||
    fail "token create"

start_portal --session-idle 2s --session-ttl 5s --request-timeout 4
export PORT CA=$T/certs/ca.pem OPTOKEN ENRTOKEN GEN

python3 - <<'PY' || pfail "API checks failed (above)"
import http.client, json, os, socket, ssl, sys, threading, time

PORT = int(os.environ["PORT"])
ctx = ssl.create_default_context(cafile=os.environ["CA"])
ctx.check_hostname = False
failed = []

def check(what, ok, detail=""):
    if not ok:
        failed.append(what)
        print("FAIL:", what, detail)

def req(method, path, body=None, headers=None, src="127.0.0.1", raw=None):
    c = http.client.HTTPSConnection("127.0.0.1", PORT, context=ctx,
                                    timeout=30, source_address=(src, 0))
    h = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    c.request(method, "/api/v1/" + path, body=data, headers=h)
    r = c.getresponse()
    text = r.read()
    c.close()
    try:
        j = json.loads(text) if text else None
    except ValueError:
        j = None
    return r.status, r, j

def login(name, pw, src="127.0.0.1"):
    st, r, j = req("POST", "login", {"name": name, "password": pw}, src=src)
    cookie = None
    if st == 200:
        cookie = r.getheader("Set-Cookie")
    return st, r, j, cookie

def cookie_hdr(setcookie, csrf=None, extra=None):
    h = {"Cookie": setcookie.split(";")[0]}
    if csrf is not None:
        h["X-CSRF-Token"] = csrf
    h.update(extra or {})
    return h

BEARER = {"Authorization": "Bearer " + os.environ["OPTOKEN"]}

# An enrolled host to command (the agent's side, by hand).
st, _, j = req("POST", "enroll", {"token": os.environ["ENRTOKEN"], "host": {
    "hostname": "web-01", "machine_id": "0f8c5a1e9b7d4c3a8e2f6b1d0c9a7e5f",
    "os": "Debian", "kernel": "6.1", "arch": "x86_64", "cpu_model": "x",
    "cpus": 1, "memory_bytes": 1024, "agent_version": "0.1.0"}})
check("enrol a host", st == 201, st)
HOST = j["agent_id"] if st == 201 else "none"
CMD = {"type": "run_check", "args": {"name": "disk"}}

# --- no cookie, no token
st, _, _ = req("GET", "hosts")
check("no cookie -> 401", st == 401, st)
st, _, _ = req("GET", "session", headers={"Cookie": "agentd_session=ses_forged"})
check("unknown session -> 401", st == 401, st)

# --- login
st, _, _, _ = login("alice", "wrong-password")
check("wrong password -> 401", st == 401, st)
st, _, _, _ = login("nobody", "wrong-password")
check("unknown user -> 401", st == 401, st)
st, _, _, _ = login("erin", "erin-password-1")
check("disabled user -> 401", st == 401, st)
t0 = time.monotonic()
st, r, j, admin = login("alice", "admin-password-1")
print("login latency: %.0f ms" % ((time.monotonic() - t0) * 1000))
check("login ok -> 200", st == 200, st)
attrs = [a.strip() for a in admin.split(";")]
check("cookie name", attrs[0].startswith("agentd_session=ses_"), admin)
check("cookie flags exactly HttpOnly, Secure, SameSite=Strict, Path=/",
      sorted(attrs[1:]) == ["HttpOnly", "Path=/", "SameSite=Strict", "Secure"],
      admin)
check("login reply", j["user"] == "alice" and j["role"] == "admin" and
      j["csrf"].startswith("csr_"), j)
ACSRF = j["csrf"]
check("no-store on login", r.getheader("Cache-Control") == "no-store")

# --- a session reads; state changes need the CSRF token and same origin
st, _, j = req("GET", "session", headers=cookie_hdr(admin))
check("GET session with cookie", st == 200 and j["csrf"] == ACSRF and
      j["kind"] == "session", (st, j))
st, _, _ = req("GET", "hosts", headers=cookie_hdr(admin))
check("GET hosts with cookie", st == 200, st)
st, _, _ = req("POST", "tokens", {}, headers=cookie_hdr(admin))
check("POST without X-CSRF-Token -> 403", st == 403, st)
st, _, _ = req("POST", "tokens", {}, headers=cookie_hdr(admin, "csr_wrong"))
check("POST with wrong X-CSRF-Token -> 403", st == 403, st)
st, _, _ = req("POST", "tokens", {}, headers=cookie_hdr(admin, ACSRF[:-1] + "A"))
check("POST with a one-character-off token -> 403", st == 403, st)
st, _, _ = req("POST", "tokens", {}, headers=cookie_hdr(admin, ACSRF,
               {"Origin": "https://evil.example"}))
check("cross-site Origin -> 403", st == 403, st)
st, _, _ = req("POST", "tokens", {}, headers=cookie_hdr(admin, ACSRF,
               {"Sec-Fetch-Site": "cross-site"}))
check("Sec-Fetch-Site cross-site -> 403", st == 403, st)
st, _, j = req("POST", "tokens", {"expires": 3600}, headers=cookie_hdr(admin,
               ACSRF, {"Origin": "https://127.0.0.1:%d" % PORT,
                       "Sec-Fetch-Site": "same-origin"}))
check("admin creates a token with CSRF and same origin", st == 201 and
      j["token"].startswith("enr_"), (st, j))
st, _, _ = req("POST", "hosts/%s/commands" % HOST, CMD,
               headers=cookie_hdr(admin, ACSRF))
check("admin runs a check", st == 201, st)

# --- roles
st, _, j, eng = login("bob", "engineer-password-1")
check("engineer login", st == 200, st)
ECSRF = j["csrf"]
st, _, _ = req("POST", "hosts/%s/commands" % HOST, CMD,
               headers=cookie_hdr(eng, ECSRF))
check("engineer runs a check -> 201", st == 201, st)
st, _, _ = req("POST", "tokens", {}, headers=cookie_hdr(eng, ECSRF))
check("engineer creates a token -> 403", st == 403, st)
st, _, _ = req("GET", "audit", headers=cookie_hdr(eng))
check("engineer reads the audit log -> 403", st == 403, st)
st, _, j, view = login("carol", os.environ["GEN"])
check("viewer login with the generated password", st == 200, st)
VCSRF = j["csrf"]
st, _, _ = req("GET", "hosts/%s" % HOST, headers=cookie_hdr(view))
check("viewer reads a host", st == 200, st)
st, _, _ = req("POST", "hosts/%s/commands" % HOST, CMD,
               headers=cookie_hdr(view, VCSRF))
check("viewer POST command -> 403", st == 403, st)
st, _, _ = req("DELETE", "hosts/%s" % HOST, headers=cookie_hdr(eng, ECSRF))
check("engineer revokes an agent -> 403", st == 403, st)

# --- users through the API: admin only; disabling ends the sessions
st, _, _ = req("POST", "users", {"name": "dan", "role": "viewer",
               "password": "dan-password-1"}, headers=cookie_hdr(eng, ECSRF))
check("engineer creates a user -> 403", st == 403, st)
st, _, _ = req("POST", "users", {"name": "dan", "role": "viewer",
               "password": "dan-password-1"}, headers=cookie_hdr(admin))
check("admin creates a user without CSRF -> 403", st == 403, st)
st, _, j = req("POST", "users", {"name": "dan", "role": "viewer",
               "password": "dan-password-1"}, headers=cookie_hdr(admin, ACSRF))
check("admin creates a user -> 201", st == 201, (st, j))
st, _, _ = req("POST", "users", {"name": "dan", "role": "root",
               "password": "dan-password-1"}, headers=cookie_hdr(admin, ACSRF))
check("a bad role -> 400", st == 400, st)
st, _, _, dan = login("dan", "dan-password-1")
check("the new user logs in", st == 200, st)
st, _, _ = req("DELETE", "users/dan", headers=cookie_hdr(admin, ACSRF))
check("admin disables the user -> 204", st == 204, st)
st, _, _ = req("GET", "hosts", headers=cookie_hdr(dan))
check("a disabled user's session -> 401", st == 401, st)
st, _, j = req("GET", "users", headers=BEARER)
check("users list shows dan disabled", st == 200 and any(
      u["name"] == "dan" and u["disabled"] for u in j), j)

# --- bearer operator token: unchanged, no CSRF, admin rights
st, _, _ = req("POST", "hosts/%s/commands" % HOST, CMD, headers=BEARER)
check("bearer POST command without CSRF", st == 201, st)
st, _, j = req("GET", "session", headers=BEARER)
check("bearer session is admin", st == 200 and j["role"] == "admin" and
      "csrf" not in j, (st, j))
st, _, _ = req("GET", "tokens", headers=BEARER)
check("bearer lists tokens", st == 200, st)
st, _, _ = req("GET", "hosts", headers={"Authorization": "Bearer opr_wrong"})
check("wrong bearer -> 401", st == 401, st)

# --- logout
st, r, _ = req("POST", "logout", headers=cookie_hdr(view, VCSRF))
check("logout -> 204", st == 204, st)
check("logout clears the cookie", "Max-Age=0" in (r.getheader("Set-Cookie") or ""))
st, _, _ = req("GET", "hosts", headers=cookie_hdr(view))
check("after logout -> 401", st == 401, st)

# --- idle expiry (--session-idle 2s)
time.sleep(2.5)
st, _, _ = req("GET", "hosts", headers=cookie_hdr(eng))
check("idle session -> 401", st == 401, st)

# --- absolute expiry (--session-ttl 5s), although never idle
st, _, j, s2 = login("bob", "engineer-password-1")
check("login again", st == 200, st)
t0 = time.monotonic()
ok = True
while time.monotonic() - t0 < 4.0:
    st, _, _ = req("GET", "hosts", headers=cookie_hdr(s2))
    ok = ok and st == 200
    time.sleep(0.8)
check("a busy session works until its ttl", ok)
time.sleep(max(0, 5.3 - (time.monotonic() - t0)))
st, _, _ = req("GET", "hosts", headers=cookie_hdr(s2))
check("session past --session-ttl -> 401", st == 401, st)

# --- the audit log
st, _, j, admin = login("alice", "admin-password-1")
ACSRF = j["csrf"]
st, _, _ = req("DELETE", "hosts/%s" % HOST, headers=cookie_hdr(admin, ACSRF))
check("admin revokes the agent -> 204", st == 204, st)
st, _, j = req("GET", "audit?limit=500", headers=cookie_hdr(admin))
check("audit readable by admin", st == 200, st)
acts = [(x["actor"], x["action"], x["target"]) for x in j["records"]] if st == 200 else []
for want in [("anonymous", "login", "alice"), ("anonymous", "login.failed", "nobody"),
             ("user:alice", "token.create", None),
             ("user:bob", "command.create", HOST),
             ("operator:ops", "command.create", HOST),
             ("user:carol", "logout", "carol"),
             ("user:alice", "agent.revoke", HOST),
             ("cli", "user.create", "bob"), ("cli", "user.disable", "erin"),
             ("user:alice", "user.create", "dan"),
             ("user:alice", "user.disable", "dan")]:
    check("audit has %s" % (want,), want in acts, acts[:5])
check("audit records a source address",
      all(x["source"] in ("127.0.0.1", "cli") for x in j["records"]))
st, _, p1 = req("GET", "audit?limit=2", headers=BEARER)
st2, _, p2 = req("GET", "audit?limit=2&before=%d" % p1["next"], headers=BEARER)
check("audit paging", st == 200 and st2 == 200 and len(p1["records"]) == 2
      and p2["records"][0]["id"] < p1["records"][1]["id"] + 0 + 1 and
      p2["records"][0]["id"] == p1["records"][1]["id"] - 1, (p1, p2))

# --- rate limiting of one name (5 failures), from another address
for i in range(5):
    st, _, _, _ = login("bob", "wrong-%d" % i, src="127.0.0.2")
    check("failure %d -> 401" % (i + 1), st == 401, st)
st, r, _, _ = login("bob", "engineer-password-1", src="127.0.0.2")
ra = r.getheader("Retry-After")
check("after 5 failures even the right password -> 429", st == 429, st)
check("429 has Retry-After", ra is not None and int(ra) >= 1, ra)
st, _, _, _ = login("bob", "engineer-password-1", src="127.0.0.3")
check("the name is limited from any address", st == 429, st)
time.sleep(int(ra or 1) + 0.2)
st, _, _, _ = login("bob", "engineer-password-1", src="127.0.0.2")
check("after Retry-After the right password works", st == 200, st)

# --- hostile login bodies
st, _, _ = req("POST", "login", raw=b'{"name":"' + b"a" * 20000 + b'"}',
               headers={"Content-Type": "application/json"})
check("huge login body -> 413", st == 413, st)
st, _, _ = req("POST", "login", raw=b"[" * 4000 + b"]" * 4000)
check("deeply nested login body -> 400", st == 400, st)
st, _, _ = req("POST", "login", {"name": "alice", "password": "p" * 2000})
check("overlong password -> 400", st == 400, st)

# A slow login body is cut off at --request-timeout 4.
raw = socket.create_connection(("127.0.0.1", PORT))
s = ctx.wrap_socket(raw)
s.sendall(b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: "
          b"application/json\r\nContent-Length: 100\r\n\r\n{")
t0 = time.monotonic()
s.settimeout(1)
closed = False
while time.monotonic() - t0 < 10 and not closed:
    try:
        s.sendall(b" ")
        if s.recv(4096) == b"":
            closed = True
    except socket.timeout:
        pass
    except (OSError, ssl.SSLError):
        closed = True
check("a slow login body is cut off within the request timeout",
      closed and time.monotonic() - t0 < 7, time.monotonic() - t0)

# 1000 logins in parallel from one address (127.0.0.5) while another
# client is served: the hash slots and the per-address limit bound them.
results = {}
lock = threading.Lock()
def flood(n):
    for i in range(n):
        try:
            st, _, _, _ = login("alice", "flood-%d" % i, src="127.0.0.5")
        except Exception:
            st = "error"
        with lock:
            results[st] = results.get(st, 0) + 1
threads = [threading.Thread(target=flood, args=(20,)) for _ in range(50)]
for t in threads:
    t.start()
lat = []
t_end = time.monotonic() + 60
while any(t.is_alive() for t in threads) and time.monotonic() < t_end:
    t0 = time.monotonic()
    st, _, _ = req("GET", "hosts", headers=BEARER, src="127.0.0.6")
    lat.append(time.monotonic() - t0)
    check("GET served during the flood", st == 200, st)
    time.sleep(0.1)
for t in threads:
    t.join(60)
print("flood results: %s; other client's GET latency max %.0f ms over %d"
      % (results, max(lat) * 1000 if lat else -1, len(lat)))
check("1000 logins answered", sum(results.values()) == 1000, results)
check("no login of the flood succeeded", 200 not in results, results)
check("other requests not stalled (max < 3 s)", lat and max(lat) < 3.0, lat)

if failed:
    print("%d checks failed" % len(failed))
    sys.exit(1)
PY
kill "$PORTAL_PID" 2>/dev/null
wait "$PORTAL_PID" 2>/dev/null
PORTAL_PID=""
grep -q "login ok: alice from 127.0.0.1" "$T/portal.log" ||
    pfail "no login event in the log"
grep -q "login failed: nobody from 127.0.0.1" "$T/portal.log" ||
    pfail "no failed login event in the log"
echo "ok: test_portal_auth"
