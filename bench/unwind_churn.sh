#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Short-lived processes (issue 12): RATE new processes a second for DURATION seconds, each
# spinning 20-60 ms in a hot function of its own built without frame pointers
# (bench/churn.c, gcc -O2 -fomit-frame-pointer). How many of their samples does stackd name
# right, and how many does it name wrong? Side by side: stackd's default mode (kernel), dwarf,
# an older build when STACKD_BEFORE_BIN is set, and `perf record --call-graph dwarf` as the
# reference: perf records every mmap and symbolizes afterwards, so its named% is what the
# workload allows (samples in exec, ld.so and exit are rightly not in churn_hot).
#
#   sudo bench/unwind_churn.sh                           # RUNS=3 x 3 tools x 20 s: ~5 min
#   sudo STACKD_BEFORE_BIN=/tmp/before/build/stackd bench/unwind_churn.sh   # + before: ~7 min
#   sudo RUNS=1 TOOLS=kernel bench/unwind_churn.sh       # quick look
#
# Parameters (environment):
#   RUNS=3            runs per tool, shuffled order; the table shows medians
#   DURATION=20       seconds of spawning per run
#   RATE=200          new processes a second (four spawners; the rate achieved is printed: on a
#                     loaded 2-vCPU machine it can be lower)
#   MIN_MS=20 MAX_MS=60   each child's burn, uniform (seed 1)
#   BURN=wall         wall: a child spins until MIN..MAX ms of wall time passed (at 200/s that
#                     is 8 spinning processes at once: on 2 CPUs each gets ~1/4 of a CPU); cpu:
#                     until it used that much CPU (200/s x 40 ms = 8 CPUs of work: on 2 CPUs the
#                     spawners then wait at MAX_LIVE live children and the rate drops)
#   MAX_LIVE=64       children alive at once, at most
#   HZ=99             sampling frequency
#   TOOLS             default "kernel dwarf perf-dwarf", plus before-MODE for each of
#                     BEFORE_MODES (default "auto") when STACKD_BEFORE_BIN is set; perf-dwarf:
#                     perf record -e cpu-clock -F HZ -a -G CG --call-graph dwarf, then perf script
#   STACKD_BIN        default: build/stackd of this tree; STACKD_ARGS: extra flags
#   KEEP_TMP=1        keep the profiles and logs
#
# Every run starts its agent (sampling only the workload's cgroup), waits until it is ready,
# asks for one profile covering the whole spawning (DURATION + 2 s) and starts the spawners.
# Columns (medians; the agent is warm, the processes are all new: cold start of processes):
#   procs/s    children started a second (all spawners)
#   samples    samples of the children (comm churn_child) in the profile
#   named%     share of them with a frame named churn_hot (their own hot function)
#   unnamed%   share whose user frames have no name at all ([user stack unavailable], raw
#              addresses, <unknown> placeholders)
#   wrong      samples with a frame whose name the child cannot be running: not a symbol of
#              churn_child, libc, ld.so or the vDSO (nor of their separate debug files), nor a
#              kernel symbol; inline frames are judged by the function they are inlined in
#   cpu%       the tool's user+sys over the run, % of one CPU (perf: perf record only; its
#              DWARF unwinding and symbolization happen in perf script afterwards)
# Targets (issue 12; reported, not asserted): named% >= 90, wrong = 0.
set -euo pipefail

RUNS=${RUNS:-3}
DURATION=${DURATION:-20}
RATE=${RATE:-200}
MIN_MS=${MIN_MS:-20}
MAX_MS=${MAX_MS:-60}
BURN=${BURN:-wall}
MAX_LIVE=${MAX_LIVE:-64}
HZ=${HZ:-99}
BEFORE_MODES=${BEFORE_MODES:-auto}
STACKD_ARGS=${STACKD_ARGS:-}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACKD_BIN=${STACKD_BIN:-$SRC/build/stackd}
STACKD_BEFORE_BIN=${STACKD_BEFORE_BIN:-}
if [[ -z ${TOOLS:-} ]]; then
	TOOLS="kernel dwarf"
	if [[ -n $STACKD_BEFORE_BIN ]]; then for m in $BEFORE_MODES; do TOOLS+=" before-$m"; done; fi
	TOOLS+=" perf-dwarf"
