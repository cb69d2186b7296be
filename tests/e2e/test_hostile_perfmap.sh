#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Hostile perf maps: a process names its JIT code in /tmp/perf-PID.map inside its own root,
# and it controls what lies there. A regular map must name its frames; a FIFO, a symlink out
# of its root and a sparse file must neither hang the agent nor name anything.
#
#   fixture: tests/fixtures/jit_loop.c (gcc -O2): a counting loop in an anonymous executable
#            page at 0x10000000, called for SECONDS; each case runs as
#              unshare -m --propagation private sh -c 'mount tmpfs on HOSTDIR, /dev/shm, /tmp;
#                cp BIN /dev/shm/; <plant /tmp/perf-$$.map>; exec /dev/shm/jit_pm_CASE'
#            (its own /tmp, as in a container; sh execs the fixture, so $$ is its pid):
#     regular  a map "10000000 a stackd_jit_loop": the positive control
#     symlink  /tmp/perf-PID.map -> HOSTDIR/perf.map (absolute). In the agent's namespace that
#              path holds a valid map naming host_secret_jit; in the fixture's it is hidden
#              (tmpfs on HOSTDIR): resolved in the process's root the link dangles.
#     fifo     a FIFO without a writer: open() for reading would block.
#     sparse   a sparse file of 2^63 - 1 bytes.
#   agent:   --profiling.frequency=99 --unwind.mode=fp
#   checks, per case (every wait bounded): a 4 s profile returns 200 within 30 s, the drain
#            keeps running, /-/ready 200, the fixture is in the profile (>= 10% of 99 Hz x 4 s);
#     regular: >= 50% of its samples have a stackd_jit_loop frame;
#     symlink: no frame named host_secret_jit; fifo: stackd_files_refused_total{reason=
#     "not_regular"} rose, no stackd_jit_loop frame; sparse: stackd_perfmap_refused_bytes_total
#     rose by about the file's size (read stops at the first 1 MiB without a line end);
#   and SIGTERM stops the agent with status 0.
#   HOSTILE_CASES="fifo" (etc.) runs a subset.
# shellcheck disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/test_sym_lib.sh"

HZ=99
WINDOW=4
CASES=${HOSTILE_CASES:-regular symlink fifo sparse}
SPARSE_SIZE=9223372036854775807 # 2^63 - 1: tmpfs's s_maxbytes
JIT_MAP="10000000 a stackd_jit_loop"
e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl unshare mount truncate mkfifo stat
unshare -m --propagation private true 2>/dev/null ||
	skip_or_fail "cannot create a mount namespace here (unshare -m fails)"

mkdir -p "$T/build" "$T/host"
"$FIXTURE_CC" -O2 -Wall -o "$T/build/jit_loop" "$STACKD_SRC/tests/fixtures/jit_loop.c" ||
	fail "cannot build tests/fixtures/jit_loop.c"
# What the symlink points at, valid and readable in the agent's namespace only.
echo "10000000 a host_secret_jit" >"$T/host/perf.map"

metrics() { curl -fsS -m 10 -o "$1" "$AGENT_URL/metrics" || fail "GET /metrics did not answer within 10 s"; }

# frames_named CASE REGEX: samples of the fixture with a frame whose function matches REGEX.
frames_named()
{
	awk -F'\t' -v pid="$FX" -v re="$2" '
		FILENAME ~ /locs$/ { if ($5 ~ re) hit[$1] = 1; next }
		$2 == pid { k = split($4, l, " "); for (i = 1; i <= k; i++) if (l[i] in hit) { n += $1; break } }
		END { print n + 0 }' "$T/$1.locs" "$T/$1.samples"
}

# refused_rose CASE REASON
refused_rose()
{
	local a b
	a=$(metric_val "$MS" "stackd_files_refused_total{reason=\"$2\"}")
	b=$(metric_val "$M1" "stackd_files_refused_total{reason=\"$2\"}")
	check "$(awk -v a="$a" -v b="$b" 'BEGIN { print (b > a) ? 1 : 0 }')" \
		"$1: stackd_files_refused_total{reason=\"$2\"} $a -> $b since the fixture started (want a rise)"
}

