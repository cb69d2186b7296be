#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A comparator called back by libc's qsort is attributed to the whole chain:
# Debian's libc has no frame pointers, so only a DWARF unwind (libc's
# .eh_frame) gets from the comparator through qsort back to main (issue 4).
#
#   fixture: unwind_qsort (main -> sort_rounds -> qsort/__qsort_r -> msort_with_tmp... -> cmp_heavy),
#            `gcc -O2 -g -fomit-frame-pointer`
#   agent:   --profiling.frequency=99, once per mode in UNWIND_MODES (default "kernel dwarf")
#   checks:  of the fixture's samples whose user leaf is cmp_heavy, >= 98% have a
#            frame named *qsort* below the leaf and main below that (over >= 100 such
#            samples); kernel: stackd_unwind_walks_total{end="complete"} moved before the window.
#   prints:  the shares, how the complete stacks end, the incomplete ones, the unwind metrics.
#
# Environment: UNWIND_MODES="kernel dwarf" (add fp for a control run, printed only),
# UNWIND_MIN_PCT=98, UNWIND_CC=gcc.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HZ=99
WINDOW=5
LEAD=2 # seconds between fixture start and window start (kernel mode: tables loaded)
UNWIND_MODES=${UNWIND_MODES:-kernel dwarf}
MIN_PCT=${UNWIND_MIN_PCT:-98}
UNWIND_CC=${UNWIND_CC:-gcc}
MIN_SAMPLES=100
LEAF=cmp_heavy

e2e_require_bpf
e2e_require_cmd "$UNWIND_CC" go curl

fixture=$T/unwind_qsort
"$UNWIND_CC" -O2 -g -fomit-frame-pointer -Wall -o "$fixture" "$STACKD_SRC/tests/fixtures/unwind_qsort.c" ||
	fail "cannot build fixture unwind_qsort with $UNWIND_CC"

print_unwind_metrics()
{
	awk 'FNR == NR { if ($1 ~ /^stackd_unwind_/) a[$1] = $2; next }
		$1 ~ /^stackd_unwind_/ && $1 !~ /cache/ { printf "    %-60s %s (+%s)\n", $1, $2, $2 - a[$1] }' "$1" "$2"
}

# share FLAT_TSV PID: "all leaf complete", examples in $T/bad.PID.txt and $T/outer.PID.txt.
share()
{
	awk -F'\t' -v pid="$2" -v leaf="$LEAF" -v bad="$T/bad.$2.txt" -v outer="$T/outer.$2.txt" '
	$2 == pid {
		n = split($4, fr, ";"); nu = 0
		for (i = 1; i <= n; i++) if (fr[i] ~ /^U:/) u[++nu] = substr(fr[i], 3)
		all += $1
		if (nu == 0 || u[1] != leaf) next
		lf += $1
		q = 0; m = 0
		for (i = 2; i <= nu; i++) {
			if (!q && u[i] ~ /qsort/) q = i
			else if (q && u[i] == "main") { m = i; break }
		}
		if (q && m) {
			good += $1
			s = ""; for (i = m; i <= nu; i++) s = s (i > m ? ";" : "") u[i]
			ends[s] += $1
			depth[nu] += $1
		} else {
			s = ""; for (i = 1; i <= nu; i++) s = s (i > 1 ? ";" : "") u[i]
			if (length(s) > 400) s = substr(s, 1, 200) " ... " substr(s, length(s) - 199)
			badc[nu " frames: " s] += $1
		}
	}
	END {
		printf "%d %d %d\n", all, lf, good
		for (k in badc) printf "%6d  %s\n", badc[k], k | "sort -rn | head -n 5 > \"" bad "\""
		for (k in ends) printf "%6d  from main: %s\n", ends[k], k | "sort -rn | head -n 3 > \"" outer "\""
		for (k in depth) { if (!mn || k + 0 < mn) mn = k + 0; if (k + 0 > mx) mx = k + 0 }
		if (mx) printf "    depth of complete stacks: %d..%d user frames\n", mn, mx > (outer ".depth")
	}' "$1"
}

