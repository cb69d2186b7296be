#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A 30-level call chain built without frame pointers comes out complete: the
# agent unwinds it with CFI, in the default mode (kernel: walked in the BPF
# program with tables compiled from .eh_frame) and with --unwind.mode=dwarf
# (stack copies unwound in user space).
#
#   fixture: unwind_deep (main -> f1 -> ... -> f30, f30 burns CPU), built twice,
#            `gcc -O2 -g -fomit-frame-pointer` and `clang -O2 -g -fomit-frame-pointer`,
#            both copies running at once (one per CPU on a 2-CPU node)
#   agent:   --profiling.frequency=99, once per mode in UNWIND_MODES (default "kernel dwarf")
#   checks:  per copy and mode, >= 98% of the copy's samples read, leaf first,
#            f30, f29, ..., f1, main (kernel frames on top ignored; frames below main
#            allowed), over >= 100 samples of the copy (of 495 for a whole CPU);
#            kernel: stackd_unwind_walks_total{end="complete"} moved (by >= 2) before the
#            window opened, and moved in it (dwarf: stackd_unwind_samples_total{path="dwarf"}).
#   prints:  the shares, what the incomplete stacks looked like, the unwind metrics.
#
# Environment: UNWIND_MODES="kernel dwarf" (add fp for a control run that is printed,
# not asserted: frame pointers cannot walk this fixture), UNWIND_MIN_PCT=98.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HZ=99
WINDOW=5
expected=$((HZ * WINDOW))
LEAD=2 # seconds between fixture start and window start (kernel mode: tables loaded)
UNWIND_MODES=${UNWIND_MODES:-kernel dwarf}
MIN_PCT=${UNWIND_MIN_PCT:-98}
DEPTH=30
MIN_SAMPLES=100 # on a node shared with other work a fixture may get less than a CPU

e2e_require_bpf
e2e_require_cmd gcc clang go curl