fi
CLK_TCK=$(getconf CLK_TCK)

. "$SRC/bench/lib.sh"

[[ $(id -u) == 0 ]] || die "run as root (BPF, cgroups)"
for v in RUNS DURATION RATE MIN_MS MAX_MS MAX_LIVE HZ; do [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"; done
[[ $BURN == wall || $BURN == cpu ]] || die "BURN: wall or cpu"
for t in $TOOLS; do
	case $t in
	kernel | dwarf | fp) [[ -x $STACKD_BIN ]] || die "stackd not built: $STACKD_BIN" ;;
	before-*) [[ -x $STACKD_BEFORE_BIN ]] || die "$t needs STACKD_BEFORE_BIN (an executable)" ;;
	perf-dwarf) command -v perf >/dev/null || die "perf not installed (linux-perf)" ;;
	*) die "unknown tool '$t' (kernel, dwarf, fp, before-MODE, perf-dwarf)" ;;
	esac
done
for c in gcc curl go awk nm readelf shuf; do command -v "$c" >/dev/null || die "$c not installed"; done

T=$(mktemp -d "${TMPDIR:-/tmp}/unwind_churn.XXXXXX")
PIDS=()
CGROOT=/sys/fs/cgroup
[[ -f $CGROOT/cgroup.procs && $(stat -f -c %T $CGROOT) == cgroup2fs ]] || CGROOT=/sys/fs/cgroup/unified
[[ $(stat -f -c %T $CGROOT 2>/dev/null) == cgroup2fs ]] || die "needs cgroup v2 (/sys/fs/cgroup or its unified/)"
CG=$CGROOT/stackd-churn.$$
mkdir "$CG"
bench_cleanup_hook()
{
	for _ in $(seq 50); do rmdir "$CG" 2>/dev/null && break; sleep 0.1; done
}
bench_traps

gcc -O2 -g -fomit-frame-pointer -o "$T/churn" "$SRC/bench/churn.c"
cp "$T/churn" "$T/churn_child"

# ------------------------------------------------------------- the names a child may run
# debug_of FILE: its separate debug file by build id, if installed
debug_of()
{
	local id
	id=$(readelf -n "$1" 2>/dev/null | awk '/Build ID:/ { print $3; exit }')
	[[ -n $id && -r /usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug ]] && echo "/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
	return 0
}
LIBC=$(ldd "$T/churn_child" | awk '/libc\.so/ { print $3 }')
LDSO=$(readlink -f "$(ldd "$T/churn_child" | awk '/ld-linux/ { print $1 }')")
{
	for f in "$T/churn_child" "$LIBC" "$LDSO" $(debug_of "$LIBC") $(debug_of "$LDSO"); do
		nm --defined-only "$f" 2>/dev/null || true
		nm -D --defined-only "$f" 2>/dev/null || true
	done | awk 'NF >= 3 { print $3 }'
	awk '{ print $3 }' /proc/kallsyms
	# the vDSO's exports (clock_gettime here)
	printf '%s\n' __vdso_clock_gettime clock_gettime __vdso_gettimeofday gettimeofday __vdso_time time \
		__vdso_getcpu getcpu __vdso_clock_getres clock_getres
} | sed 's/@.*//' | sort -u >"$T/legit.names"
log "unwind_churn: $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); $(wc -l <"$T/legit.names") names a child may run"
log "RUNS=$RUNS DURATION=${DURATION}s RATE=$RATE/s ${MIN_MS}-${MAX_MS} ms BURN=$BURN MAX_LIVE=$MAX_LIVE HZ=$HZ TOOLS='$TOOLS'"
log "stackd: $("$STACKD_BIN" --version 2>&1 | head -n 1) ($STACKD_BIN, $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')) $STACKD_ARGS"
[[ -z $STACKD_BEFORE_BIN ]] || log "before: $("$STACKD_BEFORE_BIN" --version 2>&1 | head -n 1) ($STACKD_BEFORE_BIN)"

