#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# What changed between two time ranges: two /debug/pprof/history URLs handed to
# `go tool pprof -diff_base` compare them, with no other tool.
#
#   fixture: phase_shift 8: main -> run_phases -> phase_old -> spin for 8 s, then
#            main -> run_phases -> phase_new -> spin for 8 s; it prints the Unix times of
#            its start, the switch and its end
#   agent:   --profiling.frequency=99 --history.window=2s
#   checks:  base = history from 2 s after the start to 2.5 s before the switch, new = from 2.5 s after
#            the switch to the end (whole 2 s windows: neither range holds a window across the
#            switch); each is the exact chain main;run_phases;phase_X;spin (>= 95%) and holds no sample
#            of the other phase; `go tool pprof -top -cum -diff_base BASE_URL NEW_URL` (the URLs
#            themselves, fetched by pprof) gives phase_new +(its samples in new) and phase_old
#            -(its samples in base), to the sample.
# shellcheck source-path=SCRIPTDIR disable=SC2119
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PHASE=8
MARGIN=2.5

e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl

agent_start --profiling.frequency=99 --history.window=2s
e2e_run_phase_shift "$PHASE"
# Whole seconds: windows are 2 s, so a range whose ends keep MARGIN from the switch holds no
# window across it.
# The base starts a window after the fixture: its first samples are its cold start (its tables
# loading; under load a few can end at libc), which e2e.stack_shapes judges, not this test.
base="start=$(awk -v s="$T_START" 'BEGIN { printf "%d", s + 2 }')&end=$(awk -v s="$T_SWITCH" -v m="$MARGIN" 'BEGIN { printf "%d", s - m }')&pid=$FX"
new="start=$(awk -v s="$T_SWITCH" -v m="$MARGIN" 'BEGIN { printf "%d", s + m + 1 }')&end=$(awk -v s="$T_END" 'BEGIN { printf "%d", s + 1 }')&pid=$FX"
info "fixture: start $T_START, switch $T_SWITCH, end $T_END; base $base; new $new"

# samples_of PB FUNC: the samples whose stack holds FUNC (cum), from -top -cum.
cum_of()
{
	awk -v f="$2" '$NF == f { v = $4; sub(/s$/, "", v); print v + 0; found = 1; exit } END { if (!found) print 0 }' "$1"
}
for r in base new; do
	url="$AGENT_URL/debug/pprof/history?${!r}"
	code=$(curl -sS -m 30 -o "$T/$r.pb.gz" -w '%{http_code}' "$url") || true
	[[ $code == 200 ]] || fail "GET $url: HTTP ${code:-none} $(head -c 300 "$T/$r.pb.gz")"
	rc=0
	e2e_pprof -sample_index=samples -top -cum -nodecount=50 "$T/$r.pb.gz" >"$T/$r.top" 2>"$T/$r.err" || rc=$?
	((rc == 0)) || { cat "$T/$r.err" >&2; fail "go tool pprof -top ($r) exited with status $rc"; }
	e2e_pprof -symbolize=none -raw "$T/$r.pb.gz" >"$T/$r.raw" 2>"$T/$r.err" || fail "go tool pprof -raw ($r) failed"
	pprof_flatten <"$T/$r.raw" >"$T/$r.tsv"
done
read -r b_old b_new < <(echo "$(cum_of "$T/base.top" phase_old) $(cum_of "$T/base.top" phase_new)")
read -r n_old n_new < <(echo "$(cum_of "$T/new.top" phase_old) $(cum_of "$T/new.top" phase_new)")
info "base: phase_old $b_old, phase_new $b_new samples; new: phase_old $n_old, phase_new $n_new samples"
check "$((b_old > 100 && b_new == 0))" "the base range holds phase_old ($b_old samples) and no phase_new ($b_new)"
check "$((n_new > 100 && n_old == 0))" "the new range holds phase_new ($n_new samples) and no phase_old ($n_old)"
# The exact chain, leaf first, user frames only, in >= 95% of each range's samples: the bar
# of e2e.stack_shapes (a process's first samples may be walked before its tables are in).
for r in base new; do
	ph=phase_old
	[[ $r == new ]] && ph=phase_new
	read -r all exact < <(chain_share "$T/$r.tsv" \
		"^spin;$ph;run_phases;main;__libc_start_call_main;__libc_start_main(_impl)?;_start\$" "$T/$r.other")
	if [[ -s $T/$r.other ]]; then
		info "$r: other chains (samples, user frames leaf first):"
		cut -c1-400 "$T/$r.other" | sed 's/^/      /'
	fi
	check "$((all > 0 && 100 * exact >= 95 * all))" \
		"$r: $exact of $all samples have the exact chain spin <- $ph <- run_phases <- main <- ... <- _start"
done

# The comparison, as a user types it: two stackd URLs.
rc=0
e2e_pprof -sample_index=samples -top -cum -nodecount=50 \
	-diff_base "$AGENT_URL/debug/pprof/history?$base" "$AGENT_URL/debug/pprof/history?$new" \
	>"$T/diff.top" 2>"$T/diff.err" || rc=$?
((rc == 0)) || { cat "$T/diff.err" >&2; fail "go tool pprof -diff_base exited with status $rc"; }
sed 's/^/    /' "$T/diff.top" | head -n 14
d_old=$(cum_of "$T/diff.top" phase_old)
d_new=$(cum_of "$T/diff.top" phase_new)
check "$((d_new == n_new - b_new))" "-diff_base: phase_new $d_new = new $n_new - base $b_new"
check "$((d_old == n_old - b_old))" "-diff_base: phase_old $d_old = new $n_old - base $b_old (grown: +, shrunk: -)"

# The same comparison as a page: /flamegraph?<new range>&base=FROM,TO, its table of changes.
bfrom=${base#start=}
bfrom=${bfrom%%&*}
bto=${base#*end=}
bto=${bto%%&*}
code=$(curl -sS -m 30 -o "$T/diff.html" -w '%{http_code}' "$AGENT_URL/flamegraph?$new&base=$bfrom,$bto") || true
rows=$(grep -o '<tr class="\(grew\|shrank\)"><td>[0-9]*</td><td class="fn">[^<]*</td>' "$T/diff.html" |
	sed 's/<tr class="\([a-z]*\)"><td>\([0-9]*\)<\/td><td class="fn">\([^<]*\)<\/td>/\2 \1 \3/')
info "diff page (HTTP $code), its table: $(echo "$rows" | head -n 3 | tr '\n' ';') ... $(echo "$rows" | tail -n 1)"
check "$([[ $code == 200 ]] && grep -q 'differential flame graph' "$T/diff.html" &&
	[[ $(echo "$rows" | head -n 1) == "1 grew phase_new" && $(echo "$rows" | tail -n 1) == *" shrank phase_old" ]] &&
	echo 1 || echo 0)" "/flamegraph?...&base=: a differential page listing phase_new first as grown, phase_old last as shrunk"
code=$(curl -sS -m 30 -o "$T/bad_base.txt" -w '%{http_code}' "$AGENT_URL/flamegraph?$new&base=$bto,$bfrom") || true
check "$([[ $code == 400 ]] && echo 1 || echo 0)" "base=TO,FROM: HTTP $code ($(head -c 120 "$T/bad_base.txt"))"
agent_stop
pass "history ranges compare with go tool pprof -diff_base: phase_new +$d_new, phase_old $d_old"
