#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A binary that exists only inside a private mount namespace (the container
# case) is symbolized: the agent must open it through /proc/PID/map_files or
# /proc/PID/root, not through the path in /proc/PID/maps, which in the agent's
# namespace names a different file.
#
#   fixture: tests/fixtures/sym_chain.c (clang -O1 -g -fno-omit-frame-pointer), run as
#              unshare -m --propagation private sh -c 'mount -t tmpfs none MNT;
#                cp fixture MNT/sym_mntns; exec MNT/sym_mntns'
#            and, in the agent's namespace, a decoy at the same path MNT/sym_mntns: the same
#            source built -O0 with every function renamed decoy_* (hidden by the tmpfs
#            inside the namespace)
#   agent:   --profiling.frequency=99; one 5 s profile
#   checks:  /proc/PID/exe of the fixture names MNT/sym_mntns, and that path in the agent's
#            namespace is the decoy (different build id);
#            >= 50% of the fixture's samples have the leaf function sym_chain_leaf;
#            a -traces stack reads sym_chain_leaf <- sym_chain_middle <- sym_chain_outer <- main;
#            no frame of the fixture is named decoy_* (the decoy was never read).
# shellcheck disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/test_sym_lib.sh"

HZ=99
WINDOW=5
e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl unshare mount readelf
unshare -m --propagation private true 2>/dev/null ||
	skip_or_fail "cannot create a mount namespace here (unshare -m fails)"

src=$STACKD_SRC/tests/fixtures/sym_chain.c
bin=$T/sym_mntns
"$FIXTURE_CC" -O1 -g -fno-omit-frame-pointer -Wall '-DSYM_CHAIN_TAG="sym_mntns"' -o "$bin" "$src" ||
	fail "cannot build $src"
MNT=$T/mnt
mkdir -p "$MNT"
"$FIXTURE_CC" -O0 -g -Wall '-DSYM_CHAIN_TAG="decoy"' -Dsym_chain_leaf=decoy_leaf \
	-Dsym_chain_middle=decoy_middle -Dsym_chain_outer=decoy_outer -Dmain=decoy_main_is_not \
	-Dnow_s=decoy_now_s -c -o "$T/decoy.o" "$src" || fail "cannot build the decoy object"
printf 'int decoy_main_is_not(int, char **);\nint main(int c, char **v) { return decoy_main_is_not(c, v); }\n' \
	>"$T/decoy_main.c"
"$FIXTURE_CC" -O0 -g -o "$MNT/sym_mntns" "$T/decoy.o" "$T/decoy_main.c" || fail "cannot link the decoy"
bid() { readelf -n "$1" | awk '/Build ID:/ { print $3; exit }'; }
info "fixture build id $(bid "$bin"); decoy $MNT/sym_mntns build id $(bid "$MNT/sym_mntns")"

agent_start --profiling.frequency=$HZ

# unshare without -f execs: the pid e2e_bg records becomes sh's, then the fixture's.
# shellcheck disable=SC2016 # $1..$3 are for the inner sh
e2e_bg sym_mntns unshare -m --propagation private sh -c \
	'mount -t tmpfs stackd-e2e "$1" && cp "$2" "$1/sym_mntns" && exec "$1/sym_mntns" "$3"' \
	sh "$MNT" "$bin" $((WINDOW + 5))
fx=$BG_PID
deadline=$(($(now_ms) + 5000))
while [[ $(cat "/proc/$fx/comm" 2>/dev/null) != sym_mntns ]]; do
	(($(now_ms) < deadline)) || fail "pid $fx did not become sym_mntns within 5 s: $(cat "$T/sym_mntns.out")"
	sleep 0.05
done
exe=$(readlink "/proc/$fx/exe")
info "fixture pid $fx runs $exe in mount namespace $(readlink "/proc/$fx/ns/mnt") (agent's: $(readlink /proc/self/ns/mnt))"
check "$([[ $exe == "$MNT/sym_mntns" ]] && echo 1 || echo 0)" "/proc/$fx/exe is $exe (want $MNT/sym_mntns)"
check "$([[ $(bid "$MNT/sym_mntns") != "$(bid "/proc/$fx/exe")" ]] && echo 1 || echo 0)" \
	"in the agent's namespace $MNT/sym_mntns is the decoy (build id $(bid "$MNT/sym_mntns") vs the process's $(bid "/proc/$fx/exe"))"

sleep 1
sym_fetch p "$WINDOW"
rc=0
e2e_reap "$fx" 30 || rc=$?
check "$((rc == 0))" "fixture exited with status $rc"

n=$(sym_pid_samples "$T/p" "$fx")
expected=$((HZ * WINDOW))
check "$((4 * n >= expected))" "fixture samples $n vs $HZ Hz x $WINDOW s = $expected (want >= 25%)"
sym_leaf_lines "$T/p" "$fx" >"$T/leaves.tsv"
info "heaviest leaf locations (samples, location, address, mapping, Lines):"
head -n 3 "$T/leaves.tsv" | sed 's/^/    /'
mapping=$(awk -F'\t' -v m="$(head -n1 "$T/leaves.tsv" | cut -f4)" '$1 == m { print $5 " " $6 " " $7 }' "$T/p.maps")
info "mapping of the heaviest leaf: $mapping"
leaf_ok=$(awk -F'\t' '$5 ~ /^sym_chain_leaf(@|$)/ { c += $1 } END { print c + 0 }' "$T/leaves.tsv")
scheck "$((n > 0 && 2 * leaf_ok >= n))" "$leaf_ok of $n samples have the leaf function sym_chain_leaf (want >= 50%)"
sym_show_block "$T/p.blocks" "$fx"
chain_ok=$(awk -F'\t' -v pid="$fx" '
	function is(fr, name) { return fr == name || index(fr, name " ") == 1 }
	$1 == pid && NF >= 7 && is($4, "sym_chain_leaf") && is($5, "sym_chain_middle") &&
		is($6, "sym_chain_outer") && is($7, "main") { n += $3 }
	END { print n + 0 }' "$T/p.blocks")
scheck "$((chain_ok > 0))" "-traces: $chain_ok samples read sym_chain_leaf <- sym_chain_middle <- sym_chain_outer <- main"
decoy=$(awk -F'\t' -v pid="$fx" '$1 == pid && /\tdecoy_/ { n += $3 } END { print n + 0 }' "$T/p.blocks")
scheck "$((decoy == 0))" "samples with a decoy_* frame (symbols read from the wrong file): $decoy (want 0)"
lines=$(awk -F'\t' '$5 ~ /^sym_chain_leaf@.*sym_chain\.c:[1-9]/ { c += $1 } END { print c + 0 }' "$T/leaves.tsv")
info "(not checked here) samples whose leaf Line has sym_chain.c:LINE: $lines of $n"

sym_done "binary only in a private mount namespace symbolized ($leaf_ok of $n samples in sym_chain_leaf; decoy untouched)"
