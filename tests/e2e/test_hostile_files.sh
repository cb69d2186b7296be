#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Hostile files at a debug link: a process controls what lies next to its
# binary, and the agent looks there for the file its .gnu_debuglink names.
# None of these may hang the agent, nor make it read a file outside the
# process's root.
#
#   fixture: tests/fixtures/sym_chain.c, clang -O1 -g -fno-omit-frame-pointer, no build id,
#            strip --strip-all, --add-gnu-debuglink=sym_hf_CASE.debug; each case runs as
#              unshare -m --propagation private sh -c 'mount -t tmpfs none MNT; cp BIN MNT/bin/;
#                <plant the link target>; exec MNT/bin/sym_hf_CASE'
#            (its own root view, as in a container), one case after the other:
#     symlink  MNT/bin/sym_hf_symlink.debug -> MNT/host/sym_hf_symlink.debug (absolute). In the
#              agent's namespace that path holds the real debug file (CRC matches); in the
#              fixture's it does not exist (hidden by the tmpfs). Resolved in the process's
#              root, the link is dangling: the debug file must not be used.
#     sparse   MNT/bin/sym_hf_sparse.debug: a sparse file of 8 EiB - 1 byte (tmpfs's limit,
#              2^63 - 1; `truncate -s 8E` overflows off_t). Read whole for its CRC it would
#              take years.
#     fifo     MNT/bin/sym_hf_fifo.debug: a FIFO without a writer; open() for reading blocks.
#   agent:   --profiling.frequency=99 --unwind.mode=fp
#   checks, per case (every wait bounded; a hang is a failure):
#     a 4 s profile request returns 200 within 30 s, and go tool pprof reads it;
#     stackd_samples_drained_total rose across the request; /-/ready answers 200;
#     the fixture's stacks are in the profile (>= 10% of 99 Hz x 4 s);
#     symlink: no sample of the fixture has a sym_chain_* function (the host's debug file was
#              not read); sparse: stackd_files_refused_total{reason="too_big"} rose;
#     fifo: stackd_files_refused_total{reason="not_regular"} rose;
#   and at the end SIGTERM stops the agent within 15 s with status 0.
#   HOSTILE_CASES="fifo" (etc.) runs a subset, e.g. to show each case fails on an old agent.
# shellcheck disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/test_sym_lib.sh"

HZ=99
WINDOW=4
CASES=${HOSTILE_CASES:-symlink sparse fifo}
SPARSE_SIZE=9223372036854775807 # 2^63 - 1: tmpfs's s_maxbytes (MAX_LFS_FILESIZE)
e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl objcopy strip readelf unshare mount truncate mkfifo stat
unshare -m --propagation private true 2>/dev/null ||
	skip_or_fail "cannot create a mount namespace here (unshare -m fails)"

src=$STACKD_SRC/tests/fixtures/sym_chain.c
mkdir -p "$T/build"

# build_linked NAME: $T/build/NAME, stripped, with a debuglink to $T/build/NAME.debug (once).
build_linked()
{
	local name=$1 out=$T/build/$1
	[[ ! -e $out ]] || return 0
	"$FIXTURE_CC" -O1 -g -fno-omit-frame-pointer -Wall "-DSYM_CHAIN_TAG=\"$name\"" \
		-Wl,--build-id=none -o "$out" "$src" || fail "cannot build $src as $out"
	objcopy --only-keep-debug "$out" "$out.debug" || fail "objcopy --only-keep-debug $out failed"
	strip --strip-all "$out" || fail "strip --strip-all $out failed"
	objcopy --add-gnu-debuglink="$out.debug" "$out" || fail "objcopy --add-gnu-debuglink $out failed"
	if readelf -SW "$out" | grep -E -q '\.(symtab|debug_info) '; then
		fail "$out still has a symbol table or DWARF after strip --strip-all"
	fi
	readelf -SW "$out" | grep -c '\.gnu_debuglink ' >/dev/null || fail "$out has no .gnu_debuglink"
}

# metrics FILE: GET /metrics within 10 s.
metrics()
{
	curl -fsS -m 10 -o "$1" "$AGENT_URL/metrics" || fail "GET /metrics did not answer within 10 s"
}

