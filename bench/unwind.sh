#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# In-kernel unwinding (issue 12), side by side in one run on the same fixtures: stackd's
# unwinding modes (and an older stackd), bpftrace and perf, on two busy CPUs running code
# built without frame pointers, 30 frames deep. Re-run it after any change to the unwinder:
#
#   sudo bench/unwind.sh                                   # RUNS=3 x 7 tools: ~9 min
#   sudo STACKD_BEFORE_BIN=/tmp/before/build/stackd bench/unwind.sh   # + "before" (auto): ~10 min
#   sudo RUNS=1 DURATION=8 bench/unwind.sh                 # quick look: ~3 min
#   sudo TOOLS="kernel bpftrace-fp" bench/unwind.sh        # the BPF-time ratio alone
#
# Parameters (environment):
#   RUNS=3            runs per tool, each in its own shuffled order; the table shows medians
#   DURATION=10       steady-state window per run, seconds
#   COLD=2            stackd only: a first profile of the fixtures' first COLD seconds (the
#                     fixtures start after the agent is ready: cold start of new processes)
#   WARMUP=2          seconds between the cold profile and the steady-state window
#   CAL=2             SCOPE=cgroup, BPF tools: seconds with the tool running and the cgroup
#                     still empty, to measure what a sample of another task costs (see ns/fix)
#   HZ=99             sampling frequency of every tool
#   BUSY=2            copies of the fixture, pinned round-robin to the CPUs, nice -5 (so that
#                     they dominate a machine shared with other work)
#   TOOLS             default "kernel dwarf fp bpftrace bpftrace-fp perf-fp perf-dwarf", plus
#                     before-MODE for each of BEFORE_MODES when STACKD_BEFORE_BIN is set:
#     kernel|dwarf|fp   stackd --unwind.mode=MODE (kernel is the default mode)
#     before-MODE       $STACKD_BEFORE_BIN --unwind.mode=MODE (an older build, e.g. 7c9f2b1)
#     bpftrace          bpftrace 'profile:hz:HZ /cgroup == CG/ { @[ustack, kstack, pid] = count(); }'
#     bpftrace-fp       the same, on the fixture built WITH frame pointers (clang
#                       -fno-omit-frame-pointer): the reference frame-pointer walk of 30 frames
#     python            stackd (kernel mode) on tests/fixtures/py_deep.py under Debian's
#                       /usr/bin/python3.11: the same main -> f1 .. f30 chain in Python, its
#                       Python frames named by the walk (issue 13); not in the default TOOLS
#     python-off        the same with --python.enabled=false (the interpreter's native frames)
#     java              stackd (kernel mode) on tests/fixtures/JavaHot.java under OpenJDK 17:
#                       main -> run -> knead -> fold, compiled without frame pointers, named
#                       from the JVM's perf map, stepped by code blobs (issue 13); not in the
#                       default TOOLS
#     java-off          the same with --java.enabled=false (no perf map, no JIT stepping)
#     perf-fp           perf record -e cpu-clock -F HZ -a -G CG -g
#     perf-dwarf        perf record -e cpu-clock -F HZ -a -G CG --call-graph dwarf
#   BEFORE_MODES=auto  modes of STACKD_BEFORE_BIN (e.g. "auto dwarf")
#   STACKD_BIN        default: build/stackd of this tree
#   STACKD_ARGS       extra flags for every stackd
#   SCOPE=cgroup      the fixtures run in a cgroup of their own; every tool samples only it
#                     (stackd --profiling.cgroups, bpftrace's predicate, perf -G: cgroup v2,
#                     /sys/fs/cgroup or /sys/fs/cgroup/unified on a hybrid host); node: stackd
#                     and bpftrace sample everything (perf still -a without -G)
#   KEEP_TMP=1        keep raw results, profiles and logs
#
# The fixture is tests/fixtures/unwind_deep.c: main -> f1 -> ... -> f30, built
# gcc -O2 -g -fomit-frame-pointer (and, for bpftrace-fp, clang -O2 -g -fno-omit-frame-pointer).
# Columns (medians over RUNS; all of them steady state but "cold cpl%"):
#   cpu%       user+sys ticks of the tool's process(es) over the window (/proc/PID/stat), % of
#              one CPU. One tick is 0.08% of a 12 s window. bpftrace resolves stacks only at
#              exit and perf writes raw samples: their deferred work is not in it (post s is)
#   post s     perf only: CPU seconds of `perf script` over the capture afterwards (perf's
#              DWARF unwinding happens there)
#   ns/sample  BPF run time per run of the tool's perf_event program(s) over the window
#              (kernel.bpf_stats_enabled=1; run_time_ns/run_cnt, the counters `bpftool prog
#              show` prints, read from /proc/PID/fdinfo). Charged to the sampled tasks. With
#              SCOPE=cgroup the program still runs for every sample of the machine and
#              returns early for others: fix% says how many of the runs were the fixtures'
#   fix%       fixture samples / BPF runs (stackd: in the window; bpftrace: its whole capture
#              after CAL)
#   ns/fix     BPF ns per fixture sample, SCOPE=cgroup: (run time - other runs x other ns) /
#              fixture samples, "other ns" being ns/sample measured over the CAL seconds when
#              the cgroup was empty (every run was another task's, returning early). On a
#              machine shared with other work most runs can be other tasks': this is the
#              figure to compare; ns/sample mixes the two
#   samples    fixture samples the tool reported (stackd: the window's profile; bpftrace and
#              perf: the whole capture)
#   cpl%       share of those whose outermost user frame is _start (the true root): stackd
#              `go tool pprof -traces` of /debug/pprof/profile, perf `perf script`, bpftrace
#              its printed stacks
#   chain      mean number of the fixture's own frames (f1..f30, main: 31 when whole) per sample
#   cold cpl%  stackd: cpl% over the fixtures' first COLD seconds
# And the ratio the issue targets: BPF ns per sample of each stackd mode on the FP-less fixture
# over bpftrace-fp's (a frame-pointer walk of the same depth), same run (<= 3x wanted).
set -euo pipefail

RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
COLD=${COLD:-2}
WARMUP=${WARMUP:-2}
CAL=${CAL:-2}
HZ=${HZ:-99}
BUSY=${BUSY:-2}
SCOPE=${SCOPE:-cgroup}
BEFORE_MODES=${BEFORE_MODES:-auto}
STACKD_ARGS=${STACKD_ARGS:-}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JDK=${JDK:-/usr/lib/jvm/java-17-openjdk-amd64}
STACKD_BIN=${STACKD_BIN:-$SRC/build/stackd}
STACKD_BEFORE_BIN=${STACKD_BEFORE_BIN:-}
if [[ -z ${TOOLS:-} ]]; then
	TOOLS="kernel dwarf fp"
	if [[ -n $STACKD_BEFORE_BIN ]]; then for m in $BEFORE_MODES; do TOOLS+=" before-$m"; done; fi
	TOOLS+=" bpftrace bpftrace-fp perf-fp perf-dwarf"
fi
NCPU=$(nproc)
CLK_TCK=$(getconf CLK_TCK)

. "$SRC/bench/lib.sh"

[[ $(id -u) == 0 ]] || die "run as root (BPF, perf -a, sysctl, cgroups)"
for v in RUNS DURATION COLD HZ BUSY CAL; do [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"; done
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be an integer"
[[ $SCOPE == cgroup || $SCOPE == node ]] || die "SCOPE: cgroup or node"
for t in $TOOLS; do
	case $t in
	kernel | dwarf | fp) [[ -x $STACKD_BIN ]] || die "stackd not built: $STACKD_BIN" ;;
	python | python-off)
		[[ -x $STACKD_BIN ]] || die "stackd not built: $STACKD_BIN"
		[[ -x /usr/bin/python3.11 ]] || die "$t needs Debian's /usr/bin/python3.11"
		;;
	java | java-off)
		[[ -x $STACKD_BIN ]] || die "stackd not built: $STACKD_BIN"
		[[ -x $JDK/bin/java && -x $JDK/bin/javac ]] || die "$t needs OpenJDK 17 at $JDK"
		;;
	before-*) [[ -x $STACKD_BEFORE_BIN ]] || die "$t needs STACKD_BEFORE_BIN (an executable)" ;;
	bpftrace | bpftrace-fp) command -v bpftrace >/dev/null || die "bpftrace not installed" ;;
	perf-fp | perf-dwarf) command -v perf >/dev/null || die "perf not installed (linux-perf)" ;;
	*) die "unknown tool '$t'" ;;
	esac
done
for c in gcc clang curl go awk shuf taskset; do command -v "$c" >/dev/null || die "$c not installed"; done

