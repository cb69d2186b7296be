#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A few pods must not lock Prometheus out (issue 10, item 5).
#
#   checks:  with default flags, a crowd of 200 held connections (nothing or a partial header
#            sent) and 50 connections trickling a header byte a second, from 127.0.0.2-9 and
#            re-opened whenever the server closes one, every /metrics scrape from 127.0.0.10
#            (curl every 200 ms for 15 s) succeeds, with p99 <= STACKD_CROWD_P99_MS (default
#            250 ms: the issue's target is 100 ms, the bound allows for a 2-CPU machine shared
#            with other jobs; the measured p99 is printed); the same with
#            --web.max-connections=64, where the crowd is larger than the limit and the
#            scrapes get in by evicting crowd connections (stackd_http_connections_evicted_total);
#            12 concurrent profile requests add at most 4 threads to the agent (none is held
#            per request); a profile request whose client disconnects frees its slot at once
#            (stackd_http_profile_requests_in_flight and stackd_http_connections_open drop
#            within 1 s, stackd_http_profile_requests_abandoned_total counts it).
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd curl python3

CROWD=$(dirname "${BASH_SOURCE[0]}")/crowd.py
P99_MAX_MS=${STACKD_CROWD_P99_MS:-250}
SCRAPER_IP=127.0.0.10

metrics_get()
{
	curl -sS -m 5 --interface "$SCRAPER_IP" -o "$T/metrics.txt" "$AGENT_URL/metrics" ||
		fail "/metrics from $SCRAPER_IP failed"
}

# scrape_under_crowd LABEL: the crowd for 18 s; /metrics from 127.0.0.10 every 200 ms for 15 s.
scrape_under_crowd()
{
	local label=$1 crowd n ok p50 p99 t_end p scrapers=()
	e2e_bg "crowd_$label" python3 "$CROWD" "$AGENT_PORT" 18 200 50 2 8
	crowd=$BG_PID
	sleep 2 # the crowd is in place
	: >"$T/scrapes_$label.txt"
	t_end=$(($(now_ms) + 15000))
	# A scrape every 200 ms, each in the background so that a slow one does not space the
	# next out (75 in 15 s, as in the issue); each appends one short line (O_APPEND).
	while (($(now_ms) < t_end)); do
		curl -sS -m 2 --interface "$SCRAPER_IP" -o /dev/null -w '%{http_code} %{time_total}\n' \
			"$AGENT_URL/metrics" >>"$T/scrapes_$label.txt" 2>/dev/null &
		scrapers+=($!)
		sleep 0.2
	done
	for p in "${scrapers[@]}"; do
		wait "$p" || true # each ends within its -m 2
	done
	e2e_reap "$crowd" 30 || fail "crowd client failed: $(cat "$T/crowd_$label.out")"
	info "$label: crowd: $(cat "$T/crowd_$label.out")"
	n=$(wc -l <"$T/scrapes_$label.txt")
	ok=$(awk '$1 == 200' "$T/scrapes_$label.txt" | wc -l)
	read -r p50 p99 < <(awk '{ printf "%d\n", $2 * 1000 }' "$T/scrapes_$label.txt" | sort -n |
		awk '{ v[NR] = $1 } END { i50 = int(NR * 0.50 + 0.999); i99 = int(NR * 0.99 + 0.999);
			print v[i50], v[i99] }')
	info "$label: $ok of $n scrapes from $SCRAPER_IP succeeded; p50 $p50 ms, p99 $p99 ms (issue target 100 ms)"
	check "$((ok == n))" "$label: every scrape succeeded ($ok/$n)"
	check "$((n >= 50))" "$label: $n scrapes in 15 s"
	check "$((p99 <= P99_MAX_MS))" "$label: scrape p99 $p99 ms <= $P99_MAX_MS ms"
}

# Profile requests first: the crowd's Python process costs the drain thread a long
# symbolization afterwards, which would delay the windows' ends (not their slots).
# --unwind.mode=fp: this test is about the HTTP server; the DWARF unwinder of main as of
# this writing can crash on the curl processes (symbolize/src/unwind.c jit_fp_step).
AGENT_FLAGS=(--unwind.mode=fp)
agent_start "${AGENT_FLAGS[@]}"

