#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Stack truth (issue 12): for every stack shape a profiler meets in native code, the
# agent reports the EXACT chain, leaf to root, in the default unwinding mode. One agent
# run profiles every fixture of the selected shapes at once (CI time), each process is
# judged on its own samples.
#
#   fixtures: tests/fixtures/stack_shapes.c, built with gcc and with clang
#               `-O2 -g -fomit-frame-pointer -pthread` (shape_gcc, shape_clang), one
#               process per shape and compiler:
#               deep      deep30 <- deep29 <- ... <- deep1 <- main            (30 frames)
#               qsort     cmp_hot <- msort_with_tmp (xN) <- qsort_r <- qsort <- sort_caller <- main
#               syscall   (kernel) read <- read_caller <- main             (libc's wrapper's caller kept)
#               bigframe  big_hot <- big_frame (64 KiB frame) <- main
#               threads   thr_hot <- thr_outer <- thr_main <- start_thread <- clone3   (2 workers)
#               signal    sig_hot <- on_alarm <- __restore_rt <- sig_interrupted <- main
#             tests/fixtures/stack_shapes_cpp.cc, `g++ -O2 -g -fomit-frame-pointer` (shape_cpp):
#               shapes::scramble (inlined) <- shapes::mix (inlined)
#                 <- shapes::Pipeline<unsigned long>::churn <- shapes::drive <- main
#             tests/fixtures/stack_shapes_rs.rs, Debian's `rustc -O -C force-frame-pointers=no -g`
#               (shape_rs): hot_leaf <- layer_b <- layer_a <- drive <- stack_shapes_rs::main
#                 <- std's start-up frames (inlined ones included) <- main
#             Below main, every main-thread chain ends
#               main <- __libc_start_call_main <- __libc_start_main_impl <- _start
#             and worker threads end start_thread <- clone3: what gdb's `bt` (with
#             `set backtrace past-main on`) shows on Debian 12's glibc 2.36, for both.
#   agent:    default --unwind.mode (or STACK_SHAPES_MODE), --profiling.frequency=$HZ
#   checks:   objdump: no jmp (tail call) to a fixture function, no frame-pointer prologue
#             in deep1..deep30; per fixture process, >= MIN_SAMPLES samples and >= MIN_PCT%
#             of them have, leaf first, exactly the expected user chain down to the root
#             (kernel frames on top are ignored; the vDSO's clock_gettime between two
#             chunks of work counts against the share).
#   prints:   per process: samples, share, the most frequent chains that did not match.
#
# Environment: SHAPES (default: all of "deep qsort syscall bigframe threads signal cpp rust"),
# SHAPES_CCS="gcc clang" (the C compilers), STACK_SHAPES_MODE (empty: the agent's default;
# else passed as --unwind.mode), STACK_SHAPES_MIN_PCT=95, STACK_SHAPES_WINDOW=12,
# STACK_SHAPES_MIN_SAMPLES=40,
# RUSTC (default /usr/bin/rustc when present: Debian's), STACK_SHAPES_AGENT_ARGS (more
# agent flags). The ctests run it through test_stack_shapes_{c,frames,lang}.sh, which
# pick the shapes.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HZ=99
WINDOW=${STACK_SHAPES_WINDOW:-12}
LEAD=2 # seconds between the fixtures' start and the window
SHAPES=${SHAPES:-deep qsort syscall bigframe threads signal cpp rust}
SHAPES_CCS=${SHAPES_CCS:-gcc clang}
MODE=${STACK_SHAPES_MODE:-}
MIN_PCT=${STACK_SHAPES_MIN_PCT:-95}
# Up to 15 busy threads share 2 CPUs (198 samples/s): ~150 per process in 12 s on an idle
# node, fewer when other work shares it.
MIN_SAMPLES=${STACK_SHAPES_MIN_SAMPLES:-40}
if [[ -z ${RUSTC:-} ]]; then
	RUSTC=rustc
	[[ -x /usr/bin/rustc ]] && RUSTC=/usr/bin/rustc
fi

# The root of a main-thread stack and of a worker thread's, leaf first (glibc 2.36).
ROOT_MAIN='main;__libc_start_call_main;__libc_start_main(_impl)?;_start'
ROOT_THREAD='start_thread;(__)?clone3'