T=$(mktemp -d "${TMPDIR:-/tmp}/unwind.XXXXXX")
PIDS=()
OLD_BPF_STATS=$(sysctl -n kernel.bpf_stats_enabled)
CG=""
CGREL=""
if [[ $SCOPE == cgroup ]]; then
	CGROOT=/sys/fs/cgroup
	[[ -f $CGROOT/cgroup.procs && $(stat -f -c %T $CGROOT) == cgroup2fs ]] || CGROOT=/sys/fs/cgroup/unified
	[[ $(stat -f -c %T $CGROOT 2>/dev/null) == cgroup2fs ]] || die "SCOPE=cgroup needs cgroup v2 (/sys/fs/cgroup or its unified/)"
	CGREL=stackd-unwind.$$
	CG=$CGROOT/$CGREL
	mkdir "$CG"
fi
bench_cleanup_hook()
{
	if [[ -n $CG ]]; then
		for _ in $(seq 50); do rmdir "$CG" 2>/dev/null && break; sleep 0.1; done
	fi
}
bench_traps

# ------------------------------------------------------------- fixtures
gcc -O2 -g -fomit-frame-pointer -o "$T/unwind_deep" "$SRC/tests/fixtures/unwind_deep.c"
clang -O2 -g -fno-omit-frame-pointer -o "$T/unwind_deep_fp" "$SRC/tests/fixtures/unwind_deep.c"

cp "$SRC/tests/fixtures/py_deep.py" "$T/py_deep.py"
if [[ " $TOOLS " == *" java"* ]]; then
	"$JDK/bin/javac" -d "$T/java" "$SRC/tests/fixtures/JavaHot.java" || die "javac failed"
fi

# start_fixture COMMAND...: BUSY copies in the cgroup, pinned, nice -5; pids in FIX_PIDS and PIDS
start_fixture()
{
	local i
	FIX_PIDS=()
	for ((i = 0; i < BUSY; i++)); do
		if [[ -n $CG ]]; then
			sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$CG" \
				nice -n -5 taskset -c $((i % NCPU)) "$@" 3600 >/dev/null &
		else
			nice -n -5 taskset -c $((i % NCPU)) "$@" 3600 >/dev/null &
		fi
		PIDS+=($!)
		FIX_PIDS+=($!)
	done
}

stop_fixture()
{
	local p
	for p in "${FIX_PIDS[@]}"; do bench_stop "$p" TERM 20; done
	FIX_PIDS=()
}

