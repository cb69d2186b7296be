#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A binary that reuses a gone binary's (device, inode) gets its own names. A
# fresh tmpfs takes the lowest free anonymous device number (often the one the
# previous tmpfs just freed) and numbers its first file like the previous
# tmpfs's first file, so /proc/PID/maps shows the new binary with the old
# one's major:minor and inode. The agent must not serve the old binary's cached
# symbols for it: in a container that is one process deciding what the agent
# says about another.
#
#   fixtures: tests/fixtures/sym_chain.c (clang -O1 -fno-omit-frame-pointer, no -g: no
#             DWARF fd held, so the tmpfs can be unmounted), built twice:
#             A with sym_chain_{leaf,middle,outer} renamed gone_{leaf,middle,outer},
#             B as is
#   run:      mount tmpfs at MNT; cp A MNT/prog; run it 6 s; a 3 s profile while it runs;
#             A exits; umount; mount fresh tmpfs until one has A's device number back
#             (holding any lower number freed meanwhile); cp B there as prog (the same
#             inode: the first file of a fresh tmpfs); run it; one 5 s profile
#   agent:    --profiling.frequency=99
#   checks:   A's samples name gone_leaf (the agent did cache A);
#             B's device:inode in /proc/PID/maps equal A's (else the test cannot run);
#             >= 50% of B's samples have the leaf sym_chain_leaf;
#             a -traces stack reads sym_chain_leaf <- sym_chain_middle <- sym_chain_outer <- main;
#             no sample of B has a gone_* frame (A's symbols).
# shellcheck disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/test_sym_lib.sh"

HZ=99
WINDOW=5
e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl mount umount mountpoint stat nm

MNT=$T/mnt
EXTRA=() # the tmpfs mounted for B, and those holding lower device numbers
# shellcheck disable=SC2317 # run by the EXIT trap
umount_all()
{
	local m
	for m in "$MNT" "${EXTRA[@]}"; do
		mountpoint -q "$m" 2>/dev/null && umount -l "$m" 2>/dev/null
	done
	return 0
}
# Unmount before lib.sh's cleanup removes $T; hand it the test's exit status.
# shellcheck disable=SC2317 # run by the EXIT trap
on_exit()
{
	local rc=$?
	set +e
	trap - ERR
	umount_all
	(exit "$rc") # e2e_cleanup takes the status from $?
	e2e_cleanup
}
trap on_exit EXIT

src=$STACKD_SRC/tests/fixtures/sym_chain.c
"$FIXTURE_CC" -O1 -fno-omit-frame-pointer -Wall '-DSYM_CHAIN_TAG="gone"' -Dsym_chain_leaf=gone_leaf \
	-Dsym_chain_middle=gone_middle -Dsym_chain_outer=gone_outer -o "$T/prog_a" "$src" ||
	fail "cannot build binary A from $src"
"$FIXTURE_CC" -O1 -fno-omit-frame-pointer -Wall '-DSYM_CHAIN_TAG="reuse"' -o "$T/prog_b" "$src" ||
	fail "cannot build binary B from $src"
nm "$T/prog_a" | grep -c ' gone_leaf$' >/dev/null || fail "A has no gone_leaf symbol"
nm "$T/prog_b" | grep -c ' sym_chain_leaf$' >/dev/null || fail "B has no sym_chain_leaf symbol"

mkdir -p "$MNT"
mount -t tmpfs -o size=16m stackd-e2e-a "$MNT" || skip_or_fail "cannot mount a tmpfs at $MNT"
cp "$T/prog_a" "$MNT/prog"
id_a=$(stat -c '%d:%i' "$MNT/prog")
info "A at $MNT/prog: device:inode $id_a"

agent_start --profiling.frequency=$HZ

# --- A runs and is symbolized (the agent caches its object) --------------------------
e2e_bg prog_a "$MNT/prog" 6
pa=$BG_PID
sleep 1
sym_fetch pa 3
rc=0
e2e_reap "$pa" 30 || rc=$?
check "$((rc == 0))" "A exited with status $rc"
na=$(sym_pid_samples "$T/pa" "$pa")
gone=$(sym_leaf_lines "$T/pa" "$pa" | awk -F'\t' '$5 ~ /^gone_leaf(@|$)/ { c += $1 } END { print c + 0 }')
check "$((na > 0 && 2 * gone >= na))" "$gone of A's $na samples have the leaf gone_leaf: the agent read A"

