#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Separate debug files: fully stripped binaries (no .symtab, no DWARF) are
# symbolized with function names and file:line from their debug files, found
# by build id under --symbolize.debug-dirs and by .gnu_debuglink; a debug file
# whose CRC does not match the debuglink is not used.
#
#   fixture: tests/fixtures/sym_chain.c (main -> sym_chain_outer -> sym_chain_middle ->
#            sym_chain_leaf), clang -O1 -g -fno-omit-frame-pointer, then per process:
#     sym_dl_bid   build id; objcopy --only-keep-debug to DBG/.build-id/xx/yyyy.debug;
#                  strip --strip-all; found through --symbolize.debug-dirs=DBG
#     sym_dl_link  no build id (-Wl,--build-id=none); strip --strip-all;
#                  --add-gnu-debuglink; debug file at DBG/<binary's dir>/sym_dl_link.debug
#     sym_dl_sub   no build id; debuglink; debug file in the binary's own .debug/ directory
#     sym_dl_crc   no build id; debuglink; the file at DBG/<binary's dir>/ is the debug file
#                  of a different build (-O0) of the same source: CRC mismatch, must be ignored
#   agent:   --profiling.frequency=99 --symbolize.debug-dirs=DBG; one 5 s profile, all four running
#   checks:  each stripped binary really has no .symtab and no .debug_info;
#            for bid, link, sub: >= 80% of the process's samples have the leaf Line
#              sym_chain_leaf @ sym_chain.c:LINE:leaf_for or :LINE:leaf_loop (the loop's two
#              lines; grep -n on the markers), and a
#              -traces -lines stack reads sym_chain_leaf:leaf_loop <- sym_chain_middle:
#              middle_calls_leaf <- sym_chain_outer:outer_calls_middle <- main:main_calls_outer;
#            for crc: no Line of the process names sym_chain.c (the stale file was not used).
# shellcheck disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/test_sym_lib.sh"

HZ=99
WINDOW=5
e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl objcopy strip readelf

src=$STACKD_SRC/tests/fixtures/sym_chain.c
L_leaf=$(sym_marker_line "$src" leaf_loop)
L_for=$(sym_marker_line "$src" leaf_for)
L_mid=$(sym_marker_line "$src" middle_calls_leaf)
L_out=$(sym_marker_line "$src" outer_calls_middle)
L_main=$(sym_marker_line "$src" main_calls_outer)
info "expected lines: leaf_loop=$L_leaf middle_calls_leaf=$L_mid outer_calls_middle=$L_out main_calls_outer=$L_main"

DBG=$T/debug
mkdir -p "$T/build" "$DBG" "$T/bin-bid" "$T/bin-link" "$T/bin-sub/.debug" "$T/bin-crc"

# build NAME OUT EXTRA_FLAGS...: compile the fixture with a tag of its own (own contents).
build()
{
	local name=$1 out=$2
	shift 2
	"$FIXTURE_CC" -O1 -g -fno-omit-frame-pointer -Wall "-DSYM_CHAIN_TAG=\"$name\"" "$@" \
		-o "$out" "$src" || fail "cannot build $src as $out with $FIXTURE_CC $*"
}

# strip_all BIN: strip everything; fail unless the result lacks .symtab and DWARF.
strip_all()
{
	strip --strip-all "$1" || fail "strip --strip-all $1 failed"
	if readelf -SW "$1" | grep -E -q '\.(symtab|debug_info|debug_line) '; then
		fail "$1 still has a symbol table or DWARF after strip --strip-all"
	fi
}

# -- by build id
bid_bin=$T/bin-bid/sym_dl_bid
build sym_dl_bid "$bid_bin" -Wl,--build-id=sha1
bid=$(readelf -n "$bid_bin" | awk '/Build ID:/ { print $3; exit }')
[[ $bid =~ ^[0-9a-f]{40}$ ]] || fail "no sha1 build id in $bid_bin (readelf -n says '$bid')"
mkdir -p "$DBG/.build-id/${bid:0:2}"
objcopy --only-keep-debug "$bid_bin" "$DBG/.build-id/${bid:0:2}/${bid:2}.debug"
strip_all "$bid_bin"
info "sym_dl_bid: build id $bid, debug file $DBG/.build-id/${bid:0:2}/${bid:2}.debug"

# -- by debuglink, in DBG/<binary's directory>/
link_bin=$T/bin-link/sym_dl_link
build sym_dl_link "$link_bin" -Wl,--build-id=none
mkdir -p "$DBG$T/bin-link"
objcopy --only-keep-debug "$link_bin" "$DBG$T/bin-link/sym_dl_link.debug"
strip_all "$link_bin"
objcopy --add-gnu-debuglink="$DBG$T/bin-link/sym_dl_link.debug" "$link_bin"
info "sym_dl_link: no build id, debuglink sym_dl_link.debug, debug file $DBG$T/bin-link/sym_dl_link.debug"