# expected_chain SHAPE: an ERE for the whole user chain, leaf first, ';'-separated.
expected_chain()
{
	local deep="" i
	case $1 in
	deep)
		for ((i = 30; i >= 1; i--)); do deep+="deep$i;"; done
		echo "^${deep}${ROOT_MAIN}\$"
		;;
	qsort)
		# glibc 2.36's qsort is `xor %r8d,%r8d; jmp qsort_r`: a tail call, so no qsort
		# frame is on the true stack (perf --call-graph dwarf agrees; gdb's bt makes one
		# up from DWARF call-site records). libc6-dbg names the recursive merge
		# msort_with_tmp.part.0 with msort_with_tmp inlined in it.
		# A sample in the merge's own code has no cmp_hot on top.
		echo "^(cmp_hot;)?(msort_with_tmp(\.part\.0)?;)+qsort_r;sort_caller;${ROOT_MAIN}\$"
		;;
	syscall) echo "^(__libc_)?read;read_caller;${ROOT_MAIN}\$" ;;
	bigframe) echo "^big_hot;big_frame;${ROOT_MAIN}\$" ;;
	threads) echo "^thr_hot;thr_outer;thr_main;${ROOT_THREAD}\$" ;;
	signal) echo "^sig_hot;on_alarm;__restore_rt;sig_interrupted;${ROOT_MAIN}\$" ;;
	cpp)
		# scramble and mix are inlined into churn: a pc in scramble's code shows both, one
		# in mix's own loop code shows mix only; churn's caller and below are real frames.
		echo "^(shapes::scramble\(unsigned long, unsigned long\);)?shapes::mix\(unsigned long\);shapes::Pipeline<unsigned long>::churn\(unsigned long\);shapes::drive\(double\);${ROOT_MAIN}\$"
		;;
	rust)
		# Rust's main: stack_shapes_rs::main is called by the std start-up code, whose
		# frames (some inlined, all with DWARF in Debian's libstd) gdb lists as below.
		# hot_leaf's loop has core's helpers inlined (read_volatile, wrapping_mul, the range
		# iterator): they may sit on top of it.
		echo "^((core|<core)[^;]*;)*stack_shapes_rs::hot_leaf;stack_shapes_rs::layer_b;stack_shapes_rs::layer_a;stack_shapes_rs::drive;stack_shapes_rs::main;${RUST_START};${ROOT_MAIN}\$"
		;;
	*) fail "SHAPES: unknown shape '$1'" ;;
	esac
}
RUST_START='core::ops::function::FnOnce::call_once;std::sys_common::backtrace::__rust_begin_short_backtrace;std::rt::lang_start::\{\{closure\}\};core::ops::function::impls::<impl core::ops::function::FnOnce<A> for &F>::call_once;std::panicking::try::do_call;std::panicking::try;std::panic::catch_unwind;std::rt::lang_start_internal::\{\{closure\}\};std::panicking::try::do_call;std::panicking::try;std::panic::catch_unwind;std::rt::lang_start_internal'

e2e_require_bpf
e2e_require_cmd go curl objdump

declare -A want_c=() want_other=()
for s in $SHAPES; do
	expected_chain "$s" >/dev/null
	case $s in cpp | rust) want_other[$s]=1 ;; *) want_c[$s]=1 ;; esac
done

# ---------------------------------------------------------------- build

