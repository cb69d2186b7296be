#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# How long a /debug/pprof/history query over 15 minutes of a busy node takes, next to
# go tool pprof merging the same windows. bench/history_query (bench/history_query.c)
# synthesises 90 windows of 10 s the way the agent builds them and times the query the
# way serve_history() runs it; go tool pprof -proto then merges the same 90 windows from
# gzip pprof files. Optionally (root, an agent binary), an end-to-end figure: the real
# agent at 999 Hz with 1 s windows and a busy fixture, then curl /debug/pprof/history.
# Prints figures; asserts nothing. See bench/README.md ("History queries").
#
#   bench/history_query.sh                 # 4 cases + end-to-end: ~4 min on 2 vCPUs
#   CASES="99:4000:1" E2E=0 bench/history_query.sh   # the 99 Hz model only: ~30 s
#
# Environment:
#   CASES="19:4000:1 99:4000:1 999:4000:1 999:30000:0.8"
#                          HZ:STACKS:SKEW per case (node-wide stack population, Zipf exponent)
#   RUNS=7                 timed stackd queries per case (median, min, max)
#   GO_RUNS=5              go tool pprof runs per case below 999 Hz, GO_RUNS_HEAVY=3 above
#   HISTORY_QUERY=PATH     the bench program; default: build it in BUILD_DIR
#   BUILD_DIR=build-bench  CMake build directory (relative to the source root, or absolute)
#   E2E=auto|0|1           the end-to-end figure: auto = when root with an agent binary
#   STACKD_BIN=PATH        agent binary (default: build/stackd, else BUILD_DIR/stackd)
#   E2E_SECONDS=60         how long the agent samples the fixture before the queries
#   PORT=16399             the agent's port (127.0.0.1)
#   WORKDIR=DIR            where window files go (default: a new /tmp dir, removed at exit)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CASES=${CASES:-19:4000:1 99:4000:1 999:4000:1 999:30000:0.8}
RUNS=${RUNS:-7}
GO_RUNS=${GO_RUNS:-5}
GO_RUNS_HEAVY=${GO_RUNS_HEAVY:-3}
BUILD_DIR=${BUILD_DIR:-build-bench}
E2E=${E2E:-auto}
E2E_SECONDS=${E2E_SECONDS:-60}
PORT=${PORT:-16399}
case $BUILD_DIR in
/*) build=$BUILD_DIR ;;
*) build=$ROOT/$BUILD_DIR ;;
esac

# die, median, now_ms
. "$ROOT/bench/lib.sh"
command -v go >/dev/null 2>&1 || die "go not found: apt-get install golang-go (for go tool pprof)"

keep_workdir=${WORKDIR:+1}
WORKDIR=${WORKDIR:-$(mktemp -d /tmp/history_query.XXXXXX)}
mkdir -p "$WORKDIR/home"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	[ -n "$keep_workdir" ] || rm -rf "$WORKDIR"
}
trap cleanup EXIT
# go tool pprof keeps its side files out of $HOME.
export PPROF_TMPDIR=$WORKDIR/home HOME=$WORKDIR/home

want_e2e=0
STACKD_BIN=${STACKD_BIN:-}
if [ "$E2E" != 0 ] && [ "$(id -u)" = 0 ]; then
	want_e2e=1
elif [ "$E2E" = 1 ]; then
	die "E2E=1 needs root (the agent loads BPF)"
fi

targets=()
[ -n "${HISTORY_QUERY:-}" ] || targets+=(history_query)
if [ "$want_e2e" = 1 ] && [ -z "$STACKD_BIN" ] && [ ! -x "$ROOT/build/stackd" ]; then
	targets+=(stackd)
fi
if [ ${#targets[@]} -gt 0 ]; then
	echo "# building ${targets[*]} in $build" >&2
	if [ ! -f "$build/CMakeCache.txt" ]; then
		cmake -S "$ROOT" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTACKD_TESTS=OFF \
			>/dev/null
	fi
	for t in "${targets[@]}"; do
		cmake --build "$build" -j"$(nproc)" --target "$t" >/dev/null
	done
fi
HISTORY_QUERY=${HISTORY_QUERY:-$build/bench/history_query}
[ -x "$HISTORY_QUERY" ] || die "$HISTORY_QUERY is not executable"
if [ -z "$STACKD_BIN" ]; then
	if [ -x "$ROOT/build/stackd" ]; then STACKD_BIN=$ROOT/build/stackd; else STACKD_BIN=$build/stackd; fi
fi

# res KEY "RESULT k=v ...": the value of KEY.
res() {
	tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"
}

# samples (distinct) and total count of a profile, as go tool pprof reads it
pprof_totals() {
	go tool pprof -raw "$1" 2>/dev/null | awk '
		/^Samples:/ { s = 1; next } /^Locations/ { s = 0 }
		s && /^ +[0-9]+ +[0-9]+:/ { n++; t += $1 } END { printf "%d/%d", n, t }'
}

commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	commit="$commit+dirty"
fi
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $(nproc) CPUs, stackd $commit," \
	"$(go version | awk '{print $3}'), RUNS=$RUNS GO_RUNS=$GO_RUNS/$GO_RUNS_HEAVY"
echo "# load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"

t_all=$(now_ms)
rows_full=()
rows_default=()
go_floor=
for c in $CASES; do
	IFS=: read -r hz stacks skew <<<"$c"
	dir=$WORKDIR/$hz-$stacks
	rm -rf "$dir"
	mkdir -p "$dir"
	echo "# case ${hz} Hz, $stacks stacks, Zipf $skew" >&2
	# 15 minutes held: a budget that keeps all 90 windows; window files for go tool pprof.
	full=$("$HISTORY_QUERY" --hz "$hz" --stacks "$stacks" --skew "$skew" --runs "$RUNS" \
		--max-bytes 4096 --out "$dir" | grep '^RESULT')
	# What the agent holds with its default --history.max-bytes=32MiB.
	dflt=$("$HISTORY_QUERY" --hz "$hz" --stacks "$stacks" --skew "$skew" --runs "$RUNS" |
		grep '^RESULT')

	files=("$dir"/w*.pb.gz)
	if [ -z "$go_floor" ]; then
		# go tool pprof's own start-up: one window, three times.
		ts=()
		for _ in 1 2 3; do
			t0=$(now_ms)
			go tool pprof -proto "${files[0]}" >"$dir/go1.pb.gz" 2>"$dir/go.err" ||
				die "go tool pprof failed: $(tail -1 "$dir/go.err")"
			ts+=($(($(now_ms) - t0)))
		done
		go_floor=$(printf '%s\n' "${ts[@]}" | median)
	fi
	n=$GO_RUNS
	[ "$hz" -ge 999 ] && n=$GO_RUNS_HEAVY
	ts=()
	for _ in $(seq "$n"); do
		t0=$(now_ms)
		go tool pprof -proto "${files[@]}" >"$dir/go.pb.gz" 2>"$dir/go.err" ||
			die "go tool pprof failed: $(tail -1 "$dir/go.err")"
		ts+=($(($(now_ms) - t0)))
	done
	go_ms=$(printf '%s\n' "${ts[@]}" | median)
	ms=$(res ms_med "$full")
	same=no
	[ "$(pprof_totals "$dir/query.pb.gz")" = "$(pprof_totals "$dir/go.pb.gz")" ] && same=yes
	rows_full+=("$(printf '%5s %7s %9s %9s %8.1f %7s %6s %6s %7s %7s %7d %7s %7d %8s %4s' \
		"$hz" "$(res stacks "$full")" "$(res distinct_window "$full")" \
		"$(res distinct_answer "$full")" "$(awk -v b="$(res bytes "$full")" \
		'BEGIN{print b / 1048576}')" "$(res samples "$full")" \
		"$ms" "$(res ms_min "$full")" "$(res ms_max "$full")" "$(res pid_ms_med "$full")" \
		"$(($(res out_bytes "$full") / 1024))" "$go_ms" "$(($(stat -c %s "$dir/go.pb.gz") / 1024))" \
		"$(awk -v a="$ms" -v b="$go_ms" 'BEGIN{printf "%.3f", a / b}')" "$same")")
	rows_default+=("$(printf '%5s %7s %7s %7s %7s %6s %6s %7s %7d' "$hz" "$(res stacks "$dflt")" \
		"$(res windows "$dflt")" "$(awk -v w="$(res windows "$dflt")" 'BEGIN{printf "%.1f", w / 6}')" \
		"$(res ms_med "$dflt")" "$(res ms_min "$dflt")" "$(res ms_max "$dflt")" \
		"$(res pid_ms_med "$dflt")" "$(($(res out_bytes "$dflt") / 1024))")")
	rm -rf "$dir"
done

echo
echo "15 minutes held (90 windows of 10 s; budget raised to hold them all): stackd query vs go tool pprof -proto"
printf '%5s %7s %9s %9s %8s %7s %6s %6s %7s %7s %7s %7s %7s %8s %4s\n' Hz stacks dist/win \
	dist/15m hist_MiB samples ms_med ms_min ms_max pid_ms out_KiB go_ms go_KiB stackd/go same
printf '%s\n' "${rows_full[@]}"
echo
echo "with the default --history.max-bytes=32MiB (the newest windows that fit; the query asks for 15 min)"
printf '%5s %7s %7s %7s %7s %6s %6s %7s %7s\n' Hz stacks windows minutes ms_med ms_min ms_max \
	pid_ms out_KiB
printf '%s\n' "${rows_default[@]}"
echo "# stackd: median/min/max of $RUNS queries in-process (acquire, merge, gzip encode, release),"
echo "#   pid_ms: the same with ?pid= of the busiest process; go: wall time of"
echo "#   'go tool pprof -proto FILES' (start-up, reading, merging, writing), median"
echo "# go tool pprof -proto on one window file (its start-up floor): $go_floor ms"
echo "# same: equal distinct samples and total count in both answers (go tool pprof -raw)"

if [ "$want_e2e" = 1 ]; then
	if [ ! -x "$STACKD_BIN" ]; then
		[ "$E2E" = 1 ] && die "agent binary not found: STACKD_BIN=$STACKD_BIN"
		echo "# end-to-end skipped: no agent binary at $STACKD_BIN"
		exit 0
	fi
	command -v clang >/dev/null 2>&1 || die "clang not found (fixtures keep leaf frames with it)"
	command -v curl >/dev/null 2>&1 || die "curl not found"
	clang -O1 -g -fno-omit-frame-pointer -Wall -o "$WORKDIR/many_stacks" \
		"$ROOT/tests/fixtures/many_stacks.c"
	"$STACKD_BIN" --web.listen-address="127.0.0.1:$PORT" --history.window=1s \
		--profiling.frequency=999 --log.level=warn 2>"$WORKDIR/agent.log" &
	agent=$!
	pids+=("$agent")
	for _ in $(seq 100); do
		curl -fs "http://127.0.0.1:$PORT/-/ready" >/dev/null && break
		kill -0 "$agent" 2>/dev/null || die "the agent exited: $(tail -3 "$WORKDIR/agent.log")"
		sleep 0.1
	done
	for _ in $(seq "$(nproc)"); do
		"$WORKDIR/many_stacks" $((E2E_SECONDS + 60)) >/dev/null &
		pids+=($!)
	done
	echo "# end-to-end: $STACKD_BIN at 999 Hz, 1 s windows, $(nproc) x many_stacks," \
		"${E2E_SECONDS} s" >&2
	sleep "$((E2E_SECONDS + 1))"
	ts=()
	for _ in 1 2 3 4 5; do
		t=$(curl -fsS -o "$WORKDIR/e2e.pb.gz" -w '%{time_total}' \
			"http://127.0.0.1:$PORT/debug/pprof/history?seconds=60")
		ts+=("$(awk -v t="$t" 'BEGIN{printf "%.1f", t * 1000}')")
	done
	metric() {
		curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'
	}
	echo
	echo "end-to-end: the agent at 999 Hz, 1 s windows, $(nproc) x tests/fixtures/many_stacks for" \
		"${E2E_SECONDS} s; curl /debug/pprof/history?seconds=60"
	printf '%8s %9s %9s %12s %8s %7s %7s %8s\n' windows hist_MiB held_smp answer_smp ms_med \
		ms_min ms_max out_KiB
	printf '%8s %9.1f %9s %12s %8s %7s %7s %8d\n' "$(metric stackd_history_windows)" \
		"$(awk -v b="$(metric stackd_history_bytes)" 'BEGIN{print b / 1048576}')" \
		"$(metric stackd_history_samples)" "$(pprof_totals "$WORKDIR/e2e.pb.gz")" \
		"$(printf '%s\n' "${ts[@]}" | median)" "$(printf '%s\n' "${ts[@]}" | sort -g | head -1)" \
		"$(printf '%s\n' "${ts[@]}" | sort -g | tail -1)" \
		"$(($(stat -c %s "$WORKDIR/e2e.pb.gz") / 1024))"
	echo "# curl time_total of 5 requests (median, min, max); answer_smp: distinct/total samples"
fi
echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); took $((($(now_ms) - t_all) / 1000)) s"