# go tool pprof -traces on stdin: "samples named unnamed wrong" for comm churn_child; the
# wrong names go to $T/wrong.TOOL.RUN
churn_count()
{
	awk -v legit="$T/legit.names" -v wrongf="$1" '
	BEGIN { while ((getline l < legit) > 0) ok[l] = 1 }
	function flush() {
		if (inb && comm == "churn_child" && cnt > 0) {
			tot += cnt
			if (hot) named += cnt
			if (!anyname) unnamed += cnt
			if (bad != "") { wrong += cnt; print cnt "\t" bad > wrongf }
		}
		inb = 0; comm = ""; cnt = 0; hot = 0; anyname = 0; bad = ""
	}
	function frame(f,    inl, g) {
		inl = sub(/ \(inline\)$/, "", f)
		if (f == "churn_hot") hot = 1
		if (f ~ /^\[.*\]$/ || f ~ /^<.*>$/ || f ~ /^0x[0-9a-f]+$/ || f ~ /^[0-9a-f]+$/) return
		anyname = 1
		g = f; sub(/@.*/, "", g) # foo@plt, foo@@GLIBC_2.2.5
		if (g == "") return      # perf: "@plt", a stub without a name
		# A BPF program the child runs (the exit and exec hooks of a tool): loaded after kallsyms
		# was read, its name is a kernel symbol all the same.
		if (g ~ /^bpf_prog_[0-9a-f]+_/) return
		if (!inl && !(g in ok)) bad = bad (bad == "" ? "" : " <- ") f
	}
	/^-+\+/ { flush(); inb = 1; next }
	inb && /^ +comm: / { comm = $2; next }
	inb && /^ +[a-z_]+: / && !cnt { next }
	inb && /^ +[0-9]+ +/ && !cnt { cnt = $1; f = $0; sub(/^ +[0-9]+ +/, "", f); frame(f); next }
	inb && cnt && /^ +[^ ]/ { f = $0; sub(/^ +/, "", f); frame(f) }
	END { flush(); printf "%d %d %d %d\n", tot, named, unnamed, wrong }'
}

# perf script -F comm,pid,ip,sym on stdin, printed as go tool pprof -traces prints a sample
# (one count each), for churn_count
perf_as_traces()
{
	awk '
	function flush() { if (inb) printf "%s", b } 
	/^$/ { flush(); inb = 0; next }
	/^\t/ { if (!inb) next; l = $0; sub(/^\t *[0-9a-f]+ /, "", l); sub(/\+0x[0-9a-f]+$/, "", l)
		sub(/ \(inlined\)$/, " (inline)", l)
		if (l == "[unknown]") l = "<unknown>"
		b = b (nf++ ? "             " l : "         1   " l) "\n"; next }
	{ flush(); inb = 1; nf = 0; b = "-----------+---\n      comm:  " $1 "\n       pid:  " $2 "\n" }
	END { flush() }'
}

RES=$T/results.tsv
: >"$RES"

