#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Hostile registers and stacks do not crash the unwinder (issue 10): processes
# that spin in code without CFI, from an anonymous executable mapping, with
# rsp = 8, rsp = 2^64 - 8, rsp in a hole of the address space, or rbp in a frame
# that names itself as its caller. Before the fix, rsp = 8 with a wild rbp
# crashed the agent within seconds in the then default mode (auto).
#
#   fixtures: hostile_unwind rsp8|rsphigh|unmapped|rbploop (one process each), and
#             cpu_chain (main -> level_one -> level_two -> level_three -> hot_leaf,
#             clang -fno-omit-frame-pointer, with CFI) alongside
#   agent:    --profiling.frequency=99, the default --unwind.mode (kernel) and dwarf, sampling
#             only the test's own cgroup (--profiling.cgroups): on a busy node the first
#             drains would otherwise spend their time symbolizing everyone else's binaries
#   checks:   per mode, over a 12 s window (after the first drain): the agent stays alive
#             and answers /metrics every 2 s, samples drained (stackd_samples_drained_total +
#             stackd_unwind_samples_total{path="dwarf"}) rise;
#             the unwinder saw them (dwarf: stackd_unwind_dwarf_ends_total{reason="bad_regs"},
#             kernel: stackd_unwind_walks_total{end="bad_frame"} moved);
#             the 10 s profile has samples of each hostile pid whose leaf is the
#             fixture's loop (a raw address at page offset 0: there is no symbol), and in
#             dwarf mode exactly 1 user frame (rbploop: 2); cpu_chain keeps its
#             exact stack in >= 80% of its samples; the agent exits 0 on SIGTERM.
#   prints:   per-pid sample counts and leaves, the unwind counters that moved.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HZ=99
WINDOW=10
LEAD=3 # seconds between fixture start and window start (tables loaded)
FX_SECS=150 # alarm() in the fixture; the test kills them well before
VARIANTS="rsp8 rsphigh unmapped rbploop"
MODES=${HOSTILE_MODES:-default dwarf}
MIN_CHAIN_PCT=80

e2e_require_bpf
e2e_require_cmd clang go curl

hostile=$T/hostile_unwind
clang -O1 -g -Wall -o "$hostile" "$STACKD_SRC/tests/fixtures/hostile_unwind.c" >&2 ||
	fail "cannot build fixture hostile_unwind"
chain=$(e2e_build_fixture cpu_chain)
CG=$(e2e_cgroup2_mount)/stackd-e2e-hostile-$$
e2e_cgroup_make "$CG"

# in_cg NAME CMD...: e2e_bg, the process moved into $CG before it execs CMD.
in_cg()
{
	local name=$1
	shift
	# shellcheck disable=SC2016 # $$ and $@ are the inner shell's
	e2e_bg "$name" bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "$@"
}

# scrape NAME: /metrics into $T/NAME, failing when the agent is gone or does not answer.
scrape()
{
	kill -0 "$AGENT_PID" 2>/dev/null || fail "the agent (pid $AGENT_PID) died"
	curl -fsS -m 10 -o "$T/$1" "$AGENT_URL/metrics" || fail "GET /metrics failed (agent pid $AGENT_PID)"
}

