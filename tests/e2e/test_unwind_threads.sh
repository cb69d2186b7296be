#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Worker threads of a program built without frame pointers come out with
# complete stacks that end at the thread's start (issue 4): the unwinder must
# stop cleanly at libc's start_thread / clone3 instead of walking into garbage.
#
#   fixture: unwind_threads, 2 pthreads each running
#            worker_main -> work_outer -> work_mid -> work_hot (hot), main waits in pthread_join;
#            `gcc -O2 -g -fomit-frame-pointer -pthread`
#   agent:   --profiling.frequency=99, once per mode in UNWIND_MODES (default "kernel dwarf")
#   checks:  worker samples = the fixture's samples without main on the stack (so a
#            broken main-thread stack counts against the agent, not for it); >= 98% of
#            them (over >= 100) read, leaf first, [work_hot, work_mid,] work_outer,
#            worker_main, start_thread, then at most clone3/__clone3 and nothing else
#            (frames above work_outer that are not work_* are allowed: the vDSO's
#            clock_gettime); kernel: stackd_unwind_walks_total{end="complete"} moved before
#            the window.
#   prints:  the shares, how worker stacks end, the incomplete ones, the unwind metrics.
#
# Environment: UNWIND_MODES="kernel dwarf" (add fp for a control run, printed only),
# UNWIND_MIN_PCT=98, UNWIND_CC=gcc.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HZ=99
WINDOW=5
LEAD=2
UNWIND_MODES=${UNWIND_MODES:-kernel dwarf}
MIN_PCT=${UNWIND_MIN_PCT:-98}
UNWIND_CC=${UNWIND_CC:-gcc}
MIN_SAMPLES=100

e2e_require_bpf
e2e_require_cmd "$UNWIND_CC" go curl

fixture=$T/unwind_threads
"$UNWIND_CC" -O2 -g -fomit-frame-pointer -pthread -Wall -o "$fixture" \
	"$STACKD_SRC/tests/fixtures/unwind_threads.c" || fail "cannot build fixture unwind_threads with $UNWIND_CC"

print_unwind_metrics()
{
	awk 'FNR == NR { if ($1 ~ /^stackd_unwind_/) a[$1] = $2; next }
		$1 ~ /^stackd_unwind_/ && $1 !~ /cache/ { printf "    %-60s %s (+%s)\n", $1, $2, $2 - a[$1] }' "$1" "$2"
}

# share FLAT_TSV PID: "all main_thread workers complete"; examples in $T/bad.PID.txt,
# the ends of complete stacks in $T/outer.PID.txt.
share()
{
	awk -F'\t' -v pid="$2" -v bad="$T/bad.$2.txt" -v outer="$T/outer.$2.txt" '
	$2 == pid {
		n = split($4, fr, ";"); nu = 0
		for (i = 1; i <= n; i++) if (fr[i] ~ /^U:/) u[++nu] = substr(fr[i], 3)
		all += $1
		s = ""; hasmain = 0
		for (i = 1; i <= nu; i++) { s = s (i > 1 ? ";" : "") u[i]; if (u[i] == "main") hasmain = 1 }
		if (hasmain) { mt += $1; next }
		w += $1
		# the outer part: work_outer;worker_main;start_thread[;clone3|__clone3] and nothing after
		ok = match(s, /(^|;)work_outer;worker_main;start_thread(;(__)?clone3)?$/)
		if (ok) {
			head = substr(s, 1, RSTART - 1)   # frames above work_outer
			tail = substr(s, RSTART); sub(/^;/, "", tail)
			# work_* frames above work_outer must be the real chain
			if (head ~ /work_/ && head != "work_hot;work_mid" && head != "work_mid") ok = 0
		}
		if (ok) { good += $1; ends[tail] += $1 }
		else badc[nu " frames: " s] += $1
	}
	END {
		printf "%d %d %d %d\n", all, mt, w, good
		for (k in badc) printf "%6d  %s\n", badc[k], k | "sort -rn | head -n 5 > \"" bad "\""
		for (k in ends) printf "%6d  %s\n", ends[k], k | "sort -rn > \"" outer "\""
	}' "$1"
}

