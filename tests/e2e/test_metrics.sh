#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# /metrics is valid Prometheus text 0.0.4 as judged by promtool, has the
# families a user dashboards on, and the sample counter moves.
#
#   checks:  promtool check metrics exits 0;
#            stackd_bpf_samples_total, stackd_build_info, process_cpu_seconds_total,
#            process_resident_memory_bytes present, each with # HELP and # TYPE;
#            Content-Type: text/plain; version=0.0.4; charset=utf-8;
#            stackd_bpf_samples_total increases over 3 s while a fixture burns CPU.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" promtool curl

fixture=$(e2e_build_fixture cpu_chain)
agent_start
# Something on-CPU, so the counter moves even when idle samples are not collected.
e2e_bg cpu_chain "$fixture" 15
info "fixture cpu_chain pid $BG_PID running"
sleep 1.5

code=$(curl -sS -m 10 -D "$T/h1.txt" -o "$T/m1.txt" -w '%{http_code}' "$AGENT_URL/metrics") ||
	fail "GET /metrics failed"
check "$((code == 200))" "GET /metrics -> $code"
info "/metrics: $(wc -l <"$T/m1.txt") lines, $(grep -c '^# TYPE ' "$T/m1.txt" || true) families"

ctype=$(header_value "$T/h1.txt" Content-Type)
want_ctype='text/plain; version=0.0.4; charset=utf-8'
check "$([[ $ctype == "$want_ctype" ]] && echo 1 || echo 0)" "Content-Type is '$ctype' (want '$want_ctype')"

rc=0
promtool check metrics <"$T/m1.txt" >"$T/promtool.out" 2>&1 || rc=$?
if ((rc != 0)); then
	sed 's/^/    /' "$T/promtool.out" >&2
	fail "promtool check metrics exited $rc (3: lint problems, 1: parse error)"
fi
info "ok: promtool check metrics exited 0"

for fam in stackd_bpf_samples_total stackd_build_info process_cpu_seconds_total process_resident_memory_bytes; do
	v=$(metric_sum "$T/m1.txt" "$fam") || fail "metric family $fam missing from /metrics"
	grep -q "^# HELP $fam " "$T/m1.txt" || fail "$fam has no # HELP line"
	grep -q "^# TYPE $fam " "$T/m1.txt" || fail "$fam has no # TYPE line"
	info "ok: $fam present (value $v; $(grep "^# TYPE $fam " "$T/m1.txt"))"
done
grep -q '^# TYPE stackd_bpf_samples_total counter$' "$T/m1.txt" || fail "stackd_bpf_samples_total is not TYPE counter"
grep -q '^# TYPE stackd_build_info gauge$' "$T/m1.txt" || fail "stackd_build_info is not TYPE gauge"
info "stackd_build_info: $(awk '/^stackd_build_info/ { print; exit }' "$T/m1.txt")"
grep -Eq '^stackd_build_info\{.*version="[^"]+".*\} 1$' "$T/m1.txt" ||
	fail "stackd_build_info has no version label or is not 1"

# Families that the agent is documented to export: print, do not require.
for fam in stackd_samples_dropped_total stackd_stack_collisions_total stackd_processes_tracked \
	stackd_drain_duration_seconds process_start_time_seconds process_open_fds; do
	if grep -q "^# TYPE $fam " "$T/m1.txt"; then
		info "also present: $(grep "^# TYPE $fam " "$T/m1.txt" | cut -d' ' -f3-)"
	else
		info "note: $fam not exported"
	fi
done

s1=$(metric_sum "$T/m1.txt" stackd_bpf_samples_total)
t1=$(now_ms)
sleep 3
curl -fsS -m 10 -o "$T/m2.txt" "$AGENT_URL/metrics" || fail "second GET /metrics failed"
t2=$(now_ms)
s2=$(metric_sum "$T/m2.txt" stackd_bpf_samples_total)
rate=$(awk -v a="$s1" -v b="$s2" -v ms=$((t2 - t1)) 'BEGIN { printf "%.1f", (b - a) * 1000 / ms }')
check "$(awk -v a="$s1" -v b="$s2" 'BEGIN { print (b > a) ? 1 : 0 }')" \
	"stackd_bpf_samples_total increased $s1 -> $s2 over $((t2 - t1)) ms ($rate/s; default 19 Hz per busy CPU)"

agent_stop TERM
pass "metrics: promtool clean, required families present, samples counter moving at $rate/s"
