#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# CPU seconds counted from samples agree with the kernel's own accounting,
# and the function allowlist exports the CPU of the functions it names.
#
#   fixture: cpu_chain (one busy thread) named cpu_sec_fx, for 40 s
#   agent:   --profiling.frequency=99 --metrics.functions=hot_leaf,level_t*
#   checks:  over 30 s, the growth of stackd_cpu_seconds_total{comm="cpu_sec_fx"} is within 5%
#            of the growth of utime + stime in /proc/PID/stat (the target);
#            stackd_function_cpu_seconds_total{function="hot_leaf"} grew at least as much,
#            within 5% (hot_leaf is on every stack of the fixture), level_two and level_three got series from the glob,
#            level_one (no match) did not; the cut counters are 0.
# shellcheck source-path=SCRIPTDIR disable=SC2119
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" curl

fixture=$(e2e_build_fixture cpu_chain)
cp "$fixture" "$T/cpu_sec_fx"
agent_start --profiling.frequency=99 '--metrics.functions=hot_leaf,level_t*'
e2e_bg cpu_sec_fx "$T/cpu_sec_fx" 40
fx=$BG_PID
e2e_track "$fx"
tick=$(getconf CLK_TCK)

# proc_cpu: utime + stime of the fixture, in seconds.
proc_cpu()
{
	awk -v hz="$tick" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$fx/stat"
}
# metric NAME LABELS: the value of one sample of /metrics now (0 when absent).
metric()
{
	curl -fsS -m 5 -o "$T/scrape.txt" "$AGENT_URL/metrics" || fail "cannot scrape /metrics"
	metric_val "$T/scrape.txt" "$1{$2}"
}

sleep 3 # past start-up, so both clocks count a steady busy loop
m0=$(metric stackd_cpu_seconds_total 'comm="cpu_sec_fx",container=""')
f0=$(metric stackd_function_cpu_seconds_total 'function="hot_leaf"')
p0=$(proc_cpu)
sleep 30
m1=$(metric stackd_cpu_seconds_total 'comm="cpu_sec_fx",container=""')
f1=$(metric stackd_function_cpu_seconds_total 'function="hot_leaf"')
p1=$(proc_cpu)
read -r dm df dp err ferr < <(awk -v m0="$m0" -v m1="$m1" -v f0="$f0" -v f1="$f1" -v p0="$p0" -v p1="$p1" \
	'BEGIN { dm = m1 - m0; df = f1 - f0; dp = p1 - p0
		printf "%.3f %.3f %.3f %.2f %.2f\n", dm, df, dp, dp ? 100 * (dm - dp) / dp : 100, dp ? 100 * (df - dp) / dp : 100 }')
info "over 30 s: samples say $dm s, /proc/$fx/stat says $dp s (utime+stime): ${err}% apart"
info "hot_leaf: $df s (${ferr}% from /proc)"
check "$(awk -v e="$err" 'BEGIN { print (e <= 5 && e >= -5) }')" "stackd_cpu_seconds_total within 5% of /proc ($err%)"
check "$(awk -v d="$dp" 'BEGIN { print (d > 5) }')" "the fixture was busy ($dp s of CPU in 30 s)"
# The series is per function, over every process: another process running hot_leaf adds to
# it (not in CI, where e2e tests run one at a time), so only the lower bound is strict.
check "$(awk -v e="$ferr" 'BEGIN { print (e >= -5) }')" \
	"stackd_function_cpu_seconds_total{function=\"hot_leaf\"} at least /proc's figure - 5% ($ferr%)"

curl -fsS -m 5 "$AGENT_URL/metrics" >"$T/metrics.txt"
grep '^stackd_function_cpu_seconds_total' "$T/metrics.txt" | sed 's/^/    /'
for fn in level_two level_three; do
	check "$(grep -c "^stackd_function_cpu_seconds_total{function=\"$fn\"}" "$T/metrics.txt")" \
		"the glob level_t* made a series for $fn"
done
check "$(grep -c '^stackd_function_cpu_seconds_total{function="level_one"}' "$T/metrics.txt" | awk '{ print ($1 == 0) }')" \
	"no series for level_one (matches no pattern)"
for c in stackd_cpu_seconds_cut_total stackd_function_cpu_seconds_cut_total; do
	v=$(metric_val "$T/metrics.txt" "$c")
	check "$(awk -v v="$v" 'BEGIN { print (v != "" && v + 0 == 0) }')" "$c = $v"
done
if command -v promtool >/dev/null; then
	if ! promtool check metrics <"$T/metrics.txt" >"$T/promtool.txt" 2>&1; then
		cat "$T/promtool.txt" >&2
		fail "promtool check metrics found problems"
	fi
	info "promtool check metrics: ok"
fi

agent_stop
pass "CPU seconds from samples $dm s vs /proc $dp s ($err%); hot_leaf $df s ($ferr%)"
