#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Fresh history: a query answers up to the last drain, the window being filled
# included. With the default 10 s --history.window, a process that started
# burning CPU 3 s ago is already in folded?seconds=3 and history?seconds=3.
#
#   fixture: cpu_chain (as fresh_fx) for 30 s, started mid-window (the agent has run 4 s)
#   agent:   --profiling.frequency=99, default --history.window (10s) and drain interval (1s)
#   checks:  3 s after the fixture starts, folded?seconds=3&comm=fresh_fx names hot_leaf with
#            between 40% (the drain may be up to 1 s behind, the machine is shared) and 120%
#            (+20) of the samples its CPU time so far gives at 99 Hz, and at least 1 s worth;
#            history?seconds=3 (pprof) the same; stackd_history_partials_total{result="held"} > 0.
#            Before the open window was served, folded?seconds=3 held 0 samples of it.
# shellcheck source-path=SCRIPTDIR disable=SC2119
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl

fixture=$(e2e_build_fixture cpu_chain)
cp "$fixture" "$T/fresh_fx"
agent_start --profiling.frequency=99
# Start in the middle of the first window: it closes 10 s after start-up, long after the queries.
sleep 4
e2e_bg fresh_fx "$T/fresh_fx" 30
fx=$BG_PID
sleep 3

# The CPU the fixture got so far (a shared machine may give it less than 3 s): utime + stime.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$fx/stat"; }
hz=$(getconf CLK_TCK)

# Before the window held the last seconds, this was a 404 (no window closed yet): 0 samples.
code=$(curl -sS -m 30 -o "$T/f.txt" -w '%{http_code}' "$AGENT_URL/debug/pprof/folded?seconds=3&comm=fresh_fx")
ticks=$(cpu_ticks)
expected=$((ticks * 99 / hz))
n=0
[[ $code != 200 ]] || n=$(awk '/;hot_leaf / { n += $NF } END { print n + 0 }' "$T/f.txt")
info "folded?seconds=3 -> $code: $n samples end in hot_leaf; the fixture used $ticks/$hz s of CPU: $expected expected at 99 Hz"
check "$((n >= 99 && 10 * n >= 4 * expected && 10 * n <= 12 * expected + 200))" \
	"folded?seconds=3 3 s after the start: $n hot_leaf samples for $expected expected"

code=$(curl -sS -m 30 -o "$T/h.pb.gz" -w '%{http_code}' "$AGENT_URL/debug/pprof/history?seconds=3&comm=fresh_fx")
ticks=$(cpu_ticks)
expected=$((ticks * 99 / hz))
: >"$T/h.tsv"
if [[ $code == 200 ]]; then
	e2e_pprof -raw "$T/h.pb.gz" 2>"$T/h.err" | pprof_flatten >"$T/h.tsv" ||
		fail "pprof -raw: $(cat "$T/h.err")"
else
	info "history?seconds=3 -> $code: $(head -c 300 "$T/h.pb.gz")"
fi
read -r hn leaf < <(awk -F'\t' '{ n += $1; if ($4 ~ /^U:hot_leaf(;|$)/) leaf += $1 }
	END { printf "%d %d\n", n, leaf }' "$T/h.tsv")
info "history?seconds=3: $hn samples, $leaf with hot_leaf as the leaf; $expected expected"
check "$((leaf >= 99 && 10 * leaf >= 4 * expected && 10 * leaf <= 12 * expected + 200))" \
	"history?seconds=3: $leaf hot_leaf samples for $expected expected"

curl -fsS -m 30 -o "$T/m.txt" "$AGENT_URL/metrics" || fail "/metrics failed"
held=$(metric_val "$T/m.txt" 'stackd_history_partials_total{result="held"}')
check "$((${held:-0} > 0))" "stackd_history_partials_total{result=\"held\"} = $held"

kill "$fx" 2>/dev/null || true
e2e_reap "$fx" 30 || true
agent_stop
pass "fresh history: folded ($n) and pprof ($leaf) of the last 3 s hold the spike before its window closes"
