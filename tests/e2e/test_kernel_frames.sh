#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Kernel stacks are captured, symbolized from kallsyms, put in the
# [kernel.kallsyms] mapping, and stitched leaf-side of the user stack.
#
#   fixture: syscall_heavy (main -> do_syscalls -> inline syscall read(/dev/zero, 64 KiB))
#   agent:   --profiling.frequency=99
#   checks:  in the fixture's samples (leaf first), some stack is
#              [kernel frames...] then [user frames...] with do_syscalls, then main,
#            with a known syscall-path kernel symbol among the kernel frames;
#            no stack has a kernel frame below (caller side of) a user frame;
#            >= 50% of the fixture's samples have kernel frames (it spends ~95% in the kernel);
#            kernel locations have kernel addresses; -traces shows the same stack.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HZ=99
WINDOW=5
# Kernel symbols on the read syscall path (read_zero, vfs_read, ksys_read, do_syscall_64, entry_SYSCALL_64...).
KSYM_RE='read|sys_|syscall|SYSCALL'
e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl

fixture=$(e2e_build_fixture syscall_heavy)
agent_start --profiling.frequency=$HZ

e2e_bg syscall_heavy "$fixture" $((WINDOW + 4))
fx=$BG_PID
info "fixture syscall_heavy pid $fx running for $((WINDOW + 4)) s"
sleep 1

url="$AGENT_URL/debug/pprof/profile?seconds=$WINDOW"
info "fetching $url (-raw and -traces at once)"
declare -A pp
e2e_pprof_bg raw -symbolize=none -raw "$url"
pp[raw]=$BG_PID
e2e_pprof_bg traces -symbolize=none -sample_index=samples -tagfocus="pid=$fx" -traces "$url"
pp[traces]=$BG_PID
for v in raw traces; do
	rc=0
	e2e_reap "${pp[$v]}" 120 || rc=$?
	if ((rc != 0)); then
		cat "$T/$v.err" >&2
		fail "go tool pprof -$v exited with status $rc"
	fi
	info "ok: go tool pprof -$v exited 0"
done
rc=0
e2e_reap "$fx" 30 || rc=$?
check "$((rc == 0))" "fixture exited with status $rc"

pprof_flatten <"$T/raw.txt" >"$T/flat.tsv"
awk -F'\t' -v pid="$fx" '$2 == pid' "$T/flat.tsv" | sort -t$'\t' -k1,1nr >"$T/fx.tsv"

# Classify each of the fixture's stacks (leaf first):
#   good   K+ then U+, a known syscall symbol among K, first U frame do_syscalls, main after it
#   mixed  a K frame after (caller side of) a U frame: kernel and user stacks stitched wrongly
#   kern   has K frames (any shape);  user  U frames only
read -r total kern good mixed < <(awk -F'\t' -v ksym="$KSYM_RE" '
	{
		n = split($4, f, ";"); seen_u = 0; bad = 0; nk = 0; known = 0; first_u = ""; main_after = 0
		for (i = 1; i <= n; i++) {
			kind = substr(f[i], 1, 1); name = substr(f[i], 3)
			if (kind == "K") { nk++; if (seen_u) bad = 1; if (name ~ ksym) known = 1 }
			else {
				if (!seen_u) first_u = name
				seen_u = 1
				if (name == "main" && first_u == "do_syscalls") main_after = 1
			}
		}
		total += $1
		if (nk) kern += $1
		if (bad) mixed += $1
		if (nk && !bad && known && first_u == "do_syscalls" && main_after) good += $1
	}
	END { printf "%d %d %d %d\n", total, kern, good, mixed }' "$T/fx.tsv")

info "pid $fx: $total samples; $kern with kernel frames; $good kernel->do_syscalls->main; $mixed mis-stitched"
info "most frequent stacks of pid $fx (count: leaf first, K: kernel, U: user):"
awk -F'\t' '{ n[$4] += $1 } END { for (s in n) printf "%d\t%s\n", n[s], s }' "$T/fx.tsv" |
	sort -t$'\t' -k1,1nr | awk -F'\t' 'NR <= 5 { printf "    %5d  %s\n", $1, $2 }'

check "$((total > 0))" "samples labelled pid=$fx present ($total)"
expected=$((HZ * WINDOW))
ratio=$(awk -v a="$total" -v b="$expected" 'BEGIN { printf "%.2f", a / b }')
check "$((2 * total >= expected))" \
	"fixture samples $total vs expected $HZ Hz x $WINDOW s = $expected: ratio $ratio (want >= 0.50)"
check "$((good > 0))" "a stack of pid $fx reads [kernel syscall frames] -> do_syscalls -> main ($good samples)"
check "$((mixed == 0))" "no stack of pid $fx has a kernel frame on the caller side of a user frame ($mixed)"
kpct=$((100 * kern / total))
check "$((kpct >= 50))" "$kpct% of pid $fx samples have kernel frames (want >= 50%; the fixture is ~95% sys time)"

# Kernel frames must sit in [kernel.kallsyms] at kernel addresses.
kmaps=$(awk '/^Mappings$/ { m = 1; next } m && / \[kernel\.kallsyms\]( |$)/' "$T/raw.txt")
[[ -n $kmaps ]] || fail "no [kernel.kallsyms] mapping in the profile"
info "kernel mapping: $kmaps"
read -r klocs kbad < <(awk '
	/^Mappings$/ { sec = "m"; next } /^Locations$/ { sec = "l"; next }
	sec == "m" && / \[kernel\.kallsyms\]( |$)/ { id = $1; sub(/:$/, "", id); km[id] = 1 }
	sec == "l" && match($0, /^ *[0-9]+: 0x[0-9a-fA-F]+ M=[0-9]+ /) {
		split($0, f, " "); m = f[3]; sub(/^M=/, "", m); loc[f[2]] = m }
	END { for (a in loc) if (km[loc[a]]) { n++; if (tolower(substr(a, 3)) !~ /^ffff[89a-f]/ || length(a) != 18) bad++ }
	      printf "%d %d\n", n, bad }' "$T/raw.txt")
check "$((klocs > 0 && kbad == 0))" "$klocs kernel locations, all at kernel addresses (>= 0xffff800000000000): $kbad outside"

# The same, as the reference client prints it (pid-focused -traces).
ktraces=$(awk -v ksym="$KSYM_RE" '
	function flush(   i, k, u, m) {
		if (nf > 0) {
			k = 0; u = 0; m = 0
			for (i = 1; i <= nf; i++) {
				if (fr[i] ~ ksym && !u) k = i
				if (fr[i] == "do_syscalls" && k) u = i
				if (fr[i] == "main" && u) m = i
			}
			if (k && u && m) n++
		}
		nf = 0
	}
	/^-----------\+/ { flush(); inb = 1; next }
	inb && substr($0, 11, 3) == "   " { fr[++nf] = substr($0, 14) }
	END { flush(); print n + 0 }' "$T/traces.txt")
example=$(awk '/^-----------\+/ { if (blk ~ /do_syscalls/ && blk ~ /(sys_|read|SYSCALL)/) { print blk; exit } blk = ""; next }
	{ blk = blk "    " $0 "\n" }' "$T/traces.txt")
info "a -traces stack of pid $fx:"
printf '%s\n' "$example"
check "$((ktraces > 0))" "-traces (tagfocus pid=$fx) has $ktraces stacks with a syscall kernel frame before do_syscalls before main"

pass "kernel frames: $kpct% of samples with kernel stacks, stitched kernel -> do_syscalls -> main"