# no_tail_calls BIN REGEX: fail when BIN has a jmp to a function whose name matches REGEX
# (a tail call drops the caller from every true stack: the fixture would prove nothing).
no_tail_calls()
{
	local n
	n=$(objdump -d --no-show-raw-insn "$1" | awk -v re="$2" '
		/^[0-9a-f]+ <.*>:$/ { fn = $2 }
		$0 ~ /\tjmp/ && match($0, /<[^>+]+>$/) { t = substr($0, RSTART + 1, RLENGTH - 2)
			if (t ~ re && "<" t ">:" != fn) { print fn " -> " t > "/dev/stderr"; n++ } }
		END { print n + 0 }')
	check "$((n == 0))" "${1##*/}: no tail call (jmp) to a fixture function ($n found)"
}

c_shapes_re='^(deep[0-9]+|cmp_hot|sort_caller|read_caller|big_hot|big_frame|thr_hot|thr_outer|thr_main|sig_hot|on_alarm|sig_interrupted)$'
declare -A bin=()
if ((${#want_c[@]})); then
	for cc in $SHAPES_CCS; do
		e2e_require_cmd "$cc"
		bin[$cc]=$T/shape_$cc
		"$cc" -O2 -g -fomit-frame-pointer -pthread -Wall -o "${bin[$cc]}" \
			"$STACKD_SRC/tests/fixtures/stack_shapes.c" || fail "cannot build stack_shapes.c with $cc"
		no_tail_calls "${bin[$cc]}" "$c_shapes_re"
		nfp=$(objdump -d --no-show-raw-insn "${bin[$cc]}" | awk '
			/^[0-9a-f]+ <deep[0-9]+>:$/ { in_deep = 1; next } /^[0-9a-f]+ </ { in_deep = 0 }
			in_deep && /mov +%rsp,%rbp/ { n++ } END { print n + 0 }')
		check "$((nfp == 0))" "shape_$cc: no frame-pointer prologue in deep1..deep30 ($nfp found)"
	done
fi
if [[ -n ${want_other[cpp]:-} ]]; then
	e2e_require_cmd g++
	bin[cpp]=$T/shape_cpp
	g++ -O2 -g -fomit-frame-pointer -Wall -o "${bin[cpp]}" "$STACKD_SRC/tests/fixtures/stack_shapes_cpp.cc" ||
		fail "cannot build stack_shapes_cpp.cc with g++"
	no_tail_calls "${bin[cpp]}" '^_ZN6shapes'
fi
if [[ -n ${want_other[rust]:-} ]]; then
	e2e_require_cmd "$RUSTC"
	bin[rust]=$T/shape_rs
	"$RUSTC" -O -C force-frame-pointers=no -g -o "${bin[rust]}" "$STACKD_SRC/tests/fixtures/stack_shapes_rs.rs" ||
		fail "cannot build stack_shapes_rs.rs with $RUSTC"
	info "rust: $("$RUSTC" --version)"
	no_tail_calls "${bin[rust]}" '^_ZN15stack_shapes_rs'
fi

# ---------------------------------------------------------------- run

# shellcheck disable=SC2206 # STACK_SHAPES_AGENT_ARGS: extra flags, split on spaces
agent_args=(--profiling.frequency=$HZ ${STACK_SHAPES_AGENT_ARGS:-})
[[ -n $MODE ]] && agent_args+=(--unwind.mode="$MODE")
agent_start "${agent_args[@]}"

declare -A fx_pid=() fx_shape=()
run_fixture() # NAME SHAPE CMD...
{
	local name=$1 shape=$2
	shift 2
	e2e_bg "$name" "$@"
	fx_pid[$name]=$BG_PID
	fx_shape[$name]=$shape
}
secs=$((LEAD + WINDOW + 20))
for cc in $SHAPES_CCS; do
	for s in deep qsort syscall bigframe threads signal; do
		[[ -n ${want_c[$s]:-} ]] && run_fixture "$s.$cc" "$s" "${bin[$cc]}" "$s" "$secs"
	done
done
[[ -n ${want_other[cpp]:-} ]] && run_fixture cpp.g++ cpp "${bin[cpp]}" "$secs"
[[ -n ${want_other[rust]:-} ]] && run_fixture rust.rustc rust "${bin[rust]}" "$secs"
info "fixtures running: $(for n in "${!fx_pid[@]}"; do printf '%s=%s ' "$n" "${fx_pid[$n]}"; done)"
sleep "$LEAD"

url="$AGENT_URL/debug/pprof/profile?seconds=$WINDOW"
info "fetching $url"
code=$(curl -sS -m $((WINDOW + 30)) -o "$T/profile.pb.gz" -w '%{http_code}' "$url" 2>"$T/curl.err") || true
[[ $code == 200 ]] || fail "GET $url: HTTP ${code:-none} $(cat "$T/curl.err")"
curl -fsS -m 10 -o "$T/metrics.txt" "$AGENT_URL/metrics" || fail "GET /metrics failed"
for n in "${!fx_pid[@]}"; do
	kill -0 "${fx_pid[$n]}" 2>/dev/null || fail "fixture $n (pid ${fx_pid[$n]}) exited early: $(cat "$T/$n.out")"
	kill -TERM "${fx_pid[$n]}"
	e2e_reap "${fx_pid[$n]}" 10 || true
done
agent_stop

rc=0
e2e_pprof -symbolize=none -raw "$T/profile.pb.gz" >"$T/raw.txt" 2>"$T/raw.err" || rc=$?
((rc == 0)) || { cat "$T/raw.err" >&2; fail "go tool pprof -raw exited with status $rc"; }
pprof_flatten <"$T/raw.txt" >"$T/flat.tsv"
info "unwind metrics:"
grep -E '^stackd_unwind_[a-z_]+(\{[^}]*\})? ' "$T/metrics.txt" | grep -v cache | sed 's/^/    /' || true

# ---------------------------------------------------------------- judge

failed=()
for n in $(printf '%s\n' "${!fx_pid[@]}" | sort); do
	pid=${fx_pid[$n]}
	re=$(expected_chain "${fx_shape[$n]}")
	read -r all good < <(chain_share "$T/flat.tsv" "$re" "$T/bad.$pid.txt" "$pid")
	pct=$(awk -v g="$good" -v t="$all" 'BEGIN { printf "%.2f", t ? 100 * g / t : 0 }')
	ok=$(awk -v p="$pct" -v m="$MIN_PCT" -v a="$all" -v ms="$MIN_SAMPLES" 'BEGIN { print (p >= m && a >= ms) ? 1 : 0 }')
	info "$n (pid $pid): $good of $all samples with the exact chain: $pct% (want >= $MIN_PCT% of >= $MIN_SAMPLES)$( ((ok)) || echo '  <-- FAIL')"
	if [[ -s $T/bad.$pid.txt ]]; then
		info "  other chains (samples, user frames leaf first):"
		cut -c1-600 "$T/bad.$pid.txt" | sed 's/^/      /'
	fi
	((ok)) || failed+=("$n")
done
((${#failed[@]} == 0)) || fail "wrong or incomplete stacks (mode ${MODE:-default}) for: ${failed[*]}"
pass "exact chains to the root in mode ${MODE:-default} for: $(printf '%s\n' "${!fx_pid[@]}" | sort | tr '\n' ' ')"