measure()
{
	local tool=$1 run=$2 bin=$STACKD_BIN mode=$1 port url pid prof_pid spawn_pid log=$T/$1.$2.log
	local k0 k1 t0 t1 cpu rate n named unnamed wrong
	local -a sargs
	prof_pid=""
	[[ $tool == before-* ]] && bin=$STACKD_BEFORE_BIN mode=${tool#before-}
	if [[ $tool == perf-dwarf ]]; then
		rm -f "$T/perf.data"
		perf record -e cpu-clock -F "$HZ" -a -G "${CG#"$CGROOT"/}" --call-graph dwarf -o "$T/perf.data" >"$log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		sleep 1
		kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "perf record exited"; }
	else
	port=$(free_port)
	url=http://127.0.0.1:$port
	read -r -a sargs <<<"$STACKD_ARGS"
	"$bin" --web.listen-address=127.0.0.1:"$port" --profiling.frequency="$HZ" --unwind.mode="$mode" \
		--profiling.cgroups="$CG" --log.level=warn "${sargs[@]}" >"$log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	bench_wait_http "$url/-/ready" "$pid" "$log" ready
	curl -sS -m $((DURATION + 60)) -o "$T/p.pb.gz" "$url/debug/pprof/profile?seconds=$((DURATION + 2))" 2>"$T/curl.err" &
	prof_pid=$!
	PIDS+=("$prof_pid")
	sleep 0.2
	fi
	t0=$(now_ms)
	k0=$(proc_ticks "$pid")
	CHURN_CHILD=$T/churn_child sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$CG" \
		"$T/churn" spawn "$RATE" "$DURATION" "$MIN_MS" "$MAX_MS" "$BURN" "$MAX_LIVE" 2>"$T/spawn.$tool.$run" &
	spawn_pid=$!
	PIDS+=("$spawn_pid")
	wait "$spawn_pid" || true
	untrack "$spawn_pid"
	if [[ $tool == perf-dwarf ]]; then
		sleep 2
	else
		wait "$prof_pid" || true
		untrack "$prof_pid"
	fi
	k1=$(proc_ticks "$pid")
	t1=$(now_ms)
	if [[ $tool == perf-dwarf ]]; then bench_stop "$pid" INT 600; else bench_stop "$pid" TERM 100; fi
	cpu=$(awk -v k=$((k1 - k0)) -v hz="$CLK_TCK" -v w=$((t1 - t0)) 'BEGIN { printf "%.2f", 100 * k / hz / (w / 1000) }')
	rate=$(awk -v d="$DURATION" '/children in/ { n += $2 } END { printf "%.0f", n / d }' "$T/spawn.$tool.$run")
	: >"$T/wrong.$tool.$run"
	if [[ $tool == perf-dwarf ]]; then
		read -r n named unnamed wrong < <(perf script -i "$T/perf.data" -F comm,pid,ip,sym 2>/dev/null | perf_as_traces |
			churn_count "$T/wrong.$tool.$run")
		rm -f "$T/perf.data" "$T/perf.data.old"
	else
		read -r n named unnamed wrong < <(PPROF_TMPDIR=$T HOME=$T go tool pprof -sample_index=0 -traces "$T/p.pb.gz" 2>/dev/null |
			churn_count "$T/wrong.$tool.$run")
	fi
	local pn pu
	pn=$(awk -v a="$named" -v t="$n" 'BEGIN { if (t) printf "%.1f", 100 * a / t; else print "-" }')
	pu=$(awk -v a="$unnamed" -v t="$n" 'BEGIN { if (t) printf "%.1f", 100 * a / t; else print "-" }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$HZ" "$tool" "$run" "$rate" "$n" "$pn" "$pu" "$wrong" "$cpu" >>"$RES"
	log "run $run $tool: $rate procs/s, $n samples, named ${pn}%, unnamed ${pu}%, wrong $wrong, agent cpu ${cpu}%"
	if ((wrong > 0)); then
		log "  wrong names (count, frames innermost first):"
		sort -t$'\t' -k1,1nr "$T/wrong.$tool.$run" | head -n 5 | sed 's/^/#    /' >&2
	fi
}

log "about $((RUNS * $(wc -w <<<"$TOOLS") * (DURATION + 12) / 60 + 1)) min"
for ((run = 1; run <= RUNS; run++)); do
	# shellcheck disable=SC2086
	for tool in $(shuf -e $TOOLS); do measure "$tool" "$run"; done
done

echo
echo "short-lived processes: $RATE/s asked for ${DURATION}s, each ${MIN_MS}-${MAX_MS} ms ($BURN) in churn_hot"
echo "(gcc -O2 -fomit-frame-pointer); $HZ Hz; every process new to a warm agent; median of $RUNS run(s)"
echo
awk -F'\t' "$BENCH_AWK_MEDIANS"'
	END {
		fmt = "%-13s %8s %8s %7s %9s %6s %6s\n"
		printf fmt, "tool", "procs/s", "samples", "named%", "unnamed%", "wrong", "cpu%"
		for (k = 1; k <= nk; k++) {
			key = order[k]
			printf fmt, tool[key], median(key, 4), median(key, 5), median(key, 6), median(key, 7), median(key, 8), median(key, 9)
		}
	}' "$RES"
echo
echo "targets (reported, not asserted): named% >= 90, wrong = 0"
echo
echo "raw per-run rows: Hz tool run procs/s samples named% unnamed% wrong cpu%"
sed 's/^/  /' "$RES"
