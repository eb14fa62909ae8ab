#!/bin/sh
# The real portal with --keep-reports 2s: heartbeats are pruned in the
# background and their hourly summaries still feed the metrics endpoint;
# a resent pruned batch is acknowledged and not stored again; state
# changes stay (--keep-events). Alert acknowledgement, its history and
# filters; hostile inputs on the new endpoints; the hosts list's paging.
. tests/integration/lib.sh

PORTAL=$BUILD/agentd-portal
[ -x "$PORTAL" ] || fail "$PORTAL not built"

# --- usage errors of the new options
for o in "--keep-reports 0" "--keep-reports 5x" "--keep-summaries -1d" \
    "--keep-events 99999999d" "--webhook-repeat abc"; do
	# shellcheck disable=SC2086
	"$PORTAL" serve --listen 127.0.0.1:1 --db "$T/x.db" $o >/dev/null 2>&1
	expect_eq "serve $o exit status" "$?" 2
done
out=$("$PORTAL" serve --listen 127.0.0.1:1 --db "$T/x.db" --tls-cert /dev/null --tls-key /dev/null \
    --webhook-repeat 4h 2>&1)
expect_match "--webhook-repeat without --webhook" "$out" "needs --webhook"

make_certs
OPR=$("$PORTAL" operator create alice --db "$T/portal.db" --log-stderr) ||
    fail "operator create"
TOKEN=$("$PORTAL" token create --db "$T/portal.db" --log-stderr) ||
    fail "token create"
python3 tests/integration/portal/webhook_receiver.py "$T/certs/server.pem" \
    "$T/certs/server.key" "$T/hook.port" "$T/hook.log" 2>"$T/hook.err" &
HOOK_PID=$!
wait_until 10 test -s "$T/hook.port" || fail "webhook receiver did not start"
start_portal --keep-reports 2s --webhook-repeat 1s \
    --webhook "https://127.0.0.1:$(cat "$T/hook.port")/hook" \
    --webhook-ca "$T/certs/ca.pem"
trap '[ -n "$PORTAL_PID" ] && kill $PORTAL_PID 2>/dev/null; kill $HOOK_PID 2>/dev/null; cleanup' EXIT
URL=https://127.0.0.1:$PORT/api/v1
req() {
	m=$1 p=$2
	shift 2
	curl -sS --cacert "$T/certs/ca.pem" -X "$m" -w ' %{http_code}' "$@" \
	    "$URL$p"
}
op() {
	m=$1 p=$2
	shift 2
	req "$m" "$p" -H "Authorization: Bearer $OPR" "$@"
}

