#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# libc frames get file:line from libc6-dbg's separate debug file
# (/usr/lib/debug/.build-id/xx/yyyy.debug, the agent's default debug dir).
#
#   fixture: tests/fixtures/sym_libc.c (clang -O1 -g -fno-omit-frame-pointer): qsort with a
#            cheap comparator, memcpy and strlen loops, so most samples' leaf is in libc
#   agent:   --profiling.frequency=99 (default --symbolize.debug-dirs); one 5 s profile
#   checks:  the libc the fixture maps has a build id and libc6-dbg's debug file for it
#            exists (else skip, or fail under CI=true);
#            >= 30% of the fixture's samples have their leaf in libc.so.6 (the setup works);
#            >= 80% of those leaf samples have a file and a line > 0;
#            some libc frame's file is a glibc source path ((stdlib|string|sysdeps)/...);
#            msort_with_tmp (a static function, named only in the debug file) appears
#              with stdlib/msort.c;
#            oracle: for the 8 heaviest libc leaf locations, and for every libc caller
#              frame (looked up at return address - 1), the Lines' file basenames and line
#              numbers equal llvm-symbolizer's on the debug file (line-0 rows: line only).
# shellcheck disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/test_sym_lib.sh"

HZ=99
WINDOW=5
e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl readelf llvm-symbolizer

src=$STACKD_SRC/tests/fixtures/sym_libc.c
bin=$T/sym_libc
"$FIXTURE_CC" -O1 -g -fno-omit-frame-pointer -Wall -o "$bin" "$src" || fail "cannot build $src"

libc=$(ldd "$bin" | awk '$1 ~ /^libc\.so/ { print $3; exit }')
[[ -n $libc && -r $libc ]] || fail "ldd $bin names no readable libc ($libc)"
libc_bid=$(readelf -n "$libc" | awk '/Build ID:/ { print $3; exit }')
[[ $libc_bid =~ ^[0-9a-f]{40}$ ]] || fail "no build id in $libc"
dbg=/usr/lib/debug/.build-id/${libc_bid:0:2}/${libc_bid:2}.debug
[[ -r $dbg ]] || skip_or_fail "no debug file for $libc (build id $libc_bid): install libc6-dbg ($dbg missing)"
info "libc $libc build id $libc_bid, debug file $dbg"

agent_start --profiling.frequency=$HZ

e2e_bg sym_libc "$bin" $((WINDOW + 5))
fx=$BG_PID
info "fixture sym_libc pid $fx running for $((WINDOW + 5)) s"
sleep 1
sym_fetch p "$WINDOW"
rc=0
e2e_reap "$fx" 30 || rc=$?
check "$((rc == 0))" "fixture exited with status $rc"

n=$(sym_pid_samples "$T/p" "$fx")
expected=$((HZ * WINDOW))
check "$((4 * n >= expected))" "fixture samples $n vs $HZ Hz x $WINDOW s = $expected (want >= 25%)"

# libc's mappings in the profile (by build id: the path may be spelled in several ways).
awk -F'\t' -v b="$libc_bid" '$6 == b { print $1 "\t" $2 "\t" $4 }' "$T/p.maps" >"$T/libc.maps"
[[ -s $T/libc.maps ]] || fail "no mapping with libc's build id $libc_bid in the profile"
sym_leaf_lines "$T/p" "$fx" >"$T/leaves.tsv"
awk -F'\t' 'FILENAME ~ /libc\.maps$/ { m[$1] = 1; next } $4 in m' "$T/libc.maps" "$T/leaves.tsv" >"$T/libc.leaves"
info "heaviest libc leaf locations (samples, location, address, mapping, Lines innermost first):"
head -n 8 "$T/libc.leaves" | sed 's/^/    /'
libc_n=$(awk -F'\t' '{ c += $1 } END { print c + 0 }' "$T/libc.leaves")
check "$((10 * libc_n >= 3 * n))" "samples with the leaf in libc: $libc_n of $n (want >= 30%)"
with_line=$(awk -F'\t' '{ split($5, f, / \| /); if (f[1] ~ /@.+:[1-9][0-9]*$/) c += $1 } END { print c + 0 }' "$T/libc.leaves")
scheck "$((libc_n > 0 && 5 * with_line >= 4 * libc_n))" \
	"libc leaf samples whose innermost Line has file:line: $with_line of $libc_n (want >= 80%)"

# Every Line of a libc location the fixture's samples use.
awk -F'\t' -v pid="$fx" '
	FILENAME ~ /libc\.maps$/ { m[$1] = 1; next }
	FILENAME ~ /\.samples$/ { if ($2 == pid) { k = split($4, l, " "); for (i = 1; i <= k; i++) used[l[i]] = 1 }; next }
	($1 in used) && ($3 in m)' "$T/libc.maps" "$T/p.samples" "$T/p.locs" >"$T/libc.locs"
