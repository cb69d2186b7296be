#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Abusive clients cost bounded resources and are counted; /metrics keeps answering.
#
#   checks:  profile requests beyond --profiling.max-concurrent-profiles get 503 with
#            Retry-After and a clear message while /metrics answers within 1 s;
#            --web.max-connections-per-client=8: the 9th connection from 127.0.0.1 is closed
#            at once, counted in stackd_http_connections_rejected_total{reason=...per_client};
#            a slow-loris client trickling a header byte every 0.3 s is disconnected within
#            --web.read-timeout (3 s) + 2 s although it never stops sending, /metrics answers
#            meanwhile, stackd_http_connections_timed_out_total counts it.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd curl python3

agent_start --web.max-connections-per-client=8 --web.read-timeout=3s \
	--profiling.max-concurrent-profiles=3

metrics_ms()
{
	local out
	out=$(curl -sS -m 10 -o "$T/metrics.txt" -w '%{http_code} %{time_total}' "$AGENT_URL/metrics" 2>/dev/null) || out="000 0"
	read -r M_CODE M_S <<<"$out"
	M_MS=$(awk -v s="$M_S" 'BEGIN { printf "%d", s * 1000 }')
}

# ---- profiles pile up: 503 for the excess, /metrics unaffected
pids=()
for i in 1 2 3; do
	e2e_bg "prof$i" curl -sS -m 30 -o /dev/null -w '%{http_code}' "$AGENT_URL/debug/pprof/profile?seconds=4"
	pids+=("$BG_PID")
done
sleep 1
code=$(curl -sS -m 10 -D "$T/503.h" -o "$T/503.b" -w '%{http_code}' "$AGENT_URL/debug/pprof/profile?seconds=1")
ra=$(header_value "$T/503.h" Retry-After)
info "4th profile request: HTTP $code, Retry-After '$ra', X-Go-Pprof '$(header_value "$T/503.h" X-Go-Pprof)', body '$(tr -d '\n' <"$T/503.b")'"
check "$((code == 503))" "profile request beyond the limit of 3 -> 503"
[[ $ra =~ ^[0-9]+$ ]] || fail "503 without a numeric Retry-After ('$ra')"
grep -q 'too many concurrent profile requests (limit 3)' "$T/503.b" || fail "503 body does not say why"
metrics_ms
check "$((M_CODE == 200 && M_MS < 1000))" "/metrics with 3 profiles in flight: HTTP $M_CODE in $M_MS ms"
inflight=$(metric_sum "$T/metrics.txt" stackd_http_profile_requests_in_flight)
check "$((inflight == 3))" "stackd_http_profile_requests_in_flight = $inflight"
for p in "${pids[@]}"; do
	e2e_reap "$p" 30 || fail "a profile request failed"
done
for i in 1 2 3; do
	[[ $(cat "$T/prof$i.out") == 200 ]] || fail "profile request $i: HTTP $(cat "$T/prof$i.out")"
done
info "ok: the 3 admitted profile requests answered 200"

# ---- per-client connection limit
cat >"$T/perclient.py" <<'PY'
import socket, sys, time
port, limit = int(sys.argv[1]), int(sys.argv[2])
held = []
for _ in range(limit):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    held.append(s)
time.sleep(0.5)  # let the server register them
extra = socket.create_connection(("127.0.0.1", port), timeout=5)
extra.settimeout(3)
t0 = time.time()
try:
    data = extra.recv(1)
    verdict = "closed" if data == b"" else "data"
except (ConnectionResetError, BrokenPipeError):
    verdict = "closed"
except socket.timeout:
    verdict = "open"
print(verdict, "%.0f" % ((time.time() - t0) * 1000), flush=True)
for s in held:
    s.close()
PY
out=$(python3 "$T/perclient.py" "$AGENT_PORT" 8)
info "9th connection from one client: $out (verdict, ms)"
[[ $out == closed* ]] || fail "9th connection from 127.0.0.1 was not closed ('$out')"
sleep 0.5
metrics_ms
check "$((M_CODE == 200))" "after closing the 8, a new connection is served (HTTP $M_CODE)"
rej=$(awk '$1 == "stackd_http_connections_rejected_total{reason=\"max_connections_per_client\"}" { print $2 }' "$T/metrics.txt")
check "$((rej >= 1))" "stackd_http_connections_rejected_total{reason=\"max_connections_per_client\"} = $rej"

# ---- slow loris: a header byte every 0.3 s, never finishing
cat >"$T/slowloris.py" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
req = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 1000
t0 = time.time()
sent = 0
try:
    for b in req:
        s.send(bytes([b]))
        sent += 1
        time.sleep(0.3)
        if time.time() - t0 > 30:
            break
    # never finished: the header is still open
    print("survived", "%.1f" % (time.time() - t0), sent, flush=True)
except (BrokenPipeError, ConnectionResetError, OSError):
    print("cut", "%.1f" % (time.time() - t0), sent, flush=True)
PY
e2e_bg slowloris python3 "$T/slowloris.py" "$AGENT_PORT"
slow=$BG_PID
sleep 2
metrics_ms
check "$((M_CODE == 200 && M_MS < 1000))" "/metrics while a slow-loris client trickles: HTTP $M_CODE in $M_MS ms"
e2e_reap "$slow" 40 || fail "slow-loris client failed: $(cat "$T/slowloris.out")"
read -r verdict secs sent <"$T/slowloris.out"
info "slow-loris client: $verdict after $secs s, $sent bytes sent"
[[ $verdict == cut ]] || fail "slow-loris connection survived $secs s (want cut near --web.read-timeout=3s)"
check "$(awk -v s="$secs" 'BEGIN { print (s <= 5.5) ? 1 : 0 }')" "cut after $secs s <= read-timeout 3 s + 2.5 s"
metrics_ms
to=$(metric_sum "$T/metrics.txt" stackd_http_connections_timed_out_total)
check "$((to >= 1))" "stackd_http_connections_timed_out_total = $to"
open=$(metric_sum "$T/metrics.txt" stackd_http_connections_open)
info "stackd_http_connections_open = $open"

kill -0 "$AGENT_PID" 2>/dev/null || fail "agent died"
agent_stop TERM
pass "profile pile-up, per-client limit and slow loris are bounded and counted"
