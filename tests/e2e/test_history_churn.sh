#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Memory stays bounded under process churn: 1,000 short-lived processes, each
# a new pid with its own label set in every history window it touches.
#
#   fixture: churn_fx (spins ~20 ms, exits), started 1,000 times, two at a time
#   agent:   --profiling.frequency=99 --history.window=1s --history.retention=10m
#            --history.max-bytes=256KiB
#   checks:  every /metrics scrape (every 0.5 s) shows stackd_history_bytes <= the budget;
#            the budget evicted windows and the evictions (and their samples) are counted;
#            the processes seen are released once they exit (stackd_processes_tracked falls back);
#            the agent's peak RSS is printed and stays under 150 MiB.
# shellcheck source-path=SCRIPTDIR disable=SC2119
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" curl

cat >"$T/churn_fx.c" <<'C'
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(void) { volatile unsigned long x = 0; double end = now() + 0.02; while (now() < end) x++; return 0; }
C
"$FIXTURE_CC" -O1 -o "$T/churn_fx" "$T/churn_fx.c" || fail "cannot build churn_fx"

BUDGET=262144
agent_start --profiling.frequency=99 --history.window=1s --history.retention=10m --history.max-bytes=256KiB

# Scrape every 0.5 s while the churn runs; keep the worst figures.
(
	while :; do
		curl -fsS -m 2 "$AGENT_URL/metrics" >"$T/m.tmp" 2>/dev/null && mv "$T/m.tmp" "$T/m.txt" &&
			printf '%s %s %s\n' "$(metric_val "$T/m.txt" stackd_history_bytes)" \
				"$(metric_val "$T/m.txt" process_resident_memory_bytes)" \
				"$(metric_val "$T/m.txt" stackd_processes_tracked)" >>"$T/scrapes.txt"
		sleep 0.5
	done
) &
scraper=$!
e2e_track "$scraper"

t0=$(now_ms)
for ((i = 0; i < 500; i++)); do
	"$T/churn_fx" &
	"$T/churn_fx"
	wait $!
done
info "1000 processes started and exited in $(($(now_ms) - t0)) ms"
sleep 3
kill "$scraper" 2>/dev/null || true
e2e_untrack "$scraper"
curl -fsS -m 5 "$AGENT_URL/metrics" >"$T/final.txt"

read -r scrapes max_hist max_rss max_tracked < <(awk '{ n++; if ($1 > h) h = $1; if ($2 > r) r = $2; if ($3 > t) t = $3 }
	END { printf "%d %d %d %d\n", n, h, r, t }' "$T/scrapes.txt")
ev_budget=$(metric_val "$T/final.txt" 'stackd_history_windows_evicted_total{reason="budget"}')
ev_samples=$(metric_val "$T/final.txt" stackd_history_samples_evicted_total)
held=$(metric_val "$T/final.txt" stackd_history_windows)
hist=$(metric_val "$T/final.txt" stackd_history_bytes)
tracked=$(metric_val "$T/final.txt" stackd_processes_tracked)
labels=$(metric_val "$T/final.txt" stackd_process_labels_bytes)
info "$scrapes scrapes: peak history $max_hist bytes (budget $BUDGET), peak RSS $((max_rss / 1048576)) MiB, peak tracked $max_tracked"
info "after: $held windows in $hist bytes; budget evictions $ev_budget ($ev_samples samples); tracked $tracked; labels $labels bytes"
check "$((scrapes >= 10))" "scraped $scrapes times during the churn"
check "$((max_hist <= BUDGET && hist <= BUDGET))" "history bytes never above the budget (peak $max_hist, now $hist)"
check "$((ev_budget > 0 && ev_samples > 0))" "the budget evicted $ev_budget windows, counted with their $ev_samples samples"
check "$((tracked < max_tracked || max_tracked < 50))" "exited processes are released (tracked $tracked after, peak $max_tracked)"
check "$((max_rss < 150 * 1048576))" "peak RSS $((max_rss / 1048576)) MiB < 150 MiB"
code=$(curl -sS -m 30 -o "$T/h.pb.gz" -w '%{http_code}' "$AGENT_URL/debug/pprof/history?seconds=600&comm=churn_fx")
check "$([[ $code == 200 ]] && echo 1 || echo 0)" "the history still answers for what it holds ($code, $(wc -c <"$T/h.pb.gz") bytes)"

agent_stop
pass "1000 short-lived processes: history peak $max_hist <= $BUDGET bytes, $ev_budget windows evicted by budget, peak RSS $((max_rss / 1048576)) MiB"