# run_case CASE PLANT: the fixture jit_pm_CASE with PLANT (sh, $1 = the perf map path)
# run in its namespace; then the checks every case shares. Sets FX, N, MS, M1.
run_case()
{
	local name=jit_pm_$1 plant=$2 deadline code d0 d1 rc=0
	cp "$T/build/jit_loop" "$T/build/$name"
	MS=$T/$1.mstart
	metrics "$MS"
	# shellcheck disable=SC2016 # $1..$3 are for the inner sh
	e2e_bg "$name" unshare -m --propagation private sh -c \
		'mount -t tmpfs stackd-e2e "$1" && mount -t tmpfs stackd-e2e /dev/shm &&
		cp "$2" /dev/shm/ && mount -t tmpfs stackd-e2e /tmp && set -- "/tmp/perf-$$.map" "$2" "$3" &&
		'"$plant"' && exec "/dev/shm/${2##*/}" "$3"' sh "$T/host" "$T/build/$name" $((WINDOW + 8))
	FX=$BG_PID
	deadline=$(($(now_ms) + 5000))
	while [[ $(cat "/proc/$FX/comm" 2>/dev/null) != "$name" ]]; do
		kill -0 "$FX" 2>/dev/null || fail "$name did not start: $(cat "$T/$name.out")"
		(($(now_ms) < deadline)) || fail "pid $FX did not become $name within 5 s: $(cat "$T/$name.out")"
		sleep 0.05
	done
	info "$1: pid $FX; its /tmp/perf-$FX.map: $(stat -c '%F, %s bytes' "/proc/$FX/root/tmp/perf-$FX.map" 2>&1)"
	sleep 1
	M1=$T/$1.m1
	metrics "$T/$1.m0"
	code=$(curl -sS -m $((WINDOW + 26)) -o "$T/$1.pb.gz" -w '%{http_code}' \
		"$AGENT_URL/debug/pprof/profile?seconds=$WINDOW" 2>"$T/$1.curl.err" || true)
	check "$([[ $code == 200 ]] && echo 1 || echo 0)" \
		"$1: a ${WINDOW} s profile request returned $code within $((WINDOW + 26)) s (want 200)"
	metrics "$M1"
	d0=$(metric_val "$T/$1.m0" stackd_samples_drained_total)
	d1=$(metric_val "$M1" stackd_samples_drained_total)
	check "$(awk -v a="$d0" -v b="$d1" 'BEGIN { print (b > a) ? 1 : 0 }')" \
		"$1: stackd_samples_drained_total $d0 -> $d1 across the request (the drain thread runs)"
	code=$(http_code "$AGENT_URL/-/ready")
	check "$([[ $code == 200 ]] && echo 1 || echo 0)" "$1: /-/ready answers $code (want 200)"
	e2e_pprof -symbolize=none -raw "$T/$1.pb.gz" >"$T/$1.raw" 2>"$T/$1.raw.err" ||
		fail "go tool pprof -raw $T/$1.pb.gz failed: $(head -c 400 "$T/$1.raw.err")"
	sym_raw_tables "$T/$1.raw" "$T/$1"
	N=$(sym_pid_samples "$T/$1" "$FX")
	check "$((10 * N >= HZ * WINDOW))" \
		"$1: the fixture is in the profile: $N samples (want >= 10% of $HZ Hz x $WINDOW s)"
	sym_leaf_lines "$T/$1" "$FX" | head -n 2 | sed "s/^/[$E2E_NAME]     $1 leaf: /"
	e2e_reap "$FX" 30 || rc=$?
	check "$((rc == 0))" "$1: fixture exited with status $rc"
}

agent_start --profiling.frequency=$HZ --unwind.mode=fp

for c in $CASES; do
	case $c in
	regular)
		run_case regular 'echo "'"$JIT_MAP"'" >"$1"'
		n=$(frames_named regular '^stackd_jit_loop$')
		check "$((N > 0 && 2 * n >= N))" "regular: $n of $N samples name stackd_jit_loop (want >= 50%)"
		;;
	symlink)
		run_case symlink '! test -e "'"$T/host/perf.map"'" && ln -s "'"$T/host/perf.map"'" "$1"'
		n=$(frames_named symlink host_secret_jit)
		check "$((n == 0))" "symlink: samples named from the agent's file host_secret_jit: $n (want 0)"
		;;
	fifo)
		run_case fifo 'mkfifo "$1"'
		refused_rose fifo not_regular
		n=$(frames_named fifo stackd_jit_loop)
		check "$((n == 0))" "fifo: samples naming stackd_jit_loop: $n (want 0)"
		;;
	sparse)
		run_case sparse 'truncate -s '"$SPARSE_SIZE"' "$1"'
		a=$(metric_val "$MS" stackd_perfmap_refused_bytes_total)
		b=$(metric_val "$M1" stackd_perfmap_refused_bytes_total)
		# All of it but the one chunk read (1 MiB) is refused, counted once.
		check "$(awk -v a="$a" -v b="$b" -v s="$SPARSE_SIZE" 'BEGIN { d = b - a; print (d > s - 2 * 1048576 && d <= s) ? 1 : 0 }')" \
			"sparse: stackd_perfmap_refused_bytes_total $a -> $b (want a rise of about 2^63 - 1 MiB: the file refused after its first chunk)"
		;;
	*) fail "unknown case '$c' in HOSTILE_CASES" ;;
	esac
done

agent_stop TERM
pass "cases: $CASES; JIT frames named from a regular perf map; FIFO, symlink and sparse maps refused, the agent kept draining and stopped"