# -traces of a stackd profile on stdin, fixture pids "p1 p2": "samples complete chain_frames"
traces_complete()
{
	awk -v pids="$1" '
	BEGIN { n = split(pids, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
	function flush() {
		if (inb && (pid in want) && cnt > 0) { tot += cnt; if (last ~ root) good += cnt; chain += cnt * own }
		inb = 0; pid = ""; cnt = 0; last = ""; own = 0
	}
	# A process main thread ends at _start, a JVM Java thread at the start of its thread.
	BEGIN { root = "^(_start|start_thread|__clone3)$" }
	function frame(f) { sub(/ \(inline\)$/, "", f); last = f; if (f ~ /^(f[0-9]+|main|long JavaHot.*)$/) own++ }
	/^-+\+/ { flush(); inb = 1; next }
	inb && /^ +pid: / { pid = $2; next }
	inb && /^ +[a-z_]+: / && !cnt { next }
	inb && /^ +[0-9]+ +/ && !cnt { cnt = $1; f = $0; sub(/^ +[0-9]+ +/, "", f); frame(f); next }
	inb && cnt && /^ +[^ ]/ { f = $0; sub(/^ +/, "", f); frame(f) }
	END { flush(); printf "%d %d %.1f\n", tot, good, tot ? chain / tot : 0 }'
}

# perf script -F pid,ip,sym,dso on stdin: the same. A sample is a header line (the pid,
# right-aligned: it can look like a frame but for the tab) and one tab-indented line per frame
# ("ADDR SYM+OFF (DSO)"), innermost first.
perf_complete()
{
	awk -v pids="$1" '
	BEGIN { n = split(pids, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
	function flush() { if (inb && (p in want)) { tot++; if (last == "_start") good++; chain += own } inb = 0; last = ""; own = 0 }
	/^$/ { flush(); next }
	/^\t/ {
		if (!inb || $0 ~ /\[kernel\.kallsyms\]/) next
		l = $0; sub(/^[ \t]*[0-9a-f]+ /, "", l); sub(/ \(.*\)$/, "", l); sub(/\+0x[0-9a-f]+$/, "", l)
		last = l; if (l ~ /^(f[0-9]+|main)$/) own++
		next
	}
	{ flush(); inb = 1; p = $1 + 0 }
	END { flush(); printf "%d %d %.1f\n", tot, good, tot ? chain / tot : 0 }'
}

# bpftrace's printed map of @[ustack, kstack, pid]: the same.
bpftrace_complete()
{
	awk -v pids="$1" '
	BEGIN { n = split(pids, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
	/^@\[/ { inrec = 1; inu = 1; last = ""; own = 0; next }
	!inrec { next }
	/\]: [0-9]+$/ {
		l = $0; sub(/\]: [0-9]+$/, "", l); k = split(l, f, ", *"); p = f[k] + 0
		c = $NF + 0
		if (p in want) { tot += c; if (last == "_start") good += c; chain += c * own }
		inrec = 0; next
	}
	/^,/ { inu = 0; next }
	inu { l = $0; sub(/^ +/, "", l); sub(/\+[0-9]+$/, "", l); last = l; if (l ~ /^(f[0-9]+|main)$/) own++ }
	END { printf "%d %d %.1f\n", tot, good, tot ? chain / tot : 0 }'
}

# calibrate PID: sleeps CAL s (the cgroup empty); sets CAL_NS (ns per run then) and CAL_RT CAL_RC
# (the counters at its end)
calibrate()
{
	local rt0 rc0 n
	CAL_NS="-"
	read -r rt0 rc0 n < <(bpf_stats "$1")
	sleep "$CAL"
	read -r CAL_RT CAL_RC n < <(bpf_stats "$1")
	(((CAL_RC - rc0) > 0)) && CAL_NS=$(((CAL_RT - rt0) / (CAL_RC - rc0)))
	return 0
}

# ns_fix RUN_TIME RUNS FIXTURE_SAMPLES OTHER_NS: estimated BPF ns per fixture sample
ns_fix()
{
	[[ -n $CG && $4 != - && $3 -gt 0 ]] || { echo "-"; return; }
	awk -v rt="$1" -v rc="$2" -v f="$3" -v o="$4" 'BEGIN { if (f > rc) f = rc; v = (rt - (rc - f) * o) / f; printf "%d", v < 0 ? 0 : v }'
}

pct() { awk -v g="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%.1f", 100 * g / t; else print "-" }'; }

sysctl -qw kernel.bpf_stats_enabled=1
log "unwind: $(uname -r), $NCPU CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), load average $(cut -d' ' -f1-3 /proc/loadavg)"
log "RUNS=$RUNS HZ=$HZ COLD=${COLD}s WARMUP=${WARMUP}s DURATION=${DURATION}s BUSY=$BUSY SCOPE=$SCOPE TOOLS='$TOOLS'"
log "stackd: $("$STACKD_BIN" --version 2>&1 | head -n 1) ($STACKD_BIN, $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')) $STACKD_ARGS"
[[ -z $STACKD_BEFORE_BIN ]] || log "before: $("$STACKD_BEFORE_BIN" --version 2>&1 | head -n 1) ($STACKD_BEFORE_BIN)"
log "bpftrace: $(bpftrace --version 2>&1 | head -n 1); perf: $(perf --version 2>&1 | head -n 1)"

RES=$T/results.tsv
: >"$RES"

# measure TOOL RUN: one cold + steady window; appends a row to $RES
measure()
{
	local tool=$1 run=$2 pid port url bin mode log=$T/$1.$2.log
	local -a fixture=("$T/unwind_deep")
	CAL_NS="-"
	local t0 t1 k0 k1 rt0 rc0 rt1 rc1 nprog cold_pid="" win_pid=""
	local cpu post="-" bpf_ns="-" nsfix="-" fix="-" smp="-" cpl="-" chain="-" ccpl="-" n g c
	local -a sargs scope=()
	[[ $tool == bpftrace-fp ]] && fixture=("$T/unwind_deep_fp")
	[[ $tool == python* ]] && fixture=(/usr/bin/python3.11 "$T/py_deep.py")
	[[ $tool == java* ]] && fixture=("$JDK/bin/java" -cp "$T/java" JavaHot)
	case $tool in
	kernel | dwarf | fp | before-* | python | python-off | java | java-off)
		bin=$STACKD_BIN mode=$tool
		[[ $tool == before-* ]] && bin=$STACKD_BEFORE_BIN mode=${tool#before-}
		[[ $tool == python* || $tool == java* ]] && mode=kernel
		port=$(free_port)
		url=http://127.0.0.1:$port
		read -r -a sargs <<<"$STACKD_ARGS"
		[[ $tool != python-off ]] || sargs+=(--python.enabled=false)
		[[ $tool != java-off ]] || sargs+=(--java.enabled=false)
		[[ -z $CG ]] || scope=(--profiling.cgroups="$CG")
		"$bin" --web.listen-address=127.0.0.1:"$port" --profiling.frequency="$HZ" --unwind.mode="$mode" \
			--log.level=warn "${scope[@]}" "${sargs[@]}" >"$log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		bench_wait_http "$url/-/ready" "$pid" "$log" ready
		[[ -z $CG ]] || calibrate "$pid"
		# the fixtures' first COLD seconds, as new processes under a running agent
		curl -sS -m $((COLD + 60)) -o "$T/cold.pb.gz" "$url/debug/pprof/profile?seconds=$COLD" 2>"$T/curl.err" &
		cold_pid=$!
		PIDS+=("$cold_pid")
		sleep 0.1
		start_fixture "${fixture[@]}"
		sleep "$COLD"
		;;
	bpftrace | bpftrace-fp)
		local pred=""
		[[ -z $CG ]] || pred="/cgroup == cgroupid(\"$CG\")/"
		bench_start_bpftrace_args "$log" -e "profile:hz:$HZ $pred { @[ustack, kstack, pid] = count(); }"
		pid=$TOOL_PID
		[[ -z $CG ]] || calibrate "$pid"
		start_fixture "${fixture[@]}"
		sleep "$COLD"
		;;
	perf-fp | perf-dwarf)
		start_fixture "${fixture[@]}"
		local cg=()
		[[ -z $CG ]] || cg=(-G "$CGREL")
		local callgraph=fp
		[[ $tool == perf-dwarf ]] && callgraph=dwarf
		rm -f "$T/perf.data"
		perf record -e cpu-clock -F "$HZ" -a "${cg[@]}" --call-graph "$callgraph" -o "$T/perf.data" >"$log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		sleep 1
		kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "perf record exited"; }
		;;
	esac
	sleep "$WARMUP"

	t0=$(now_ms)
	k0=$(proc_ticks "$pid")
	read -r rt0 rc0 nprog < <(bpf_stats "$pid")
	if [[ -n $cold_pid ]]; then
		curl -sS -m $((DURATION + 60)) -o "$T/win.pb.gz" "$url/debug/pprof/profile?seconds=$DURATION" 2>"$T/curl.err" &
		win_pid=$!
		PIDS+=("$win_pid")
	fi
	sleep "$DURATION"
	t1=$(now_ms)
	k1=$(proc_ticks "$pid")
	read -r rt1 rc1 nprog < <(bpf_stats "$pid")
	(((rc1 - rc0) > 0)) && bpf_ns=$(((rt1 - rt0) / (rc1 - rc0)))
	[[ $tool == perf-* ]] || ((nprog > 0)) || log "warning: no perf_event BPF program found in /proc/$pid/fd"

	local win_s
	win_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1000 }')
	cpu=$(awk -v k=$((k1 - k0)) -v hz="$CLK_TCK" -v w="$win_s" 'BEGIN { printf "%.2f", 100 * k / hz / w }')

	case $tool in
	kernel | dwarf | fp | before-* | python | python-off | java | java-off)
		wait "$cold_pid" "$win_pid" || true
		untrack "$cold_pid"
		untrack "$win_pid"
		bench_stop "$pid" TERM 100
		read -r n g c < <(PPROF_TMPDIR=$T HOME=$T go tool pprof -sample_index=0 -traces "$T/cold.pb.gz" 2>/dev/null |
			traces_complete "${FIX_PIDS[*]}")
		ccpl=$(pct "$g" "$n")
		read -r smp g chain < <(PPROF_TMPDIR=$T HOME=$T go tool pprof -sample_index=0 -traces "$T/win.pb.gz" 2>/dev/null |
			traces_complete "${FIX_PIDS[*]}")
		cpl=$(pct "$g" "$smp")
		fix=$(pct "$smp" $((rc1 - rc0)))
		nsfix=$(ns_fix $((rt1 - rt0)) $((rc1 - rc0)) "$smp" "${CAL_NS:--}")
		[[ $tool != kernel ]] || cp "$T/win.pb.gz" "$T/kernel.$run.pb.gz"
		;;
	bpftrace | bpftrace-fp)
		local rtz rcz
		read -r rtz rcz nprog < <(bpf_stats "$pid")
		bench_stop "$pid" INT 300 # prints the map (and resolves the stacks) at exit
		grep -q '^@\[' "$log" || log "warning: bpftrace printed no map (see $log)"
		read -r smp g chain < <(bpftrace_complete "${FIX_PIDS[*]}" <"$log")
		cpl=$(pct "$g" "$smp")
		if [[ -n $CG ]]; then
			fix=$(pct "$smp" $((rcz - CAL_RC)))
			nsfix=$(ns_fix $((rtz - CAL_RT)) $((rcz - CAL_RC)) "$smp" "$CAL_NS")
		fi
		;;
	perf-fp | perf-dwarf)
		bench_stop "$pid" INT 600
		local tu ts
		/usr/bin/time -f '%U %S %M' -o "$T/post.time" \
			perf script -i "$T/perf.data" -F pid,ip,sym,dso >"$T/perf.script" 2>"$T/perf.script.err" ||
			log "perf script failed: $(tail -n 3 "$T/perf.script.err")"
		read -r tu ts _ <"$T/post.time"
		post=$(awk -v u="$tu" -v s="$ts" 'BEGIN { printf "%.2f", u + s }')
		read -r smp g chain < <(perf_complete "${FIX_PIDS[*]}" <"$T/perf.script")
		cpl=$(pct "$g" "$smp")
		rm -f "$T/perf.data" "$T/perf.data.old" "$T/perf.script"
		;;
	esac
	stop_fixture
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$HZ" "$tool" "$run" "$cpu" "$post" "$bpf_ns" \
		"$nsfix" "$CAL_NS" "$fix" "$smp" "$cpl" "$chain" "$ccpl" >>"$RES"
	log "run $run $tool: cpu ${cpu}% post ${post}s bpf ${bpf_ns}ns/sample, ${nsfix}ns/fixture sample (others ${CAL_NS}ns; fixture ${fix}% of runs) samples $smp complete ${cpl}% chain $chain cold-complete ${ccpl}% (window ${win_s}s)"
}

