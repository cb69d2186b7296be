#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A known user-space call chain comes out of the agent intact, attributed to
# the right process, with a plausible number of samples, as read by the
# reference client (go tool pprof, fetching the URL itself).
#
#   fixture: cpu_chain (main -> level_one -> level_two -> level_three -> hot_leaf)
#   agent:   --profiling.frequency=99
#   checks:  pprof exits 0 for -raw, -traces and -top (three concurrent requests);
#            hot_leaf is the top flat function of the fixture's pid, >= 80% of its samples;
#            a -traces stack reads hot_leaf, level_three, level_two, level_one, main (leaf first);
#            the fixture's samples are >= 50% of 99 Hz x 5 s (and not more than 125%);
#            its samples carry pid=<fixture pid> and comm=cpu_chain.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HZ=99
WINDOW=5
e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl

fixture=$(e2e_build_fixture cpu_chain)
agent_start --profiling.frequency=$HZ

e2e_bg cpu_chain "$fixture" $((WINDOW + 4))
fx=$BG_PID
info "fixture cpu_chain pid $fx running for $((WINDOW + 4)) s"
# Let the fixture spin up before the window opens, so it covers the whole window.
sleep 1

url="$AGENT_URL/debug/pprof/profile?seconds=$WINDOW"
info "fetching $url three times at once (-raw, -traces, -top)"
declare -A pp
e2e_pprof_bg raw -symbolize=none -raw "$url"
pp[raw]=$BG_PID
e2e_pprof_bg traces -symbolize=none -sample_index=samples -traces "$url"
pp[traces]=$BG_PID
e2e_pprof_bg top -symbolize=none -sample_index=samples -relative_percentages -tagfocus="pid=$fx" \
	-nodecount=10 -top "$url"
pp[top]=$BG_PID
for v in raw traces top; do
	rc=0
	e2e_reap "${pp[$v]}" 120 || rc=$?
	if ((rc != 0)); then
		cat "$T/$v.err" >&2
		fail "go tool pprof -$v exited with status $rc"
	fi
	info "ok: go tool pprof -$v exited 0 ($(wc -l <"$T/$v.txt") lines)"
done

rc=0
e2e_reap "$fx" 30 || rc=$?
check "$((rc == 0))" "fixture exited with status $rc"

# ---- -top: flat ranking within the fixture's pid
info "-top -tagfocus=pid=$fx:"
sed 's/^/    /' "$T/top.txt"
top_fn=$(awk '/^ *flat +flat%/ { hdr = 1; next } hdr && NF >= 6 { print $6; exit }' "$T/top.txt")
top_flat=$(awk '/^ *flat +flat%/ { hdr = 1; next } hdr && NF >= 6 { print $1; exit }' "$T/top.txt")
top_total=$(sed -n 's/.* of \([0-9.]*\) total.*/\1/p' "$T/top.txt" | head -n1)
[[ -n $top_fn ]] || fail "-top shows no function for pid $fx (no samples for the fixture?)"
check "$([[ $top_fn == hot_leaf ]] && echo 1 || echo 0)" "top flat function for pid $fx is '$top_fn' (want hot_leaf)"
[[ $top_flat =~ ^[0-9]+$ && $top_total =~ ^[0-9]+$ ]] ||
	fail "cannot read sample counts from -top (flat '$top_flat', total '$top_total')"
pct=$((100 * top_flat / top_total))
check "$((pct >= 80))" "hot_leaf flat = $top_flat of $top_total samples of pid $fx = $pct% (want >= 80%)"

# ---- -raw: counts and labels, independent of pprof's report code
pprof_flatten <"$T/raw.txt" >"$T/flat.tsv"
read -r fx_samples fx_leaf fx_badcomm fx_nocomm < <(awk -F'\t' -v pid="$fx" '
	$2 == pid { n += $1; if ($4 ~ /^U:hot_leaf(;|$)/) leaf += $1
		if ($3 == "-") nocomm += $1; else if ($3 != "cpu_chain") bad += $1 }
	END { printf "%d %d %d %d\n", n, leaf, bad, nocomm }' "$T/flat.tsv")
all_samples=$(awk -F'\t' '{ n += $1 } END { print n + 0 }' "$T/flat.tsv")
expected=$((HZ * WINDOW))
info "-raw: $all_samples samples in the profile, $fx_samples with pid=$fx, $fx_leaf of them in hot_leaf"
check "$((fx_samples > 0))" "samples labelled pid=$fx present ($fx_samples)"
check "$((fx_badcomm == 0 && fx_nocomm == 0))" \
	"every pid=$fx sample has comm=cpu_chain (wrong comm: $fx_badcomm, no comm: $fx_nocomm)"
ratio=$(awk -v a="$fx_samples" -v b="$expected" 'BEGIN { printf "%.2f", a / b }')
check "$((2 * fx_samples >= expected))" \
	"fixture samples $fx_samples vs expected $HZ Hz x $WINDOW s = $expected: ratio $ratio (want >= 0.50)"
check "$((4 * fx_samples <= 5 * expected))" \
	"fixture samples not over-counted: ratio $ratio (want <= 1.25; one thread cannot exceed one CPU)"
comms=$(awk -F'\t' -v pid="$fx" '$2 == pid { print $3 }' "$T/flat.tsv" | sort -u | tr '\n' ' ')
info "comm label values for pid $fx: $comms"

# ---- -traces: the chain, leaf first, in a sample labelled with the fixture's pid and comm
# Blocks are separated by "-----------+---"; label lines are "%10s:  value",
# frame lines "%10s   name" (the count only on the leaf line).
read -r chain_blocks chain_samples fx_blocks < <(awk -v pid="$fx" '
	function flush(   i, ok) {
		if (nf == 0) return
		if (lab["pid"] == pid) {
			fxb++
			ok = lab["comm"] == "cpu_chain" && nf >= 5 && fr[1] == "hot_leaf" && fr[2] == "level_three" &&
				fr[3] == "level_two" && fr[4] == "level_one" && fr[5] == "main"
			if (ok) { blocks++; samples += cnt }
		}
		nf = 0; delete lab; cnt = 0
	}
	/^-----------\+/ { flush(); inb = 1; next }
	!inb { next }
	substr($0, 11, 3) == ":  " { k = substr($0, 1, 10); gsub(/ /, "", k); lab[k] = substr($0, 14); next }
	substr($0, 11, 3) == "   " {
		v = substr($0, 1, 10); gsub(/ /, "", v); if (v != "") cnt = v + 0
		fr[++nf] = substr($0, 14); next
	}
	END { flush(); printf "%d %d %d\n", blocks, samples, fxb }' "$T/traces.txt")
info "-traces: $fx_blocks stacks of pid $fx; $chain_blocks with the full chain ($chain_samples samples)"
example=$(awk -v pid="$fx" '
	/^-----------\+/ { if (keep) { print blk; exit } blk = ""; keep = 0; next }
	{ blk = blk "    " $0 "\n" }
	/^ +pid:  / { p = $0; sub(/.*pid:  /, "", p); if (p == pid) keep = 1 }' "$T/traces.txt")
info "first -traces stack of pid $fx:"
printf '%s\n' "$example"
check "$((chain_blocks > 0))" \
	"a pid=$fx comm=cpu_chain trace reads hot_leaf <- level_three <- level_two <- level_one <- main"
chain_pct=$((100 * chain_samples / fx_samples))
info "full chain in $chain_samples of $fx_samples samples of pid $fx ($chain_pct%)"

pass "cpu_chain: hot_leaf $pct% flat, chain intact, $fx_samples samples (ratio $ratio), labels pid=$fx comm=cpu_chain"