for mode in $MODES; do
	info "==== unwind mode: $mode"
	flags=("--profiling.frequency=$HZ" "--profiling.cgroups=$CG")
	[[ $mode == default ]] || flags+=(--unwind.mode="$mode")
	agent_start "${flags[@]}"
	scrape "$mode.m0"

	declare -A fx_pid=() fx_code=()
	for v in $VARIANTS; do
		in_cg "$mode.$v" "$hostile" "$v" "$FX_SECS"
		fx_pid[$v]=$BG_PID
	done
	in_cg "$mode.chain" "$chain" "$FX_SECS"
	chain_pid=$BG_PID
	sleep 0.5
	for v in $VARIANTS; do
		# "pid N variant V code 0x... rsp ... rbp ..."
		fx_code[$v]=$(awk '{ print $6; exit }' "$T/$mode.$v.out")
		[[ ${fx_code[$v]} == 0x* ]] || fail "fixture $v did not start: $(cat "$T/$mode.$v.out")"
		info "fixture $v: pid ${fx_pid[$v]}, $(cat "$T/$mode.$v.out")"
	done
	info "fixture cpu_chain: pid $chain_pid"
	sleep "$LEAD"
	# Wait for the first drain (bounded), so the window below measures steady state.
	t0=$(now_ms)
	while scrape "$mode.wait" && [[ $(metric_val "$T/$mode.wait" stackd_drains_total) == 0 ]]; do
		(($(now_ms) - t0 < 60000)) || fail "no drain finished within 60 s of the fixtures starting"
		sleep 0.5
	done
	info "first drain done $(($(now_ms) - t0)) ms after the lead time"

	url="$AGENT_URL/debug/pprof/profile?seconds=$WINDOW"
	info "fetching $url while scraping /metrics every 2 s"
	(curl -sS -m $((WINDOW + 30)) -o "$T/$mode.pb.gz" -w '%{http_code}' "$url" >"$T/$mode.code" \
		2>"$T/$mode.curl.err") &
	curl_pid=$!
	e2e_track "$curl_pid"
	# Alive and answering every 2 s, and draining over the window. Samples come back by two
	# paths: the counts maps (stackd_samples_drained_total) and, for the processes unwound
	# with DWARF (here: all of them, once auto mode switched them), the ring buffer
	# (stackd_unwind_samples_total{path="dwarf"}); both are summed. Only the window's ends
	# are compared: on a loaded node one drain can take seconds.
	drained()
	{
		awk -v a="$(metric_val "$1" stackd_samples_drained_total)" \
			-v b="$(metric_val "$1" 'stackd_unwind_samples_total{path="dwarf"}')" 'BEGIN { printf "%d %d %d\n", a + b, a, b }'
	}
	scrape "$mode.s0"
	read -r first _ < <(drained "$T/$mode.s0")
	for i in 1 2 3 4 5 6; do
		sleep 2
		scrape "$mode.s$i"
		read -r sum fp dw < <(drained "$T/$mode.s$i")
		info "mode=$mode t=$((2 * i)) s: agent alive; samples drained $sum (counts maps $fp, DWARF ring $dw)"
	done
	check "$((sum > first))" \
		"mode=$mode: alive for 12 s of hostile samples and still draining: samples drained $first -> $sum"
	e2e_reap "$curl_pid" $((WINDOW + 30)) || true
	code=$(cat "$T/$mode.code" 2>/dev/null || true)
	[[ $code == 200 ]] || fail "GET $url: HTTP ${code:-none} $(cat "$T/$mode.curl.err")"
	scrape "$mode.m1"

	for v in $VARIANTS; do
		kill -KILL "${fx_pid[$v]}" 2>/dev/null || fail "fixture $v (pid ${fx_pid[$v]}) exited early"
		e2e_reap "${fx_pid[$v]}" 10 || true
	done
	kill -TERM "$chain_pid" 2>/dev/null || fail "fixture cpu_chain (pid $chain_pid) exited early"
	e2e_reap "$chain_pid" 10 || true
	agent_stop

	info "unwind counters that moved:"
	awk 'FNR == NR { if ($1 ~ /^stackd_unwind_/) a[$1] = $2; next }
		$1 ~ /^stackd_unwind_/ && $1 !~ /cache/ && $2 != a[$1] { printf "    %-60s %s (+%s)\n", $1, $2, $2 - a[$1] }' \
		"$T/$mode.m0" "$T/$mode.m1"
	# dwarf: user-space unwinds of the copies; default (kernel): the BPF walker's own check.
	series='stackd_unwind_dwarf_ends_total{reason="bad_regs"}'
	[[ $mode != default ]] || series='stackd_unwind_walks_total{end="bad_frame"}'
	bad0=$(metric_val "$T/$mode.m0" "$series")
	bad1=$(metric_val "$T/$mode.m1" "$series")
	check "$(awk -v a="$bad0" -v b="$bad1" 'BEGIN { print (b > a) ? 1 : 0 }')" \
		"mode=$mode: the unwinder saw the hostile registers: $series $bad0 -> $bad1"

	rc=0
	e2e_pprof -symbolize=none -raw "$T/$mode.pb.gz" >"$T/$mode.raw.txt" 2>"$T/$mode.raw.err" || rc=$?
	((rc == 0)) || { cat "$T/$mode.raw.err" >&2; fail "go tool pprof -raw exited with status $rc"; }
	pprof_flatten <"$T/$mode.raw.txt" >"$T/$mode.flat.tsv"

	for v in $VARIANTS; do
		# Samples of the pid, and those whose first user frame is the loop, unsymbolized.
		# go tool pprof merges anonymous mappings of one size across processes and shows
		# the first one's address, so the loop is recognized by its page offset (0).
		read -r tot atloop maxu leaves < <(awk -F'\t' -v pid="${fx_pid[$v]}" '
			$2 == pid {
				n = split($4, fr, ";"); leaf = "(none)"
				for (i = 1; i <= n; i++) if (fr[i] ~ /^U:/) { leaf = substr(fr[i], 3); break }
				tot += $1; lc[leaf] += $1
				nu = 0; for (i = 1; i <= n; i++) if (fr[i] ~ /^U:/) nu++
				if (nu > maxu) maxu = nu
				# the loop sits at offset 0 of its page: a raw address ending in 000
				if (leaf ~ /^0x[0-9a-f]*000$/) at += $1
			}
			END { s = ""; for (k in lc) s = s k "=" lc[k] ","; printf "%d %d %d %s\n", tot, at, maxu, s == "" ? "-" : s }' \
			"$T/$mode.flat.tsv")
		info "mode=$mode $v pid ${fx_pid[$v]}: $tot samples, $atloop with the raw loop address as leaf, at most $maxu user frames; leaves: $leaves"
		check "$((tot >= 20))" "mode=$mode $v: the profile has the hostile pid ${fx_pid[$v]} ($tot samples, want >= 20)"
		check "$((atloop * 100 >= tot * 95))" \
			"mode=$mode $v: $atloop of $tot samples have the raw loop address as their leaf (want >= 95%)"
		# DWARF mode unwinds every sample in user space: the self-referencing frame is
		# followed once (the loop, then its "return address", the loop), never again.
		if [[ $mode == dwarf ]]; then
			want=1
			[[ $v != rbploop ]] || want=2
			check "$((maxu == want))" "mode=$mode $v: at most $maxu user frames per sample (want $want)"
		fi
	done

	read -r ctot cgood < <(awk -F'\t' -v pid="$chain_pid" '
		$2 == pid {
			n = split($4, fr, ";"); s = ""
			for (i = 1; i <= n; i++) if (fr[i] ~ /^U:/) s = s (s == "" ? "" : ";") substr(fr[i], 3)
			tot += $1
			if (index(s, "hot_leaf;level_three;level_two;level_one;main") == 1) good += $1
		}
		END { printf "%d %d\n", tot, good }' "$T/$mode.flat.tsv")
	info "mode=$mode cpu_chain pid $chain_pid: $cgood of $ctot samples with the exact chain"
	check "$((ctot >= 20))" "mode=$mode: cpu_chain alongside has $ctot samples (want >= 20)"
	check "$((cgood * 100 >= ctot * MIN_CHAIN_PCT))" \
		"mode=$mode: cpu_chain keeps hot_leaf <- level_three <- level_two <- level_one <- main in $cgood of $ctot samples (want >= $MIN_CHAIN_PCT%)"
	unset fx_pid fx_code
done

pass "hostile registers and stacks (${VARIANTS// /, }) unwound without harm in modes: $MODES"