glibc_files=$(awk -F'\t' '$7 ~ /(^|\/)(stdlib|string|sysdeps)\// { print $7 }' "$T/libc.locs" | sort -u)
info "glibc source files named by libc frames: $(printf '%s' "$glibc_files" | tr '\n' ' ')"
scheck "$([[ -n $glibc_files ]] && echo 1 || echo 0)" "a libc frame names a glibc source path (stdlib/, string/ or sysdeps/)"
msort=$(awk -F'\t' '$5 ~ /^msort_with_tmp/ && $7 ~ /stdlib\/msort\.c$/ && $8 > 0 { print $5 " " $7 ":" $8; exit }' "$T/libc.locs")
scheck "$([[ -n $msort ]] && echo 1 || echo 0)" "msort_with_tmp with stdlib/msort.c:LINE present (saw '${msort:-none}')"

# ---- the oracle: llvm-symbolizer on the debug file, same addresses.
# name@file:line -> file:line with line-0 rows reduced to ?:0 (no file to hold anyone to).
norm() { sed -E 's/(^| \| )[^|]*@/\1/g; s/[^|]*:0( \||$)/?:0\1/g'; }
# leaf_or_caller LOC: "leaf" when the location is the first user frame of some sample, else
# "caller". The first user frame under kernel frames is where the thread entered the kernel
# (a faulting instruction, or the one after a syscall): not a return address, so the agent
# looks it up as is, and so does the oracle.
awk -F'\t' -v pid="$fx" '
	FILENAME ~ /p\.maps$/ { if ($5 == "[kernel.kallsyms]") kmap[$1] = 1; next }
	FILENAME ~ /p\.locs$/ { if ($3 in kmap) kloc[$1] = 1; next }
	$2 == pid { k = split($4, l, " "); for (i = 1; i < k && (l[i] in kloc); i++) ;
		leaf[l[i]] = 1; for (i++; i <= k; i++) caller[l[i]] = 1 }
	END { for (x in leaf) print x "\tleaf"; for (x in caller) if (!(x in leaf)) print x "\tcaller" }' \
	"$T/p.maps" "$T/p.locs" "$T/p.samples" >"$T/roles.tsv"
oracle()
{
	# oracle KIND LIMIT: compare the agent's Lines with llvm-symbolizer for libc locations of
	# KIND (leaf or caller); prints "COMPARED DIFFERING", the differences go to stderr.
	local kind=$1 limit=$2 loc addr map chain start off va want got cnt=0 bad=0 role
	while IFS=$'\t' read -r loc addr map chain; do
		role=$(awk -F'\t' -v l="$loc" '$1 == l { print $2 }' "$T/roles.tsv")
		[[ $role == "$kind" ]] || continue
		((cnt < limit)) || break
		read -r start off < <(awk -F'\t' -v m="$map" '$1 == m { print $2, $3 }' "$T/libc.maps")
		va=$(sym_vaddr "$libc" "$start" "$off" "$addr") || fail "$addr is in no PT_LOAD of $libc"
		[[ $kind == leaf ]] || va=$(printf '0x%x' $((va - 1)))
		want=$(sym_llvm_chain "$dbg" "$va" | norm)
		got=$(sym_basename_chain "$chain" | norm)
		cnt=$((cnt + 1))
		if [[ $got != "$want" ]]; then
			bad=$((bad + 1))
			info "  $kind $addr (lookup vaddr $va): agent '$(sym_basename_chain "$chain")'" >&2
			info "  $kind $addr (lookup vaddr $va): llvm-symbolizer '$(sym_llvm_chain "$dbg" "$va")'" >&2
		fi
	done < <(
		# heaviest first for leaves; callers in location order
		awk -F'\t' 'FILENAME ~ /libc\.maps$/ { m[$1] = 1; next }
			FILENAME ~ /leaves\.tsv$/ { if ($4 in m) print $2 "\t" $3 "\t" $4 "\t" $5; seen[$2] = 1; next }
			($3 in m) && !($1 in seen) { if (!($1 in c)) order[++k] = $1; c[$1] = 1; a[$1] = $2; mm[$1] = $3
				if ($4 > 0) ln[$1] = (ln[$1] == "" ? "" : ln[$1] " | ") $5 "@" $7 ":" $8 }
			END { for (i = 1; i <= k; i++) print order[i] "\t" a[order[i]] "\t" mm[order[i]] "\t" ln[order[i]] }' \
			"$T/libc.maps" "$T/leaves.tsv" "$T/libc.locs")
	echo "$cnt $bad"
}
read -r lc lb < <(oracle leaf 8)
scheck "$((lc > 0 && lb == 0))" "heaviest $lc libc leaf locations: $lb whose file:line chain differs from llvm-symbolizer on $dbg (want 0)"
read -r cc cb < <(oracle caller 50)
scheck "$((cb == 0))" "$cc libc caller frames (at return address - 1): $cb whose file:line differs from llvm-symbolizer (want 0)"

sym_show_block "$T/p.blocks" "$fx" 'msort|memmove|memcpy|strlen'

sym_done "libc frames with file:line from libc6-dbg: $with_line of $libc_n libc leaf samples; oracle agrees on $lc leaves and $cc callers"