# --- a fresh tmpfs with A's device number, B as its first file -----------------------
umount "$MNT" || fail "cannot unmount $MNT (still busy after A exited)"
dev_a=${id_a%%:*}
MNT_B=""
for i in $(seq 1 32); do
	mkdir -p "$T/b$i"
	mount -t tmpfs -o size=16m "stackd-e2e-b$i" "$T/b$i" || fail "cannot mount a tmpfs at $T/b$i"
	EXTRA+=("$T/b$i")
	got=$(stat -c '%d' "$T/b$i")
	if [[ $got == "$dev_a" ]]; then
		MNT_B=$T/b$i
		break
	fi
	# A lower number freed meanwhile stays held by this mount; a higher one is let go.
	if ((got > dev_a)); then
		umount "$T/b$i"
		unset 'EXTRA[-1]'
	fi
done
[[ -n $MNT_B ]] || skip_or_fail "no fresh tmpfs got A's device number $dev_a back (another mount holds it)"
cp "$T/prog_b" "$MNT_B/prog"
id_b=$(stat -c '%d:%i' "$MNT_B/prog")
info "B at $MNT_B/prog: device:inode $id_b (A's: $id_a; after $i fresh tmpfs)"
[[ $id_b == "$id_a" ]] || skip_or_fail "B's device:inode $id_b is not A's $id_a: inode not reused here"

e2e_bg prog_b "$MNT_B/prog" $((WINDOW + 4))
pb=$BG_PID
sleep 1
maps_b=$(awk '$6 ~ /\/prog$/ && $2 ~ /x/ { print $4, $5; exit }' "/proc/$pb/maps")
info "B's executable mapping in /proc/$pb/maps: $maps_b"
sym_fetch pb "$WINDOW"
rc=0
e2e_reap "$pb" 30 || rc=$?
check "$((rc == 0))" "B exited with status $rc"

n=$(sym_pid_samples "$T/pb" "$pb")
expected=$((HZ * WINDOW))
check "$((4 * n >= expected))" "B samples $n vs $HZ Hz x $WINDOW s = $expected (want >= 25%)"
sym_leaf_lines "$T/pb" "$pb" >"$T/leaves.tsv"
info "heaviest leaf locations of B (samples, location, address, mapping, Lines):"
head -n 3 "$T/leaves.tsv" | sed 's/^/    /'
leaf_ok=$(awk -F'\t' '$5 ~ /^sym_chain_leaf(@|$)/ { c += $1 } END { print c + 0 }' "$T/leaves.tsv")
scheck "$((n > 0 && 2 * leaf_ok >= n))" "$leaf_ok of B's $n samples have the leaf sym_chain_leaf (want >= 50%)"
sym_show_block "$T/pb.blocks" "$pb"
chain_ok=$(awk -F'\t' -v pid="$pb" '
	function is(fr, name) { return fr == name || index(fr, name " ") == 1 }
	$1 == pid && NF >= 7 && is($4, "sym_chain_leaf") && is($5, "sym_chain_middle") &&
		is($6, "sym_chain_outer") && is($7, "main") { n += $3 }
	END { print n + 0 }' "$T/pb.blocks")
scheck "$((chain_ok > 0))" "-traces: $chain_ok samples of B read sym_chain_leaf <- sym_chain_middle <- sym_chain_outer <- main"
stale=$(awk -F'\t' -v pid="$pb" '$1 == pid && /\tgone_/ { n += $3 } END { print n + 0 }' "$T/pb.blocks")
scheck "$((stale == 0))" "samples of B with a gone_* frame (A's cached symbols): $stale (want 0)"

sym_done "a binary with a gone binary's device:inode $id_b got its own names ($leaf_ok of $n samples in sym_chain_leaf; none of A's)"