# build_fixture CC OUTNAME: unwind_deep.c without frame pointers
build_fixture()
{
	local out=$T/$2
	"$1" -O2 -g -fomit-frame-pointer -Wall -o "$out" "$STACKD_SRC/tests/fixtures/unwind_deep.c" >&2 ||
		fail "cannot build fixture unwind_deep with $1"
	echo "$out"
}
declare -A fx_bin
fx_bin[gcc]=$(build_fixture gcc deep_gcc)
fx_bin[clang]=$(build_fixture clang deep_clang)
# The fixture must really lack frame pointers, or this test proves nothing: no push %rbp
# / mov %rsp,%rbp prologue in f1..f30.
for cc in gcc clang; do
	nfp=$(objdump -d --no-show-raw-insn "${fx_bin[$cc]}" | awk '
		/^[0-9a-f]+ <f[0-9]+>:$/ { inf = 1; next } /^[0-9a-f]+ </ { inf = 0 }
		inf && /mov +%rsp,%rbp/ { n++ } END { print n + 0 }')
	check "$((nfp == 0))" "$cc build: no frame-pointer prologue in f1..f30 ($nfp found)"
done

# Prints the unwind counters that moved between two scrapes.
print_unwind_metrics()
{
	local m0=$1 m1=$2
	awk 'FNR == NR { if ($1 ~ /^stackd_unwind_/) a[$1] = $2; next }
		$1 ~ /^stackd_unwind_/ && $1 !~ /cache/ { printf "    %-60s %s (+%s)\n", $1, $2, $2 - a[$1] }' "$m0" "$m1"
}

# share FLAT_TSV PID: "total complete" for the pid, plus incomplete examples in $T/bad.PID.txt.
share()
{
	awk -F'\t' -v pid="$2" -v depth="$DEPTH" -v bad="$T/bad.$2.txt" '
	$2 == pid {
		n = split($4, fr, ";"); nu = 0
		for (i = 1; i <= n; i++) if (fr[i] ~ /^U:/) u[++nu] = substr(fr[i], 3)
		ok = nu >= depth + 1
		for (i = 1; ok && i <= depth; i++) if (u[i] != "f" (depth + 1 - i)) ok = 0
		if (ok && u[depth + 1] != "main") ok = 0
		tot += $1
		if (ok) { good += $1; below[nu - depth - 1 ? u[nu] : "(main)"] += $1 }
		else {
			s = ""; for (i = 1; i <= nu; i++) s = s (i > 1 ? ";" : "") u[i]
			badc[nu " frames: " s] += $1
		}
	}
	END {
		printf "%d %d\n", tot, good
		for (k in badc) printf "%6d  %s\n", badc[k], k | "sort -rn | head -n 5 > \"" bad "\""
		for (k in below) printf "outermost frame of complete stacks: %s (%d samples)\n", k, below[k] > (bad ".outer")
	}' "$1"
}

for mode in $UNWIND_MODES; do
	case $mode in fp | dwarf | kernel) ;; *) fail "UNWIND_MODES: unknown mode '$mode'" ;; esac
	info "==== --unwind.mode=$mode"
	agent_start --profiling.frequency=$HZ --unwind.mode="$mode"
	curl -fsS -m 10 -o "$T/$mode.m0" "$AGENT_URL/metrics" || fail "GET /metrics failed"
	sw0=$(metric_val "$T/$mode.m0" 'stackd_unwind_walks_total{end="complete"}')

	declare -A fx_pid=()
	for cc in gcc clang; do
		e2e_bg "$mode.deep_$cc" "${fx_bin[$cc]}" $((LEAD + WINDOW + 15))
		fx_pid[$cc]=$BG_PID
	done
	t0=$(now_ms)
	info "fixtures running: deep_gcc pid ${fx_pid[gcc]}, deep_clang pid ${fx_pid[clang]}"
	sleep "$LEAD"
	if [[ $mode == kernel ]]; then
		# Walks with tables must have started (both fixtures are FP-less).
		wait_kernel_walks "$mode" "$sw0" "$t0" 2
	fi

	url="$AGENT_URL/debug/pprof/profile?seconds=$WINDOW"
	info "fetching $url"
	code=$(curl -sS -m $((WINDOW + 30)) -o "$T/$mode.pb.gz" -w '%{http_code}' "$url" 2>"$T/$mode.curl.err") || true
	[[ $code == 200 ]] || fail "GET $url: HTTP ${code:-none} $(cat "$T/$mode.curl.err")"
	curl -fsS -m 10 -o "$T/$mode.m1" "$AGENT_URL/metrics" || fail "GET /metrics failed"
	for cc in gcc clang; do
		kill -TERM "${fx_pid[$cc]}" 2>/dev/null || fail "fixture deep_$cc (pid ${fx_pid[$cc]}) exited early"
		e2e_reap "${fx_pid[$cc]}" 10 || true
	done
	agent_stop

	rc=0
	e2e_pprof -symbolize=none -raw "$T/$mode.pb.gz" >"$T/$mode.raw.txt" 2>"$T/$mode.raw.err" || rc=$?
	((rc == 0)) || { cat "$T/$mode.raw.err" >&2; fail "go tool pprof -raw exited with status $rc"; }
	pprof_flatten <"$T/$mode.raw.txt" >"$T/$mode.flat.tsv"

	info "unwind metrics after the window (delta since the agent started):"
	print_unwind_metrics "$T/$mode.m0" "$T/$mode.m1"
	# The path the samples took: walked in the kernel (kernel mode), or copied (dwarf mode).
	series='stackd_unwind_samples_total{path="dwarf"}'
	[[ $mode != kernel ]] || series='stackd_unwind_walks_total{end="complete"}'
	dw0=$(metric_val "$T/$mode.m0" "$series")
	dw1=$(metric_val "$T/$mode.m1" "$series")

	for cc in gcc clang; do
		pid=${fx_pid[$cc]}
		read -r tot good < <(share "$T/$mode.flat.tsv" "$pid")
		pct=$(awk -v g="$good" -v t="$tot" 'BEGIN { printf "%.2f", t ? 100 * g / t : 0 }')
		info "mode=$mode deep_$cc pid $pid: $good of $tot samples complete (f30..f1, main): $pct%"
		if [[ -s $T/bad.$pid.txt ]]; then
			info "most frequent incomplete stacks (samples, user frames leaf first):"
			sed 's/^/    /' "$T/bad.$pid.txt"
		fi
		[[ ! -s $T/bad.$pid.txt.outer ]] || sed 's/^/    /' "$T/bad.$pid.txt.outer"
		if [[ $mode == fp ]]; then
			info "control (not asserted): frame pointers give $pct% complete stacks for deep_$cc"
			continue
		fi
		check "$((tot >= MIN_SAMPLES))" \
			"deep_$cc has $tot samples ($((100 * tot / expected))% of $HZ Hz x $WINDOW s; want >= $MIN_SAMPLES for the share to mean something)"
		check "$(awk -v p="$pct" -v m="$MIN_PCT" 'BEGIN { print (p >= m) ? 1 : 0 }')" \
			"mode=$mode deep_$cc: $pct% of samples have the complete 30-level chain down to main (want >= $MIN_PCT%)"
	done
	if [[ $mode != fp ]]; then
		check "$(awk -v a="$dw0" -v b="$dw1" 'BEGIN { print (b > a) ? 1 : 0 }')" \
			"$series moved: $dw0 -> $dw1"
	fi
done

pass "30-level no-frame-pointer chain complete in modes: $UNWIND_MODES"