for mode in $UNWIND_MODES; do
	case $mode in fp | dwarf | kernel) ;; *) fail "UNWIND_MODES: unknown mode '$mode'" ;; esac
	info "==== --unwind.mode=$mode"
	agent_start --profiling.frequency=$HZ --unwind.mode="$mode"
	curl -fsS -m 10 -o "$T/$mode.m0" "$AGENT_URL/metrics" || fail "GET /metrics failed"
	sw0=$(metric_val "$T/$mode.m0" 'stackd_unwind_walks_total{end="complete"}')

	e2e_bg "$mode.qsort" "$fixture" $((LEAD + WINDOW + 15))
	fx=$BG_PID
	t0=$(now_ms)
	info "fixture unwind_qsort pid $fx running"
	sleep "$LEAD"
	if [[ $mode == kernel ]]; then
		wait_kernel_walks "$mode" "$sw0" "$t0" 1
	fi

	url="$AGENT_URL/debug/pprof/profile?seconds=$WINDOW"
	info "fetching $url"
	code=$(curl -sS -m $((WINDOW + 30)) -o "$T/$mode.pb.gz" -w '%{http_code}' "$url" 2>"$T/$mode.curl.err") || true
	[[ $code == 200 ]] || fail "GET $url: HTTP ${code:-none} $(cat "$T/$mode.curl.err")"
	curl -fsS -m 10 -o "$T/$mode.m1" "$AGENT_URL/metrics" || fail "GET /metrics failed"
	kill -TERM "$fx" 2>/dev/null || fail "fixture unwind_qsort (pid $fx) exited early"
	e2e_reap "$fx" 10 || true
	agent_stop

	rc=0
	e2e_pprof -symbolize=none -raw "$T/$mode.pb.gz" >"$T/$mode.raw.txt" 2>"$T/$mode.raw.err" || rc=$?
	((rc == 0)) || { cat "$T/$mode.raw.err" >&2; fail "go tool pprof -raw exited with status $rc"; }
	pprof_flatten <"$T/$mode.raw.txt" >"$T/$mode.flat.tsv"

	info "unwind metrics after the window (delta since the agent started):"
	print_unwind_metrics "$T/$mode.m0" "$T/$mode.m1"

	read -r all lf good < <(share "$T/$mode.flat.tsv" "$fx")
	pct=$(awk -v g="$good" -v t="$lf" 'BEGIN { printf "%.2f", t ? 100 * g / t : 0 }')
	info "mode=$mode pid $fx: $all samples, $lf with leaf $LEAF, $good of them main -> ... -> qsort -> ... -> $LEAF: $pct%"
	if [[ -s $T/outer.$fx.txt ]]; then
		info "complete stacks, most frequent outermost frames:"
		cat "$T/outer.$fx.txt" "$T/outer.$fx.txt.depth" 2>/dev/null | sed 's/^/    /'
	fi
	if [[ -s $T/bad.$fx.txt ]]; then
		info "most frequent incomplete stacks (samples, user frames leaf first):"
		sed 's/^/    /' "$T/bad.$fx.txt"
	fi
	if [[ $mode == fp ]]; then
		info "control (not asserted): frame pointers give $pct% complete stacks through qsort"
		continue
	fi
	check "$((lf >= MIN_SAMPLES))" "$lf samples with leaf $LEAF (of $all; want >= $MIN_SAMPLES for the share to mean something)"
	check "$(awk -v p="$pct" -v m="$MIN_PCT" 'BEGIN { print (p >= m) ? 1 : 0 }')" \
		"mode=$mode: $pct% of $LEAF samples show main -> ... -> qsort -> ... -> $LEAF (want >= $MIN_PCT%)"
done

pass "comparator through libc qsort attributed to main in modes: $UNWIND_MODES"