# ---- N concurrent profile requests do not take N threads
threads() { ls "/proc/$AGENT_PID/task" | wc -l; }
t0=$(threads)
pids=()
for i in $(seq 1 12); do
	e2e_bg "prof$i" curl -sS -m 30 -o /dev/null -w '%{http_code}' "$AGENT_URL/debug/pprof/profile?seconds=4"
	pids+=("$BG_PID")
done
for _ in $(seq 1 30); do
	metrics_get
	(($(metric_sum "$T/metrics.txt" stackd_http_profile_requests_in_flight) == 12)) && break
	sleep 0.1
done
inflight=$(metric_sum "$T/metrics.txt" stackd_http_profile_requests_in_flight)
t1=$(threads)
info "threads: $t0 before, $t1 with $inflight profile requests waiting"
check "$((inflight == 12))" "12 profile requests in flight"
check "$((t1 - t0 <= 4))" "12 waiting profile requests add $((t1 - t0)) threads (<= 4)"
for p in "${pids[@]}"; do
	e2e_reap "$p" 30 || fail "a profile request failed"
done
for i in $(seq 1 12); do
	[[ $(cat "$T/prof$i.out") == 200 ]] || fail "profile request $i: HTTP $(cat "$T/prof$i.out")"
done
info "ok: the 12 profile requests answered 200"

# ---- a profile request whose client goes away frees its slot at once
metrics_get
open0=$(metric_sum "$T/metrics.txt" stackd_http_connections_open)
e2e_bg gone curl -sS -m 60 -o /dev/null "$AGENT_URL/debug/pprof/profile?seconds=30"
gone=$BG_PID
for _ in $(seq 1 30); do
	metrics_get
	(($(metric_sum "$T/metrics.txt" stackd_http_profile_requests_in_flight) == 1)) && break
	sleep 0.1
done
check "$(($(metric_sum "$T/metrics.txt" stackd_http_profile_requests_in_flight) == 1))" \
	"the 30 s profile request is in flight"
kill "$gone" 2>/dev/null || true
e2e_reap "$gone" 5 || true
t_kill=$(now_ms)
freed=0
for _ in $(seq 1 20); do
	metrics_get
	if (($(metric_sum "$T/metrics.txt" stackd_http_profile_requests_in_flight) == 0 &&
		$(metric_sum "$T/metrics.txt" stackd_http_connections_open) <= open0)); then
		freed=1
		break
	fi
	sleep 0.05
done
info "slot freed $(($(now_ms) - t_kill)) ms after the client went away (connections open: $open0 before," \
	"$(metric_sum "$T/metrics.txt" stackd_http_connections_open) after)"
check "$freed" "the abandoned profile request freed its slot and connection within 1 s"
ab=$(metric_sum "$T/metrics.txt" stackd_http_profile_requests_abandoned_total)
check "$((ab == 1))" "stackd_http_profile_requests_abandoned_total = $ab"

# ---- the issue's case: default flags
scrape_under_crowd default
metrics_get
open=$(metric_sum "$T/metrics.txt" stackd_http_connections_open)
info "after the crowd left: stackd_http_connections_open = $open"
kill -0 "$AGENT_PID" 2>/dev/null || fail "agent died"
agent_stop TERM

# ---- a crowd larger than --web.max-connections: scrapes get in by eviction
agent_start "${AGENT_FLAGS[@]}" --web.max-connections=64
scrape_under_crowd max64
metrics_get
ev=$(metric_sum "$T/metrics.txt" stackd_http_connections_evicted_total)
check "$((ev >= 1))" "stackd_http_connections_evicted_total = $ev"
kill -0 "$AGENT_PID" 2>/dev/null || fail "agent died"
agent_stop TERM
pass "scrapes succeed under a crowd of held and slow connections; profile requests hold no thread"
