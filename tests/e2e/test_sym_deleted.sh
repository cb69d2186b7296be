#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Binaries deleted while their process runs are still symbolized (the agent
# reads them through /proc/PID/map_files, not through the maps path).
#
#   fixture: tests/fixtures/sym_chain.c (clang -O1 -g -fno-omit-frame-pointer), two
#            builds with different contents (so different build ids and cache entries):
#     sym_del_early  started and rm'd BEFORE the agent starts: the agent first meets the
#                    process when the maps path already reads "... (deleted)"
#     sym_del_late   started while the agent runs, rm'd 1.5 s later, and a decoy put at its
#                    path (the same source, -O0, every function renamed decoy_*): a deploy
#                    replacing a running binary
#   agent:   --profiling.frequency=99; one 5 s profile, opened after both deletions
#   checks:  /proc/PID/exe of each reads "(deleted)";
#            for each: >= 50% of its samples have the leaf function sym_chain_leaf, a
#            -traces stack reads sym_chain_leaf <- sym_chain_middle <- sym_chain_outer <- main,
#            and no frame is named decoy_*.
# shellcheck disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/test_sym_lib.sh"

HZ=99
WINDOW=5
e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl

src=$STACKD_SRC/tests/fixtures/sym_chain.c
for v in early late; do
	"$FIXTURE_CC" -O1 -g -fno-omit-frame-pointer -Wall "-DSYM_CHAIN_TAG=\"sym_del_$v\"" \
		-o "$T/sym_del_$v" "$src" || fail "cannot build $src as sym_del_$v"
done
"$FIXTURE_CC" -O0 -g -Wall '-DSYM_CHAIN_TAG="decoy"' -Dsym_chain_leaf=decoy_leaf \
	-Dsym_chain_middle=decoy_middle -Dsym_chain_outer=decoy_outer -Dmain=decoy_main_is_not \
	-Dnow_s=decoy_now_s -c -o "$T/decoy.o" "$src" || fail "cannot build the decoy object"
printf 'int decoy_main_is_not(int, char **);\nint main(int c, char **v) { return decoy_main_is_not(c, v); }\n' \
	>"$T/decoy_main.c"
"$FIXTURE_CC" -O0 -g -o "$T/decoy" "$T/decoy.o" "$T/decoy_main.c" || fail "cannot link the decoy"

# wait_exe PID: until /proc/PID/exe reads "(deleted)" (bounded).
wait_deleted()
{
	local deadline=$(($(now_ms) + 5000))
	until [[ $(readlink "/proc/$1/exe" 2>/dev/null) == *" (deleted)" ]]; do
		(($(now_ms) < deadline)) || fail "/proc/$1/exe does not read (deleted): $(readlink "/proc/$1/exe")"
		sleep 0.05
	done
	info "ok: pid $1: /proc/$1/exe -> $(readlink "/proc/$1/exe")"
}

declare -A pid
e2e_bg sym_del_early "$T/sym_del_early" $((WINDOW + 12))
pid[early]=$BG_PID
sleep 0.3
rm "$T/sym_del_early"
wait_deleted "${pid[early]}"

agent_start --profiling.frequency=$HZ

e2e_bg sym_del_late "$T/sym_del_late" $((WINDOW + 5))
pid[late]=$BG_PID
sleep 1.5
rm "$T/sym_del_late"
cp "$T/decoy" "$T/sym_del_late"
wait_deleted "${pid[late]}"
info "decoy now at $T/sym_del_late"

sym_fetch p "$WINDOW"
for v in early late; do
	rc=0
	e2e_reap "${pid[$v]}" 30 || rc=$?
	check "$((rc == 0))" "fixture sym_del_$v exited with status $rc"
done

expected=$((HZ * WINDOW))
for v in early late; do
	fx=${pid[$v]}
	n=$(sym_pid_samples "$T/p" "$fx")
	# Two processes share the CPUs.
	check "$((8 * n >= expected))" "sym_del_$v (pid $fx): $n samples vs $HZ Hz x $WINDOW s = $expected (want >= 1/8)"
	sym_leaf_lines "$T/p" "$fx" >"$T/leaves.$v"
	info "sym_del_$v: heaviest leaf locations (samples, location, address, mapping, Lines):"
	head -n 3 "$T/leaves.$v" | sed 's/^/    /'
	m=$(head -n1 "$T/leaves.$v" | cut -f4)
	info "sym_del_$v: mapping of the heaviest leaf: $(awk -F'\t' -v m="$m" '$1 == m { print $5 " " $6 " " $7 }' "$T/p.maps")"
	leaf_ok=$(awk -F'\t' '$5 ~ /^sym_chain_leaf(@|$)/ { c += $1 } END { print c + 0 }' "$T/leaves.$v")
	scheck "$((n > 0 && 2 * leaf_ok >= n))" \
		"sym_del_$v: $leaf_ok of $n samples have the leaf function sym_chain_leaf (want >= 50%)"
	sym_show_block "$T/p.blocks" "$fx"
	chain_ok=$(awk -F'\t' -v pid="$fx" '
		function is(fr, name) { return fr == name || index(fr, name " ") == 1 }
		$1 == pid && NF >= 7 && is($4, "sym_chain_leaf") && is($5, "sym_chain_middle") &&
			is($6, "sym_chain_outer") && is($7, "main") { n += $3 }
		END { print n + 0 }' "$T/p.blocks")
	scheck "$((chain_ok > 0))" \
		"sym_del_$v: -traces: $chain_ok samples read sym_chain_leaf <- sym_chain_middle <- sym_chain_outer <- main"
	decoy=$(awk -F'\t' -v pid="$fx" '$1 == pid && /\tdecoy_/ { n += $3 } END { print n + 0 }' "$T/p.blocks")
	scheck "$((decoy == 0))" "sym_del_$v: samples with a decoy_* frame: $decoy (want 0)"
done

sym_done "deleted binaries symbolized (before the agent started, and replaced while it ran)"
