#!/bin/sh
# The portal's web app (issue 12) in Debian's chromium, driven by
# playwright-core (tests/browser/): the real portal with a fleet of fake
# agents in mixed states (critical, unreachable, in maintenance); an
# engineer is refused with a wrong password, logs in, searches, opens a
# host and its charts, runs a check (the fake agent answers), requests a
# support session, acknowledges an alert and logs out; a viewer sees no action; an admin creates an
# enrolment token and sees the commands for a new host. The CSP and the other
# headers are checked, and no console error or CSP violation may happen.
# Screenshots go to $BUILD/screenshots/.
. tests/integration/lib.sh

PORTAL=$BUILD/agentd-portal
PORTAL_PID="" FLEET_PID=""
[ -x "$PORTAL" ] || fail "$PORTAL not built"
command -v curl >/dev/null || fail "curl CLI missing (packaging/build-deps.sh)"
command -v openssl >/dev/null || fail "openssl CLI missing"
if [ ! -x /usr/bin/chromium ] || ! command -v node >/dev/null; then
	# make check installs both (packaging/build-deps.sh); only a machine
	# where they cannot be installed skips this.
	echo "SKIP: test_portal_web: /usr/bin/chromium or node is not installed (apt-get install chromium nodejs npm)"
	exit 0
fi
top=$(pwd)
if [ ! -d tests/browser/node_modules/playwright-core ]; then
	(cd tests/browser && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
	    fail "npm ci in tests/browser failed (playwright-core from the npm registry)"
fi

web_cleanup() {
	for p in $PORTAL_PID $FLEET_PID; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	cleanup
}
trap web_cleanup EXIT

pfail() {
	if [ -s "$T/portal.log" ]; then
		echo "--- last lines of the portal's log:"
		tail -n 20 "$T/portal.log"
	fi
	[ -s "$T/fleet.err" ] && { echo "--- the fake fleet:"; tail -n 20 "$T/fleet.err"; }
	fail "$@"
}

sh tests/integration/portal/mkcerts.sh "$T" >/dev/null 2>&1 ||
    fail "cannot make the test certificates"
# The browser trusts exactly this key (chromium's SPKI pin list).
SPKI=$(openssl pkey -in "$T/server.key" -pubout -outform der 2>/dev/null |
    openssl dgst -sha256 -binary | base64)
[ -n "$SPKI" ] || fail "cannot hash the test server key's SPKI"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DB=$T/portal.db
OPR=$("$PORTAL" operator create fleet --db "$DB" --log-stderr 2>/dev/null) ||
    fail "operator create failed"
ENG_PW=engineer-password-1 VIEW_PW=viewer-password-1 ADM_PW=admin-password-1
printf '%s\n' "$ADM_PW" | "$PORTAL" user create adm --role admin \
    --db "$DB" --password-stdin >/dev/null 2>&1 || fail "user create adm failed"
printf '%s\n' "$ENG_PW" | "$PORTAL" user create eng --role engineer \
    --db "$DB" --password-stdin >/dev/null 2>&1 || fail "user create eng failed"
printf '%s\n' "$VIEW_PW" | "$PORTAL" user create view --role viewer \
    --db "$DB" --password-stdin >/dev/null 2>&1 || fail "user create view failed"

serve() {	# report-interval
	"$PORTAL" serve --listen "127.0.0.1:$PORT" --db "$DB" \
	    --tls-cert "$T/server.pem" --tls-key "$T/server.key" \
	    --report-interval "$1" --log-stderr >>"$T/portal.log" 2>&1 &
	PORTAL_PID=$!
	wait_until 10 curl -sf --cacert "$T/ca.pem" -o /dev/null \
	    "https://127.0.0.1:$PORT/" || pfail "portal did not serve / within 10 s"
}
URL=https://127.0.0.1:$PORT

# --- the static files: exact names, types, ETag, headers, 404 otherwise
serve 1
hdr=$(curl -sS --cacert "$T/ca.pem" -D - -o /dev/null "$URL/")
expect_match "GET / CSP" "$hdr" "[Cc]ontent-[Ss]ecurity-[Pp]olicy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
expect_match "GET / type" "$hdr" "[Cc]ontent-[Tt]ype: text/html; charset=utf-8"
etag=$(printf '%s' "$hdr" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
[ -n "$etag" ] || pfail "GET / has no ETag: $hdr"
expect_eq "GET / If-None-Match" "$(curl -sS --cacert "$T/ca.pem" -o /dev/null \
    -w '%{http_code}' -H "If-None-Match: $etag" "$URL/")" 304
expect_match "app.js type" "$(curl -sS --cacert "$T/ca.pem" -D - -o /dev/null \
    "$URL/static/app.js")" "[Cc]ontent-[Tt]ype: text/javascript"
for p in /static/ /static/nope.js /index.html /static/../portal.db /etc/passwd; do
	expect_eq "GET $p" "$(curl -sS --cacert "$T/ca.pem" -o /dev/null \
	    -w '%{http_code}' --path-as-is "$URL$p")" 404
done
expect_eq "POST /" "$(curl -sS --cacert "$T/ca.pem" -o /dev/null \
    -w '%{http_code}' -d x "$URL/")" 405
expect_eq "GET /api/v1/hosts without a login" "$(curl -sS --cacert "$T/ca.pem" \
    -o /dev/null -w '%{http_code}' "$URL/api/v1/hosts")" 401

# --- the fleet: dead-01 enrols with a 1 s interval and falls silent (the
# portal restarted with 3600 s keeps its interval: unreachable in 3 s)
python3 tests/browser/fakefleet.py "$URL/api/v1" "$T/ca.pem" "$OPR" "$T" dead \
    2>"$T/fleet.err" || pfail "the fake dead-01 did not enrol"
kill -TERM "$PORTAL_PID"
wait "$PORTAL_PID"
serve 3600
python3 tests/browser/fakefleet.py "$URL/api/v1" "$T/ca.pem" "$OPR" "$T" run \
    2>>"$T/fleet.err" &
FLEET_PID=$!
wait_until 30 test -s "$T/fleet.ready" || pfail "the fake fleet did not get ready"
unreach() {
	curl -sS --cacert "$T/ca.pem" -H "Authorization: Bearer $OPR" \
	    "$URL/api/v1/hosts" | grep -q '"status":"unreachable"'
}
wait_until 10 unreach || pfail "dead-01 did not become unreachable"
# The list's agent_version, from each host's inventory (null without one).
expect_eq "agent_version in GET /hosts" "$(curl -sS --cacert "$T/ca.pem" \
    -H "Authorization: Bearer $OPR" "$URL/api/v1/hosts" | python3 -c '
import json, sys
print(sorted((h["hostname"], h["agent_version"]) for h in json.load(sys.stdin)["hosts"]))')" \
    "[('db-01', '0.1.0'), ('dead-01', None), ('web-01', '0.1.0'), ('web-02', '0.1.0')]"
# The fleet's counts by status whatever the page, and the state filter.
expect_eq "states and ?state=critical" "$(curl -sS --cacert "$T/ca.pem" \
    -H "Authorization: Bearer $OPR" "$URL/api/v1/hosts?state=critical&limit=1" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(sorted(r["states"].items()), r["total"], [h["hostname"] for h in r["hosts"]])')" \
    "[('critical', 1), ('ok', 1), ('unreachable', 1), ('warning', 1)] 1 ['web-02']"
expect_eq "?state=bogus" "$(curl -sS --cacert "$T/ca.pem" -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer $OPR" "$URL/api/v1/hosts?state=bogus")" 400

case $BUILD in
/*) shots=$BUILD/screenshots ;;
*) shots=$top/$BUILD/screenshots ;;
esac
mkdir -p "$shots"
start=$(date +%s)
(cd tests/browser && node web.mjs "$URL" "$SPKI" "$shots" "$ENG_PW" "$VIEW_PW" "$ADM_PW") \
    >"$T/browser.log" 2>&1
rc=$?
cat "$T/browser.log"
[ "$rc" -eq 0 ] || pfail "the browser test failed (above)"
echo "browser: $(( $(date +%s) - start )) s; screenshots in $shots"

kill -TERM "$PORTAL_PID"
wait "$PORTAL_PID"
expect_eq "portal exit status" "$?" 0
PORTAL_PID=""
echo "PASS: test_portal_web"