# run_case CASE SETUP: start the fixture sym_hf_CASE in its own mount namespace, with SETUP
# (sh, run there with $1 = MNT after the binary is in MNT/bin) planting the link target; then
# the checks every case shares. Sets FX (fixture pid), M0/M1 (metrics before/after).
run_case()
{
	local name=sym_hf_$1 setup=$2 mnt=$T/ns_$1 deadline code d0 d1 n
	build_linked "$name"
	mkdir -p "$mnt"
	MS=$T/$1.mstart
	metrics "$MS"
	# The symbol cache keys objects by (device, inode), and each case's fresh tmpfs may get
	# the last one's device number back: NCASE padding files give each binary its own inode.
	NCASE=$((NCASE + 1))
	# shellcheck disable=SC2016 # $1..$4 are for the inner sh
	e2e_bg "$name" unshare -m --propagation private sh -c \
		'mount -t tmpfs stackd-e2e "$1" && mkdir "$1/bin" && for i in $(seq "$4"); do
		: >"$1/pad.$i"; done && cp "$2" "$1/bin/" && '"$setup"' &&
		exec "$1/bin/'"$name"'" "$3"' sh "$mnt" "$T/build/$name" $((WINDOW + 10)) "$NCASE"
	FX=$BG_PID
	deadline=$(($(now_ms) + 5000))
	while [[ $(cat "/proc/$FX/comm" 2>/dev/null) != "$name" ]]; do
		kill -0 "$FX" 2>/dev/null || fail "$name did not start: $(cat "$T/$name.out")"
		(($(now_ms) < deadline)) || fail "pid $FX did not become $name within 5 s: $(cat "$T/$name.out")"
		sleep 0.05
	done
	info "$1: fixture pid $FX runs $(readlink "/proc/$FX/exe") in mount namespace $(readlink "/proc/$FX/ns/mnt")"
	sleep 1
	M0=$T/$1.m0
	M1=$T/$1.m1
	metrics "$M0"
	code=$(curl -sS -m $((WINDOW + 26)) -o "$T/$1.pb.gz" -w '%{http_code}' \
		"$AGENT_URL/debug/pprof/profile?seconds=$WINDOW" 2>"$T/$1.curl.err" || true)
	check "$([[ $code == 200 ]] && echo 1 || echo 0)" \
		"$1: a ${WINDOW} s profile request returned $code within $((WINDOW + 26)) s (want 200) $(head -c 200 "$T/$1.curl.err")"
	metrics "$M1"
	d0=$(metric_val "$M0" stackd_samples_drained_total)
	d1=$(metric_val "$M1" stackd_samples_drained_total)
	check "$(awk -v a="$d0" -v b="$d1" 'BEGIN { print (b > a) ? 1 : 0 }')" \
		"$1: stackd_samples_drained_total $d0 -> $d1 across the request (the drain thread runs)"
	code=$(http_code "$AGENT_URL/-/ready")
	check "$([[ $code == 200 ]] && echo 1 || echo 0)" "$1: /-/ready answers $code (want 200)"
	e2e_pprof -symbolize=none -raw "$T/$1.pb.gz" >"$T/$1.raw" 2>"$T/$1.raw.err" ||
		fail "go tool pprof -raw $T/$1.pb.gz failed: $(head -c 400 "$T/$1.raw.err")"
	sym_raw_tables "$T/$1.raw" "$T/$1"
	n=$(sym_pid_samples "$T/$1" "$FX")
	# A loose bound: other work may share the CPUs; any sizeable share shows the stacks.
	check "$((10 * n >= HZ * WINDOW))" \
		"$1: the fixture's stacks are in the profile: $n samples (want >= 10% of $HZ Hz x $WINDOW s)"
	sym_leaf_lines "$T/$1" "$FX" | head -n 2 | sed "s/^/[$E2E_NAME]     $1 leaf: /"
}

# refused_rose CASE REASON
refused_rose()
{
	local a b
	a=$(metric_val "$MS" "stackd_files_refused_total{reason=\"$2\"}")
	b=$(metric_val "$M1" "stackd_files_refused_total{reason=\"$2\"}")
	# From before the fixture started: the agent may see it before M0.
	check "$(awk -v a="$a" -v b="$b" 'BEGIN { print (b > a) ? 1 : 0 }')" \
		"$1: stackd_files_refused_total{reason=\"$2\"} $a -> $b since the fixture started (want a rise)"
}

# reap_case CASE
reap_case()
{
	local rc=0
	e2e_reap "$FX" 30 || rc=$?
	check "$((rc == 0))" "$1: fixture exited with status $rc"
}

NCASE=0
# Frame-pointer stacks only: this test is about files; DWARF unwinding has tests of its own.
agent_start --profiling.frequency=$HZ --unwind.mode=fp

for c in $CASES; do
	case $c in
	symlink)
		host=$T/ns_symlink/host
		mkdir -p "$host"
		build_linked sym_hf_symlink
		cp "$T/build/sym_hf_symlink.debug" "$host/"
		info "symlink: the real debug file is at $host/sym_hf_symlink.debug in the agent's namespace only"
		# shellcheck disable=SC2016 # for the inner sh
		run_case symlink '! test -e "'"$host"'/sym_hf_symlink.debug" &&
			ln -s "'"$host"'/sym_hf_symlink.debug" "$1/bin/sym_hf_symlink.debug"'
		info "symlink: in the fixture's root $(readlink "/proc/$FX/root$T/ns_symlink/bin/sym_hf_symlink.debug") is dangling"
		named=$(awk -F'\t' -v pid="$FX" '
			FILENAME ~ /locs$/ { if ($5 ~ /^sym_chain_/) hit[$1] = 1; next }
			$2 == pid { k = split($4, l, " "); for (i = 1; i <= k; i++) if (l[i] in hit) { n += $1; break } }
			END { print n + 0 }' "$T/symlink.locs" "$T/symlink.samples")
		check "$((named == 0))" \
			"symlink: samples with a sym_chain_* function (read from the host's debug file): $named (want 0)"
		reap_case symlink
		;;
	sparse)
		# shellcheck disable=SC2016 # for the inner sh
		run_case sparse 'truncate -s '"$SPARSE_SIZE"' "$1/bin/sym_hf_sparse.debug"'
		info "sparse: $(stat -c '%s bytes, %b blocks' "/proc/$FX/root$T/ns_sparse/bin/sym_hf_sparse.debug") at the debug link ($(stat -f -c %T "/proc/$FX/root$T/ns_sparse/bin"))"
		refused_rose sparse too_big
		reap_case sparse
		;;
	fifo)
		# shellcheck disable=SC2016 # for the inner sh
		run_case fifo 'mkfifo "$1/bin/sym_hf_fifo.debug"'
		info "fifo: $(stat -c '%F' "/proc/$FX/root$T/ns_fifo/bin/sym_hf_fifo.debug") at the debug link"
		refused_rose fifo not_regular
		reap_case fifo
		;;
	*) fail "unknown case '$c' in HOSTILE_CASES" ;;
	esac
done

agent_stop TERM
pass "cases: $CASES; the agent kept draining, answered and stopped; no file outside the root read"