for mode in $UNWIND_MODES; do
	case $mode in fp | dwarf | kernel) ;; *) fail "UNWIND_MODES: unknown mode '$mode'" ;; esac
	info "==== --unwind.mode=$mode"
	agent_start --profiling.frequency=$HZ --unwind.mode="$mode"
	curl -fsS -m 10 -o "$T/$mode.m0" "$AGENT_URL/metrics" || fail "GET /metrics failed"
	sw0=$(metric_val "$T/$mode.m0" 'stackd_unwind_walks_total{end="complete"}')

	e2e_bg "$mode.threads" "$fixture" $((LEAD + WINDOW + 15))
	fx=$BG_PID
	t0=$(now_ms)
	info "fixture unwind_threads pid $fx running (2 workers)"
	sleep "$LEAD"
	if [[ $mode == kernel ]]; then
		wait_kernel_walks "$mode" "$sw0" "$t0" 1
	fi
	tids=("/proc/$fx/task/"*)
	info "threads of pid $fx: ${tids[*]##*/}"

	url="$AGENT_URL/debug/pprof/profile?seconds=$WINDOW"
	info "fetching $url"
	code=$(curl -sS -m $((WINDOW + 30)) -o "$T/$mode.pb.gz" -w '%{http_code}' "$url" 2>"$T/$mode.curl.err") || true
	[[ $code == 200 ]] || fail "GET $url: HTTP ${code:-none} $(cat "$T/$mode.curl.err")"
	curl -fsS -m 10 -o "$T/$mode.m1" "$AGENT_URL/metrics" || fail "GET /metrics failed"
	kill -TERM "$fx" 2>/dev/null || fail "fixture unwind_threads (pid $fx) exited early"
	e2e_reap "$fx" 10 || true
	agent_stop

	rc=0
	e2e_pprof -symbolize=none -raw "$T/$mode.pb.gz" >"$T/$mode.raw.txt" 2>"$T/$mode.raw.err" || rc=$?
	((rc == 0)) || { cat "$T/$mode.raw.err" >&2; fail "go tool pprof -raw exited with status $rc"; }
	pprof_flatten <"$T/$mode.raw.txt" >"$T/$mode.flat.tsv"

	info "unwind metrics after the window (delta since the agent started):"
	print_unwind_metrics "$T/$mode.m0" "$T/$mode.m1"

	read -r all mt w good < <(share "$T/$mode.flat.tsv" "$fx")
	pct=$(awk -v g="$good" -v t="$w" 'BEGIN { printf "%.2f", t ? 100 * g / t : 0 }')
	info "mode=$mode pid $fx: $all samples ($mt with main on the stack), $w worker samples, $good complete to the thread start: $pct%"
	if [[ -s $T/outer.$fx.txt ]]; then
		info "complete worker stacks end with (samples, from work_outer):"
		sed 's/^/    /' "$T/outer.$fx.txt"
	fi
	if [[ -s $T/bad.$fx.txt ]]; then
		info "most frequent incomplete stacks (samples, user frames leaf first):"
		sed 's/^/    /' "$T/bad.$fx.txt"
	fi
	if [[ $mode == fp ]]; then
		info "control (not asserted): frame pointers give $pct% complete worker stacks"
		continue
	fi
	check "$((w >= MIN_SAMPLES))" "$w worker samples (want >= $MIN_SAMPLES for the share to mean something)"
	check "$(awk -v p="$pct" -v m="$MIN_PCT" 'BEGIN { print (p >= m) ? 1 : 0 }')" \
		"mode=$mode: $pct% of worker samples complete down to worker_main, start_thread[, clone3] (want >= $MIN_PCT%)"
done

pass "worker thread stacks complete to the thread start in modes: $UNWIND_MODES"
