#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The history answers for a process after it has exited: its past windows are
# still there, by pid, by time range (Unix seconds and RFC 3339), as pprof,
# folded stacks and a flame graph; a range the history never held is a 404
# that says what is held.
#
#   fixture: cpu_chain (as hist_fx) for 4 s, then it exits
#   agent:   --profiling.frequency=99 --history.window=2s --history.retention=1m
#   checks:  after the exit (its pid gone from /proc), /debug/pprof/history?pid=<pid> holds its
#            samples (within 20% of its CPU time x 99 Hz, as bash's time reports it), hot_leaf
#            the leaf of >= 80%; the same by start/end as Unix seconds and RFC 3339; folded and
#            flame graph name hot_leaf; a range before the agent started -> 404; bad start -> 400.
# shellcheck source-path=SCRIPTDIR disable=SC2119
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl

fixture=$(e2e_build_fixture cpu_chain)
cp "$fixture" "$T/hist_fx"
t_start=$(date +%s)
agent_start --profiling.frequency=99 --history.window=2s --history.retention=1m
# bash's `time` reports the CPU the fixture got (a shared machine may give it less than 4 s).
e2e_bg hist_fx bash -c 'TIMEFORMAT="%U %S"; time "$1" 4' bash "$T/hist_fx"
rc=0
e2e_reap "$BG_PID" 30 || rc=$?
check "$((rc == 0))" "fixture hist_fx ran 4 s and exited (status $rc)"
t_exit=$(date +%s)
cpu=$(tail -n 1 "$T/hist_fx.out" | awk '{ print $1 + $2 }')
expected=$(awk -v c="$cpu" 'BEGIN { printf "%d", c * 99 }')
info "the fixture used $cpu s of CPU: $expected samples expected at 99 Hz"
fx=$(pgrep -n -x hist_fx || true)
[[ -z $fx ]] || fail "hist_fx still running as pid $fx"
# Its pid, from the profile: the process is gone from /proc.
code=$(curl -sS -m 30 -o "$T/c.pb.gz" -w '%{http_code}' "$AGENT_URL/debug/pprof/history?seconds=60&comm=hist_fx")
[[ $code == 200 ]] || fail "history?comm=hist_fx -> $code"
fx=$(e2e_pprof -raw "$T/c.pb.gz" 2>/dev/null | pprof_flatten | awk -F'\t' '{ print $2; exit }')
[[ $fx =~ ^[0-9]+$ ]] || fail "no pid label in the history of hist_fx"
[[ ! -d /proc/$fx ]] || fail "pid $fx still in /proc"
info "hist_fx was pid $fx; it has exited"
# The window holding its last samples closes within one window (2 s) plus a drain.
sleep 4

code=$(curl -sS -m 30 -o "$T/h.pb.gz" -w '%{http_code}' "$AGENT_URL/debug/pprof/history?seconds=60&pid=$fx")
[[ $code == 200 ]] || fail "history?pid=$fx -> $code: $(head -c 300 "$T/h.pb.gz")"
e2e_pprof -raw "$T/h.pb.gz" >"$T/h.raw" 2>"$T/h.err" || fail "pprof -raw: $(cat "$T/h.err")"
pprof_flatten <"$T/h.raw" >"$T/h.tsv"
read -r n leaf pids < <(awk -F'\t' '{ n += $1; if ($4 ~ /^U:hot_leaf(;|$)/) leaf += $1; p[$2] = 1 }
	END { printf "%d %d %d\n", n, leaf, length(p) }' "$T/h.tsv")
info "history of exited pid $fx: $n samples, $leaf with hot_leaf as the leaf, $pids distinct pid(s)"
check "$((pids == 1))" "only pid $fx in the answer"
check "$((10 * n >= 8 * expected && 10 * n <= 12 * expected))" \
	"$n samples within 20% of the $expected its CPU time gives at 99 Hz"
check "$((n > 0 && 100 * leaf / n >= 80))" "hot_leaf is the leaf of $leaf of $n samples (>= 80%)"

# The same by absolute range: Unix seconds, then RFC 3339.
code=$(curl -sS -m 30 -o "$T/r.pb.gz" -w '%{http_code}' \
	"$AGENT_URL/debug/pprof/history?start=$((t_start - 1))&end=$((t_exit + 1))&pid=$fx")
[[ $code == 200 ]] || fail "history?start=&end= -> $code"
e2e_pprof -raw "$T/r.pb.gz" 2>/dev/null | pprof_flatten >"$T/r.tsv"
n2=$(awk -F'\t' '{ n += $1 } END { print n + 0 }' "$T/r.tsv")
check "$((n2 == n))" "start=$((t_start - 1))&end=$((t_exit + 1)) gives the same $n2 samples"
rfc_s=$(date -u -d "@$((t_start - 1))" +%Y-%m-%dT%H:%M:%SZ)
rfc_e=$(date -u -d "@$((t_exit + 1))" +%Y-%m-%dT%H:%M:%SZ)
code=$(curl -sS -m 30 -o "$T/q.pb.gz" -w '%{http_code}' \
	"$AGENT_URL/debug/pprof/history?start=$rfc_s&end=$rfc_e&pid=$fx")
e2e_pprof -raw "$T/q.pb.gz" 2>/dev/null | pprof_flatten >"$T/q.tsv"
n3=$(awk -F'\t' '{ n += $1 } END { print n + 0 }' "$T/q.tsv")
check "$([[ $code == 200 ]] && echo 1 || echo 0)" "RFC 3339 range $rfc_s..$rfc_e -> $code"
check "$((n3 == n))" "RFC 3339 range gives the same $n3 samples"

curl -fsS -m 30 -o "$T/f.txt" "$AGENT_URL/debug/pprof/folded?seconds=60&pid=$fx" || fail "folded failed"
check "$(grep -c ';hot_leaf' "$T/f.txt" | awk '{ print ($1 > 0) }')" \
	"folded stacks of the exited pid name hot_leaf: $(sort -t' ' -k2 -n "$T/f.txt" | tail -n 1)"
curl -fsS -m 30 -o "$T/fg.html" "$AGENT_URL/flamegraph?seconds=60&pid=$fx" || fail "flamegraph failed"
check "$(grep -c 'hot_leaf' "$T/fg.html" | awk '{ print ($1 > 0) }')" \
	"the flame graph page of the exited pid names hot_leaf ($(wc -c <"$T/fg.html") bytes)"

code=$(curl -sS -m 10 -o "$T/old.txt" -w '%{http_code}' \
	"$AGENT_URL/debug/pprof/history?start=$((t_start - 7200))&end=$((t_start - 3600))")
check "$([[ $code == 404 ]] && echo 1 || echo 0)" "a range before start-up -> $code: $(cat "$T/old.txt")"
code=$(curl -sS -m 10 -o "$T/bad.txt" -w '%{http_code}' "$AGENT_URL/debug/pprof/history?start=yesterday")
check "$([[ $code == 400 ]] && echo 1 || echo 0)" "start=yesterday -> $code: $(cat "$T/bad.txt")"

agent_stop
pass "history after exit: $n samples of pid $fx (hot_leaf $leaf), by seconds, Unix and RFC 3339 ranges, folded and flame graph"
