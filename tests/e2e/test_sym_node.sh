#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Node.js JIT frames are named from the perf map V8 writes with
# --perf-basic-prof (/tmp/perf-PID.map).
#
#   fixture: tests/fixtures/sym_node_hot.js under node --perf-basic-prof --no-turbo-inlining
#            (else TurboFan may inline stackdHotLoop into the optimized top-level code,
#            which the perf map then rightly names "JS:* sym_node_hot.js:1:1"): a loop that
#            calls nothing in function stackdHotLoop, returning every few ms
#   agent:   --profiling.frequency=99; one 5 s profile
#   checks:  node wrote /tmp/perf-PID.map and it names stackdHotLoop (the setup works);
#            >= 50% of node's samples have a frame whose function name contains
#            stackdHotLoop (in practice the leaf; the -raw Function.name);
#            a -traces stack of node's pid has a stackdHotLoop frame.
# shellcheck disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/test_sym_lib.sh"

HZ=99
WINDOW=5
e2e_require_bpf
NODE=${NODE:-$(command -v node || command -v nodejs || true)}
[[ -n $NODE ]] || skip_or_fail "node (Debian package nodejs) not found in PATH"
e2e_require_cmd go curl
script=$STACKD_SRC/tests/fixtures/sym_node_hot.js
info "node $("$NODE" --version) at $NODE"

agent_start --profiling.frequency=$HZ

e2e_bg sym_node "$NODE" --perf-basic-prof --no-turbo-inlining "$script" $((WINDOW + 5))
fx=$BG_PID
map=/tmp/perf-$fx.map
info "node pid $fx running $script for $((WINDOW + 5)) s"
sleep 1.5
sym_fetch p "$WINDOW"
cp "$map" "$T/perf.map" 2>/dev/null || true # node still runs: its map as the agent could see it
named=$(grep -c stackdHotLoop "$map" 2>/dev/null || true)
info "$map: $(wc -l <"$map" 2>/dev/null || echo 0) entries, ${named:-0} naming stackdHotLoop, e.g. $(grep -m1 stackdHotLoop "$map" 2>/dev/null || true)"
rc=0
e2e_reap "$fx" 30 || rc=$?
rm -f "$map" # ours: node leaves it behind
check "$((rc == 0))" "node exited with status $rc"
check "$((${named:-0} > 0))" "node wrote $map naming stackdHotLoop (${named:-0} entries)"

n=$(sym_pid_samples "$T/p" "$fx")
expected=$((HZ * WINDOW))
check "$((4 * n >= expected))" "node samples $n vs $HZ Hz x $WINDOW s = $expected (want >= 25%)"
sym_leaf_lines "$T/p" "$fx" >"$T/leaves.tsv"
info "heaviest leaf locations of node (samples, location, address, mapping, Lines):"
head -n 5 "$T/leaves.tsv" | sed 's/^/    /'
hot=$(awk -F'\t' -v pid="$fx" '
	FILENAME ~ /\.locs$/ { if ($5 ~ /stackdHotLoop/) hot[$1] = 1; next }
	$2 == pid { n = split($4, l, " "); for (i = 1; i <= n; i++) if (l[i] in hot) { c += $1; break } }
	END { print c + 0 }' "$T/p.locs" "$T/p.samples")
leafhot=$(awk -F'\t' '$5 ~ /stackdHotLoop/ { c += $1 } END { print c + 0 }' "$T/leaves.tsv")
name=$(awk -F'\t' '$5 ~ /stackdHotLoop/ { print $5; exit }' "$T/p.locs")
info "a Function.name naming it: '${name}'"
scheck "$((n > 0 && 2 * hot >= n))" \
	"$hot of $n node samples have a stackdHotLoop frame, $leafhot as the leaf (want >= 50%)"
info "heaviest leaves against $map as it was right after the profile:"
sym_perfmap_report "$T/leaves.tsv" "$T/perf.map"
sym_show_block "$T/p.blocks" "$fx"
blocks=$(awk -F'\t' -v pid="$fx" '$1 == pid && /stackdHotLoop/ { n += $3 } END { print n + 0 }' "$T/p.blocks")
scheck "$((blocks > 0))" "-traces: $blocks samples of pid $fx show a stackdHotLoop frame"

sym_done "node JIT frames named from /tmp/perf-$fx.map ($hot of $n samples in stackdHotLoop)"
