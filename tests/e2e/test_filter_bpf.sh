#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The in-kernel sampling filter: with --profiling.pids or --profiling.cgroups only the
# listed processes (or the tasks of the listed cgroups and their descendants) reach a
# profile; every other sample is dropped in the kernel and counted.
#
#   fixtures: two copies of cpu_chain (A and B), each burning one CPU
#   agent:    --profiling.frequency=99, and in turn
#             --profiling.pids=<A>
#             --profiling.cgroups=<cgroup2 mount>/stackd-e2e-N (absolute; B is in its child)
#             --profiling.cgroups=/stackd-e2e-N/leaf (relative, as /proc/B/cgroup shows it)
#             --profiling.cgroups=<a cgroup that does not exist>
#   checks:   every sample of each profile carries the kept pid, none another pid, and the
#             kept fixture has >= 25% of 99 Hz x the window (the fixtures share 2 CPUs);
#             stackd_bpf_samples_filtered_total grows by >= 25% of one busy CPU's samples;
#             only the kept process was announced (stackd_process_events_total{type="new_process"});
#             a nonexistent cgroup: exit status 2 and a message naming the path.
#   cleanup:  the EXIT trap moves the fixture back to the root cgroup and removes the cgroups.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HZ=99
WINDOW=5
CG_ROOT=""   # the cgroup2 mount
CG_PARENT="" # our cgroup under it, and its child holding fixture B
CG_LEAF=""

# Runs before lib.sh's cleanup: a cgroup with a live process in it cannot be removed.
cgroup_cleanup()
{
	local rc=$? d p
	set +e
	trap - ERR
	for d in "$CG_LEAF" "$CG_PARENT"; do
		[[ -n $d && -d $d ]] || continue
		while read -r p; do
			echo "$p" >"$CG_ROOT/cgroup.procs" 2>/dev/null
		done <"$d/cgroup.procs"
	done
	for d in "$CG_LEAF" "$CG_PARENT"; do
		[[ -n $d && -d $d ]] && { rmdir "$d" || printf '[%s] cleanup: cannot remove %s\n' "$E2E_NAME" "$d" >&2; }
	done
	(exit "$rc")
	e2e_cleanup
}
trap cgroup_cleanup EXIT

e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl

# The cgroup2 mount: /sys/fs/cgroup on a pure v2 system, /sys/fs/cgroup/unified on a hybrid one.
CG_ROOT=$(awk '/ - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
[[ -n $CG_ROOT && -w $CG_ROOT/cgroup.procs ]] ||
	skip_or_fail "no writable cgroup2 mount (/proc/self/mountinfo: '${CG_ROOT:-none}'); --profiling.cgroups needs cgroup v2"
info "cgroup2 mounted at $CG_ROOT"

# profile NAME: fetch a $WINDOW s profile with go tool pprof -raw into $T/NAME.tsv
# (pprof_flatten: COUNT PID COMM FRAMES) and /metrics before and after into $T/NAME.m0, .m1.
profile()
{
	local name=$1 rc=0
	curl -fsS -m 10 -o "$T/$name.m0" "$AGENT_URL/metrics" || fail "GET /metrics failed"
	e2e_pprof_bg "$name" -symbolize=none -raw "$AGENT_URL/debug/pprof/profile?seconds=$WINDOW"
	e2e_reap "$BG_PID" 120 || rc=$?
	if ((rc != 0)); then
		cat "$T/$name.err" >&2
		fail "$name: go tool pprof -raw exited with status $rc"
	fi
	curl -fsS -m 10 -o "$T/$name.m1" "$AGENT_URL/metrics" || fail "GET /metrics failed"
	pprof_flatten <"$T/$name.txt" >"$T/$name.tsv"
}

# only_pid NAME KEEP DROP: every sample of profile NAME has pid KEEP; the filter counter grew.
only_pid()
{
	local name=$1 keep=$2 drop=$3 total kept other dropped others f0 f1 ev
	read -r total kept dropped others < <(awk -F'\t' -v k="$keep" -v d="$drop" '
		{ n += $1; if ($2 == k) kk += $1; else { o += $1; if ($2 == d) dd += $1
			else if (!($2 in seen)) { seen[$2] = 1; list = list " " $2 "(" $3 ")" } } }
		END { printf "%d %d %d %s\n", n, kk, dd, list == "" ? "-" : list }' "$T/$name.tsv")
	other=$((total - kept))
	info "$name: $total samples in the profile: $kept of pid $keep, $dropped of pid $drop, others: $others"
	# Two busy fixtures, the agent and pprof share the CPUs: a quarter of one CPU is plenty.
	check "$((kept * 4 >= HZ * WINDOW))" \
		"$name: pid $keep has $kept samples (want >= 25% of $HZ Hz x $WINDOW s = $((HZ * WINDOW / 4)))"
	check "$((other == 0))" "$name: every sample belongs to pid $keep ($other do not; $dropped of them pid $drop)"

	grep -q '^# TYPE stackd_bpf_samples_filtered_total counter$' "$T/$name.m1" ||
		fail "$name: stackd_bpf_samples_filtered_total missing or not a counter"
	f0=$(metric_val "$T/$name.m0" stackd_bpf_samples_filtered_total)
	f1=$(metric_val "$T/$name.m1" stackd_bpf_samples_filtered_total)
	check "$(awk -v a="$f0" -v b="$f1" -v w=$((HZ * WINDOW / 4)) 'BEGIN { print (b - a >= w) ? 1 : 0 }')" \
		"$name: stackd_bpf_samples_filtered_total $f0 -> $f1 over the window (want +$((HZ * WINDOW / 4)) at least: pid $drop alone burns a CPU)"
	# Filtered samples announce no process: the kept fixture is the only one the kernel reported.
	ev=$(metric_val "$T/$name.m1" 'stackd_process_events_total{type="new_process"}')
	check "$(awk -v e="$ev" 'BEGIN { print (e == 1) ? 1 : 0 }')" \
		"$name: new-process events $ev (want 1: only pid $keep)"
}

fixture=$(e2e_build_fixture cpu_chain)
e2e_bg fixture_a "$fixture" 120
fx_a=$BG_PID
e2e_bg fixture_b "$fixture" 120
fx_b=$BG_PID
info "fixtures: A pid $fx_a, B pid $fx_b (cpu_chain, one CPU each)"

# ---- a cgroup that does not exist: refused at start-up, naming it
missing="$CG_ROOT/stackd-e2e-missing-$$"
rc=0
timeout -k 5 20 "$STACKD_BIN" --web.listen-address=127.0.0.1:"$(e2e_free_port)" \
	--profiling.cgroups="$missing" >"$T/missing.out" 2>&1 </dev/null || rc=$?
info "--profiling.cgroups=$missing -> exit $rc: $(head -n 3 "$T/missing.out" | tr '\n' ' ')"
check "$((rc == 2))" "a nonexistent cgroup: exit status $rc (want 2, a usage error)"
check "$(grep -qF -- "$missing" "$T/missing.out" && grep -q 'no such cgroup' "$T/missing.out" && echo 1 || echo 0)" \
	"the message names the path and says 'no such cgroup'"

# ---- by pid: only A
agent_start --profiling.frequency=$HZ --profiling.pids="$fx_a"
sleep 1
profile pids
only_pid pids "$fx_a" "$fx_b"
agent_stop

# ---- by cgroup: B in a child of the listed cgroup (the ancestor walk), absolute path
CG_PARENT=$CG_ROOT/stackd-e2e-$$-$RANDOM
CG_LEAF=$CG_PARENT/leaf
mkdir "$CG_PARENT" "$CG_LEAF"
echo "$fx_b" >"$CG_LEAF/cgroup.procs"
rel=$(sed -n 's/^0:://p' "/proc/$fx_b/cgroup")
info "fixture B moved to $CG_LEAF (/proc/$fx_b/cgroup: 0::$rel)"
check "$([[ $rel == "${CG_PARENT#"$CG_ROOT"}/leaf" ]] && echo 1 || echo 0)" "/proc/$fx_b/cgroup shows the new cgroup"

agent_start --profiling.frequency=$HZ --profiling.cgroups="$CG_PARENT"
sleep 1
profile cgroup_abs
only_pid cgroup_abs "$fx_b" "$fx_a"
agent_stop

# ---- by cgroup, the path as /proc/PID/cgroup shows it (relative to the cgroup2 mount)
agent_start --profiling.frequency=$HZ --profiling.cgroups="$rel"
sleep 1
profile cgroup_rel
only_pid cgroup_rel "$fx_b" "$fx_a"
agent_stop

pass "filter_bpf: by pid, by ancestor cgroup (absolute and /proc/PID/cgroup paths) only the kept process is profiled; the rest is dropped in the kernel and counted"