# -- by debuglink, in the binary's own .debug/ directory
sub_bin=$T/bin-sub/sym_dl_sub
build sym_dl_sub "$sub_bin" -Wl,--build-id=none
objcopy --only-keep-debug "$sub_bin" "$T/bin-sub/.debug/sym_dl_sub.debug"
strip_all "$sub_bin"
objcopy --add-gnu-debuglink="$T/bin-sub/.debug/sym_dl_sub.debug" "$sub_bin"
info "sym_dl_sub: no build id, debug file $T/bin-sub/.debug/sym_dl_sub.debug"

# -- by debuglink, but the file found there belongs to another build
crc_bin=$T/bin-crc/sym_dl_crc
build sym_dl_crc "$crc_bin" -Wl,--build-id=none
objcopy --only-keep-debug "$crc_bin" "$T/build/sym_dl_crc.debug"
strip_all "$crc_bin"
objcopy --add-gnu-debuglink="$T/build/sym_dl_crc.debug" "$crc_bin"
build sym_dl_crc_other "$T/build/other" -O0 -Wl,--build-id=none
mkdir -p "$DBG$T/bin-crc"
objcopy --only-keep-debug "$T/build/other" "$DBG$T/bin-crc/sym_dl_crc.debug"
info "sym_dl_crc: debuglink sym_dl_crc.debug, but $DBG$T/bin-crc/sym_dl_crc.debug is from an -O0 build (CRC differs)"

agent_start --profiling.frequency=$HZ "--symbolize.debug-dirs=$DBG"

declare -A pid
for v in bid link sub crc; do
	bin_var=${v}_bin
	e2e_bg "sym_dl_$v" "${!bin_var}" $((WINDOW + 5))
	pid[$v]=$BG_PID
	info "fixture sym_dl_$v pid ${pid[$v]}"
done
sleep 1
sym_fetch p "$WINDOW"
for v in bid link sub crc; do
	rc=0
	e2e_reap "${pid[$v]}" 30 || rc=$?
	check "$((rc == 0))" "fixture sym_dl_$v exited with status $rc"
done

# Four processes share the CPUs: an eighth of one CPU's samples is enough to judge.
min=$((HZ * WINDOW / 8))
for v in bid link sub crc; do
	p=${pid[$v]}
	n=$(sym_pid_samples "$T/p" "$p")
	check "$((n >= min))" "sym_dl_$v (pid $p): $n samples (want >= $min)"
	sym_leaf_lines "$T/p" "$p" >"$T/leaves.$v"
	info "sym_dl_$v: heaviest leaf locations (samples, location, address, mapping, Lines):"
	head -n 3 "$T/leaves.$v" | sed 's/^/    /'
	if [[ $v == crc ]]; then
		lines_c=$(awk -F'\t' '$5 ~ /sym_chain\.c:/ { n += $1 } END { print n + 0 }' "$T/leaves.$v")
		blocks_c=$(awk -F'\t' -v pid="$p" '$1 == pid && /sym_chain\.c:/ { n += $3 } END { print n + 0 }' "$T/p.blocks")
		scheck "$((lines_c == 0 && blocks_c == 0))" \
			"sym_dl_crc: samples with a sym_chain.c line from the mismatched debug file: leaf $lines_c, any frame $blocks_c (want 0, 0)"
		continue
	fi
	# The loop's instructions are split between its two lines (the body, and the for
	# statement's increment and test); where samples land among them depends on the CPU.
	leaf_ok=$(awk -F'\t' -v l="$L_leaf" -v f="$L_for" '{ split($5, first, / \| /)
		if (first[1] ~ ("^sym_chain_leaf@(.*/)?sym_chain\\.c:(" l "|" f ")$")) n += $1 } END { print n + 0 }' "$T/leaves.$v")
	scheck "$((n > 0 && 10 * leaf_ok >= 8 * n))" \
		"sym_dl_$v: $leaf_ok of $n samples have the leaf Line sym_chain_leaf @ sym_chain.c:$L_for or :$L_leaf, the loop (want >= 80%)"
	sym_show_block "$T/p.blocks" "$p"
	chain_ok=$(awk -F'\t' -v pid="$p" -v ll="$L_leaf" -v lm="$L_mid" -v lo="$L_out" -v lmain="$L_main" '
		function is(fr, name, line) {
			return index(fr, name " ") == 1 && fr ~ ("sym_chain\\.c:" line "( |$)")
		}
		$1 == pid && NF >= 7 && is($4, "sym_chain_leaf", ll) && is($5, "sym_chain_middle", lm) &&
			is($6, "sym_chain_outer", lo) && is($7, "main", lmain) { n += $3 }
		END { print n + 0 }' "$T/p.blocks")
	scheck "$((chain_ok > 0))" \
		"sym_dl_$v: -traces -lines: $chain_ok samples read sym_chain_leaf:$L_leaf <- sym_chain_middle:$L_mid <- sym_chain_outer:$L_out <- main:$L_main"
done

sym_done "stripped binaries symbolized from debug files by build id, debuglink (DBG and .debug/); mismatched CRC ignored"