est=$((RUNS * $(wc -w <<<"$TOOLS") * (CAL + COLD + WARMUP + DURATION + 12) / 60 + 1))
log "about $est min"
for ((run = 1; run <= RUNS; run++)); do
	# shellcheck disable=SC2086
	for tool in $(shuf -e $TOOLS); do measure "$tool" "$run"; done
done

# ------------------------------------------------------------- the table (medians)
echo
echo "unwinding: $BUSY x unwind_deep (main -> f1 .. f30; gcc -O2 -fomit-frame-pointer) on $NCPU CPUs at $HZ Hz,"
echo "SCOPE=$SCOPE; steady state: ${DURATION}s window after ${COLD}+${WARMUP}s; median of $RUNS run(s), shuffled order"
echo "(bpftrace-fp: the same chain built clang -fno-omit-frame-pointer; cold cpl%: stackd, the fixtures' first ${COLD}s)"
echo
awk -F'\t' "$BENCH_AWK_MEDIANS"'
	END {
		fmt = "%-13s %6s %7s %9s %7s %8s %6s %8s %7s %6s %10s\n"
		printf fmt, "tool", "cpu%", "post s", "ns/sample", "ns/fix", "other ns", "fix%", "samples", "cpl%", "chain", "cold cpl%"
		for (k = 1; k <= nk; k++) {
			key = order[k]
			printf fmt, tool[key], median(key, 4), median(key, 5), median(key, 6), median(key, 7),
				median(key, 8), median(key, 9), median(key, 10), median(key, 11), median(key, 12), median(key, 13)
			ns[tool[key]] = (median(key, 7) != "-") ? median(key, 7) : median(key, 6)
		}
		if (("bpftrace-fp" in ns) && ns["bpftrace-fp"] + 0 > 0) {
			print ""
			printf "BPF time per sample (ns/fix, else ns/sample), 30-deep FP-less stack vs bpftrace'"'"'s frame-pointer walk of the same depth (%s ns):\n", ns["bpftrace-fp"]
			for (t in ns) if (t !~ /^(bpftrace|perf)/ && ns[t] != "-")
				printf "  %-13s %6s ns = %.2fx   (target <= 3x)\n", t, ns[t], ns[t] / ns["bpftrace-fp"]
		}
	}' "$RES"
echo
echo "targets (reported, not asserted): stackd default cpu% <= 0.3; cpl% and cold cpl% >= 99"
echo
echo "raw per-run rows: Hz tool run cpu% post_s ns/sample ns/fix other_ns fix% samples cpl% chain cold_cpl%"
sed 's/^/  /' "$RES"
