#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Node.js in a container: its perf map is /tmp/perf-NSPID.map inside its own
# mount and PID namespaces, so the agent must read
# /proc/HOSTPID/root/tmp/perf-NSPID.map (NSpid from /proc/HOSTPID/status),
# not /tmp/perf-HOSTPID.map of its own namespace.
#
#   fixture: tests/fixtures/sym_node_hot.js under node --perf-basic-prof --no-turbo-inlining
#            (else TurboFan may inline stackdHotLoop into the optimized top-level code,
#            which the perf map then rightly names "JS:* sym_node_hot.js:1:1"), run as
#              unshare -m -p --kill-child sh -c 'mount -t tmpfs none /tmp;
#                copy the script there; exec node --perf-basic-prof /tmp/sym_node_hot.js'
#            (node is pid 1 of its PID namespace, /tmp is private)
#   agent:   --profiling.frequency=99; one 5 s profile
#   checks:  node's NSpid differs from its host pid, and the agent's /tmp has no
#            perf-HOSTPID.map; its own /tmp (through /proc/PID/root) has perf-NSPID.map
#            naming stackdHotLoop;
#            >= 50% of node's samples have a frame whose name contains stackdHotLoop;
#            a -traces stack of node's (host) pid has a stackdHotLoop frame.
# shellcheck disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/test_sym_lib.sh"

HZ=99
WINDOW=5
e2e_require_bpf
NODE=${NODE:-$(command -v node || command -v nodejs || true)}
[[ -n $NODE ]] || skip_or_fail "node (Debian package nodejs) not found in PATH"
e2e_require_cmd go curl unshare mount
unshare -m -p --kill-child --propagation private true 2>/dev/null ||
	skip_or_fail "cannot create mount and PID namespaces here (unshare -m -p fails)"
script=$STACKD_SRC/tests/fixtures/sym_node_hot.js
info "node $("$NODE" --version) at $NODE"

agent_start --profiling.frequency=$HZ

# The script is read before the tmpfs hides the host's /tmp (where $T may be).
# shellcheck disable=SC2016 # $1..$3 are for the inner sh
e2e_bg sym_node_ns unshare -m -p --kill-child --propagation private sh -c \
	'js=$(cat "$2") && mount -t tmpfs stackd-e2e /tmp && printf "%s\n" "$js" >/tmp/sym_node_hot.js &&
	 exec "$1" --perf-basic-prof --no-turbo-inlining /tmp/sym_node_hot.js "$3"' \
	sh "$NODE" "$script" $((WINDOW + 5))
us=$BG_PID
fx=""
deadline=$(($(now_ms) + 5000))
while :; do
	kids=()
	read -r -a kids <"/proc/$us/task/$us/children" 2>/dev/null || true
	for c in "${kids[@]}"; do
		if [[ $(readlink "/proc/$c/exe" 2>/dev/null) == "$(readlink -f "$NODE")" ]]; then
			fx=$c
		fi
	done
	[[ -z $fx ]] || break
	(($(now_ms) < deadline)) || fail "no node child of unshare pid $us within 5 s: $(cat "$T/sym_node_ns.out")"
	sleep 0.05
done
nspid=$(awk '/^NSpid:/ { print $NF }' "/proc/$fx/status")
info "node host pid $fx, NSpid $nspid (unshare pid $us), mount ns $(readlink "/proc/$fx/ns/mnt")"
check "$([[ -n $nspid && $nspid != "$fx" ]] && echo 1 || echo 0)" "node's pid in its namespace ($nspid) differs from the host pid ($fx)"
sleep 1.5
sym_fetch p "$WINDOW"
inner=/proc/$fx/root/tmp/perf-$nspid.map
cp "$inner" "$T/perf.map" 2>/dev/null || true # node still runs: its map as the agent could see it
named=$(grep -c stackdHotLoop "$inner" 2>/dev/null || true)
info "$inner: $(wc -l <"$inner" 2>/dev/null || echo 0) entries, ${named:-0} naming stackdHotLoop"
check "$([[ ! -e /tmp/perf-$fx.map && ! -e /tmp/perf-$nspid.map ]] && echo 1 || echo 0)" \
	"the agent's /tmp has neither perf-$fx.map nor perf-$nspid.map"
check "$((${named:-0} > 0))" "node wrote perf-$nspid.map in its own /tmp naming stackdHotLoop (${named:-0} entries)"
rc=0
e2e_reap "$us" 30 || rc=$?
check "$((rc == 0))" "unshare/node exited with status $rc"

n=$(sym_pid_samples "$T/p" "$fx")
expected=$((HZ * WINDOW))
check "$((4 * n >= expected))" "node samples (pid $fx) $n vs $HZ Hz x $WINDOW s = $expected (want >= 25%)"
sym_leaf_lines "$T/p" "$fx" >"$T/leaves.tsv"
info "heaviest leaf locations of node (samples, location, address, mapping, Lines):"
head -n 5 "$T/leaves.tsv" | sed 's/^/    /'
hot=$(awk -F'\t' -v pid="$fx" '
	FILENAME ~ /\.locs$/ { if ($5 ~ /stackdHotLoop/) hot[$1] = 1; next }
	$2 == pid { n = split($4, l, " "); for (i = 1; i <= n; i++) if (l[i] in hot) { c += $1; break } }
	END { print c + 0 }' "$T/p.locs" "$T/p.samples")
scheck "$((n > 0 && 2 * hot >= n))" "$hot of $n node samples have a stackdHotLoop frame (want >= 50%)"
info "heaviest leaves against $inner as it was right after the profile:"
sym_perfmap_report "$T/leaves.tsv" "$T/perf.map"
sym_show_block "$T/p.blocks" "$fx"
blocks=$(awk -F'\t' -v pid="$fx" '$1 == pid && /stackdHotLoop/ { n += $3 } END { print n + 0 }' "$T/p.blocks")
scheck "$((blocks > 0))" "-traces: $blocks samples of pid $fx show a stackdHotLoop frame"

sym_done "node in its own mount+PID namespace: JIT frames named from its /tmp/perf-$nspid.map ($hot of $n samples)"
