#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Several scrapers at once: two blocking profile requests overlap, /metrics
# keeps answering while they block, and each profile is a valid gzip pprof.
#
#   checks:  two GET /debug/pprof/profile?seconds=3 at once -> both 200, each blocked ~3 s;
#            GET /metrics every 0.5 s meanwhile -> all 200, max latency < 2 s
#            (a functional check that profiles do not stall /metrics, not a perf target);
#            both bodies start with the gzip magic 1f 8b and go tool pprof -raw reads them.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECS=3
e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl

fixture=$(e2e_build_fixture cpu_chain)
agent_start --profiling.frequency=99
e2e_bg cpu_chain "$fixture" 12
info "fixture cpu_chain pid $BG_PID running"
sleep 1

declare -A prof
for i in 1 2; do
	(exec curl -sS -m 30 -o "$T/p$i.pb.gz" -D "$T/p$i.h" \
		-w '%{http_code} %{time_total}\n' "$AGENT_URL/debug/pprof/profile?seconds=$SECS" \
		>"$T/p$i.w" 2>"$T/p$i.err") &
	prof[$i]=$!
	e2e_track "${prof[$i]}"
done
t0=$(now_ms)
info "two profile requests (seconds=$SECS) in flight; polling /metrics every 0.5 s"

n=0
max_ms=0
codes=""
while kill -0 "${prof[1]}" 2>/dev/null || kill -0 "${prof[2]}" 2>/dev/null; do
	(($(now_ms) - t0 < 20000)) || fail "profile requests still running after 20 s"
	out=$(curl -sS -m 10 -o /dev/null -w '%{http_code} %{time_total}' "$AGENT_URL/metrics" 2>&1) || out="000 10"
	read -r code secs <<<"$out"
	ms=$(awk -v s="$secs" 'BEGIN { printf "%d", s * 1000 }')
	n=$((n + 1))
	codes+="$code "
	((ms > max_ms)) && max_ms=$ms
	[[ $code == 200 ]] || fail "GET /metrics #$n during profiles -> HTTP $code ($out)"
	sleep 0.5
done
info "/metrics during profiles: $n requests, statuses: $codes"
check "$((n >= 4))" "/metrics answered $n times while the profiles blocked (want >= 4 over ~${SECS} s)"
check "$((max_ms < 2000))" "max /metrics latency during profiles: $max_ms ms (want < 2000 ms)"

for i in 1 2; do
	rc=0
	e2e_reap "${prof[$i]}" 30 || rc=$?
	[[ $rc == 0 ]] || { cat "$T/p$i.err" >&2; fail "profile request $i: curl exited $rc"; }
	read -r code secs <"$T/p$i.w"
	ctype=$(header_value "$T/p$i.h" Content-Type)
	size=$(stat -c %s "$T/p$i.pb.gz")
	info "profile $i: HTTP $code, $secs s, $size bytes, Content-Type '$ctype'"
	check "$((code == 200))" "profile request $i -> HTTP $code"
	check "$(awk -v s="$secs" -v w=$SECS 'BEGIN { print (s >= w - 0.1) ? 1 : 0 }')" \
		"profile request $i blocked for its own window ($secs s >= ${SECS}s)"
	magic=$(od -An -tx1 -N2 "$T/p$i.pb.gz" | tr -d ' \n')
	check "$([[ $magic == 1f8b ]] && echo 1 || echo 0)" "profile $i starts with gzip magic ($magic)"
	rc=0
	e2e_pprof -raw "$T/p$i.pb.gz" >"$T/p$i.raw" 2>"$T/p$i.raw.err" || rc=$?
	[[ $rc == 0 ]] || { cat "$T/p$i.raw.err" >&2; fail "go tool pprof -raw cannot read profile $i (exit $rc)"; }
	nsamp=$(pprof_flatten <"$T/p$i.raw" | awk -F'\t' '{ n += $1 } END { print n + 0 }')
	dur=$(sed -n 's/^Duration: //p' "$T/p$i.raw")
	info "ok: go tool pprof reads profile $i: $nsamp samples, Duration: ${dur:-none}"
	check "$((nsamp > 0))" "profile $i has samples ($nsamp)"
done

pass "2 concurrent profiles OK; /metrics max latency $max_ms ms over $n requests"