out=$(req POST /enroll -d "{\"token\": \"$TOKEN\", \"host\": {\"hostname\": \"web-01\", \"machine_id\": \"m1\"}}")
expect_match "enrol" "$out" ' 201$'
AGENT=$(printf '%s' "${out% *}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["agent_id"])')
CRED=$(printf '%s' "${out% *}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["credential"])')

NOW=$(date +%s)
# heartbeats as agentd sends them: cpu usage, memory available, load1,
# filesystems MOUNT:used and MOUNT:used_bytes
hb() {	# seq time cpu
	printf '{"seq": %s, "kind": "heartbeat", "time": %s, "payload": {"checks": [' "$1" "$2"
	printf '{"name": "cpu", "state": "OK", "when": %s, "perfdata": [{"label": "usage", "value": %s, "uom": "%%"}]},' "$2" "$3"
	printf '{"name": "memory", "state": "OK", "when": %s, "perfdata": [{"label": "available", "value": 70}]},' "$2"
	printf '{"name": "load", "state": "OK", "when": %s, "perfdata": [{"label": "load1", "value": 0.5}]},' "$2"
	printf '{"name": "filesystems", "state": "OK", "when": %s, "perfdata": [{"label": "/var:used", "value": 50}, {"label": "/var:used_bytes", "value": 5e9}]}' "$2"
	printf ']}}'
}
printf '{"reports": [%s, %s, %s]}' "$(hb 1 $((NOW - 120)) 10)" \
    "$(hb 2 $((NOW - 60)) 20)" "$(hb 3 "$NOW" 30)" >"$T/batch.json"
post() {
	req POST "/agents/$AGENT/reports" -H "Authorization: Bearer $CRED" \
	    -H 'Content-Type: application/json' --data-binary "@$1"
}
out=$(post "$T/batch.json")
expect_match "heartbeats" "$out" '^\{"ack":3,.* 200$'
cat >"$T/change.json" <<JSON
{"reports": [{"seq": 4, "kind": "state_change", "time": $NOW, "payload":
 {"check": {"name": "nginx", "state": "CRITICAL", "summary": "refused", "when": $NOW}}}]}
JSON
out=$(post "$T/change.json")
expect_match "state change" "$out" '^\{"ack":4,.* 200$'

# --- pruned within a few seconds; the charts keep the data
no_heartbeats() {
	test "$(q "SELECT count(*) FROM reports WHERE kind = 'heartbeat'")" = 0
}
wait_until 15 no_heartbeats ||
    fail "heartbeats not pruned after 15 s with --keep-reports 2s: $(q "SELECT count(*) FROM reports") reports; $(tail -3 "$T/portal.log")"
expect_eq "samples pruned" "$(q "SELECT count(*) FROM samples")" 0
expect_eq "cpu summarised" "$(q "SELECT sum(n) FROM summaries WHERE metric = 'cpu'")" 3
expect_eq "state change kept" "$(q "SELECT count(*) FROM reports WHERE kind = 'state_change'")" 1
grep -q "retention: .* rows pruned" "$T/portal.log" || fail "no retention line in the log"
out=$(op GET "/hosts/$AGENT/metrics?from=$((NOW - 7200))&to=$((NOW + 60))&step=3600")
expect_match "metrics from summaries" "$out" '"name":"cpu","unit":"%","points":\[\[[0-9]+,10(\.0)?,20(\.0)?,30(\.0)?\]\].* 200$'
expect_match "metrics: a filesystem" "$out" '"name":"/var:used_bytes","unit":"B"'
expect_match "metrics: memory used" "$out" '"name":"memory","unit":"%","points":\[\[[0-9]+,30(\.0)?,30(\.0)?,30(\.0)?\]\]'

# --- the agent resends the pruned batch: acknowledged, not stored again
out=$(post "$T/batch.json")
expect_match "resent pruned batch" "$out" '^\{"ack":4,.* 200$'
expect_eq "resent batch not stored" "$(q "SELECT count(*) FROM reports WHERE kind = 'heartbeat'")" 0
expect_eq "resent batch not summarised twice" "$(q "SELECT sum(n) FROM summaries WHERE metric = 'cpu'")" 3

# --- hostile metrics queries
M=/hosts/$AGENT/metrics
for qs in "from=abc" "from=-5" "to=0" "from=100&to=50" "from=5&to=5" \
    "step=0" "step=-1" "step=1e3" "from=1e30" "from=99999999999999999999" \
    "from=0&to=400000000" "step=999999999999"; do
	out=$(op GET "$M?$qs")
	expect_match "metrics ?$qs" "$out" '^\{"error":.* 400$'
done
out=$(op GET "/hosts/no-such-host/metrics")
expect_match "metrics of an unknown host" "$out" ' 404$'
out=$(op GET "$M?from=$((NOW - 3600 * 86400))&to=$NOW&step=1")
expect_match "metrics: 1 s steps over 3600 days raised" "$out" ' 200$'
n=$(printf '%s' "${out% *}" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(max(len(s["points"]) for s in d["series"]) <= 1000 and d["step"] >= (d["to"] - d["from"]) // 1000)')
expect_eq "metrics: at most 1000 points" "$n" True
out=$(op POST "$M")
expect_match "metrics POST" "$out" ' 405$'
out=$(req GET "$M")
expect_match "metrics without a token" "$out" ' 401$'

# --- alerts: repeated every second (--webhook-repeat 1s) until acked
repeats() {
	grep -c '"event":"repeated"' "$T/hook.log" 2>/dev/null || echo 0
}
two_repeats() {
	test "$(repeats)" -ge 2
}
wait_until 15 two_repeats ||
    fail "no two repeated webhooks with --webhook-repeat 1s: $(cat "$T/hook.log")"
ID=$(q "SELECT id FROM alerts WHERE check_name = 'nginx'")
out=$(op POST "/alerts/$ID/ack" -d '{"comment": "looking into it"}')
expect_match "ack" "$out" '"ack":\{"at":[0-9.]+,"by":"operator:alice","comment":"looking into it"\}.* 200$'
expect_match "ack history" "$out" '"history":\[\{"event":"opened".*\{"event":"acknowledged".*"by":"operator:alice"'
acked_event() {
	grep -q '"event":"acknowledged".*"by":"operator:alice"' "$T/hook.log" ||
	    grep -q '"by":"operator:alice".*"event":"acknowledged"' "$T/hook.log"
}
wait_until 10 acked_event || fail "no acknowledged webhook: $(tail -2 "$T/hook.log")"
n1=$(repeats)
sleep 3
expect_eq "repeats after the ack" "$(repeats)" "$n1"
out=$(op POST "/alerts/$ID/ack" -d '{"comment": "again"}')
expect_match "second ack" "$out" 'already acknowledged.* 409$'
out=$(op GET "/alerts/$ID")
expect_match "alert by id" "$out" "\"id\":$ID,.*\"history\":.* 200\$"
out=$(op GET "/alerts?state=open&check=nginx&host=$AGENT")
expect_match "alerts filtered" "$out" "\"id\":$ID,.* 200\$"
out=$(op GET "/alerts?state=closed")
expect_match "closed alerts" "$out" '^\{"alerts":\[\],"next":null\} 200$'
long=$(python3 -c 'print("x" * 1025)')
for body in '{"comment": 5}' '{"comment": ""}' '{}' '[]' 'nope' \
    "{\"comment\": \"$long\"}"; do
	out=$(op POST "/alerts/$ID/ack" -d "$body")
	expect_match "ack body ${body%"${body#??????????}"}..." "$out" ' 400$'
done
python3 -c 'print("{\"comment\": " + "[" * 20000 + "]" * 20000 + "}")' >"$T/deep"
out=$(op POST "/alerts/$ID/ack" --data-binary "@$T/deep")
expect_match "ack body nested 20000 deep" "$out" ' 400$'
head -c 70000 /dev/zero | tr '\0' x >"$T/big"
out=$(op POST "/alerts/$ID/ack" --data-binary "@$T/big")
expect_match "ack body of 70000 bytes" "$out" ' 413$'

for p in /alerts/999999 /alerts/0 /alerts/abc /alerts/-1 /alerts/1x \
    /alerts/99999999999999999999; do
	out=$(op GET "$p")
	expect_match "GET $p" "$out" ' 404$'
done
out=$(op POST /alerts/999999/ack -d '{"comment": "x"}')
expect_match "ack of no alert" "$out" ' 404$'
out=$(op GET "/alerts?state=maybe")
expect_match "alerts ?state=maybe" "$out" ' 400$'
out=$(op DELETE "/alerts/$ID")
expect_match "DELETE an alert" "$out" ' 405$'

# --- hosts: paging, sort, search
out=$(op GET "/hosts?limit=1&sort=status&q=web")
expect_match "hosts page" "$out" "^\\{\"hosts\":\\[\\{\"id\":\"$AGENT\".*\"total\":1,\"states\":\\{\"critical\":1\\}\\} 200\$"
out=$(op GET "/hosts?q=nothing-like-this")
expect_match "hosts search" "$out" '"hosts":\[\],"total":0,"states":\{\}\} 200$'
# LIKE's wildcards are taken literally
for w in %25 _ %5C; do
	out=$(op GET "/hosts?q=$w")
	expect_match "hosts ?q=$w" "$out" '"hosts":\[\],"total":0,"states":\{\}\} 200$'
done
for qs in "limit=0" "limit=1001" "offset=-1" "sort=evil" "limit=x"; do
	out=$(op GET "/hosts?$qs")
	expect_match "hosts ?$qs" "$out" ' 400$'
done
echo "PASS: test_portal_retention"
