#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The flame graph page at profile scale: STACKS distinct stacks of depth
# MIN_DEPTH..MAX_DEPTH (deterministic: a seeded generator), rendered by
# stackd-flamegraph, then loaded RUNS times in headless Chromium through
# tests/e2e/browser.py. Prints the input and page sizes, the page generation
# time, and the page's render time (median); the target is a drawn graph
# within 1 s of navigation start. Asserts nothing. See bench/README.md.
#
#   bench/flamegraph_render.sh                   # 10,000 stacks, depth 20-40, RUNS=5
#   STACKS=50000 bench/flamegraph_render.sh      # a bigger profile (hits the node cap)
#
# Environment:
#   STACKS=10000          distinct stacks
#   MIN_DEPTH=20 MAX_DEPTH=40
#   RUNS=5                page loads (and page generations); medians are printed
#   SEED=1                the same seed gives the same stacks
#   STACKD_FLAMEGRAPH=P   binary to measure; default: build it in BUILD_DIR
#   BUILD_DIR=build-bench CMake build directory (relative to the source root)
#   WORKDIR=DIR           where the input and the page go (default: a new /tmp dir, kept)
#
# Needs python3, chromium and chromium-driver (Debian packages).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STACKS=${STACKS:-10000}
MIN_DEPTH=${MIN_DEPTH:-20}
MAX_DEPTH=${MAX_DEPTH:-40}
RUNS=${RUNS:-5}
SEED=${SEED:-1}
BUILD_DIR=${BUILD_DIR:-build-bench}

# die, median
. "$ROOT/bench/lib.sh"
command -v python3 >/dev/null || die "python3 not found: apt-get install python3"
[ -x /usr/bin/chromium ] || die "chromium not found: apt-get install chromium"
command -v chromedriver >/dev/null || die "chromedriver not found: apt-get install chromium-driver"

if [ -z "${STACKD_FLAMEGRAPH:-}" ]; then
	echo "# building stackd-flamegraph in $BUILD_DIR" >&2
	cmake -S "$ROOT" -B "$ROOT/$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DSTACKD_TESTS=OFF >/dev/null
	cmake --build "$ROOT/$BUILD_DIR" -j"$(nproc)" --target stackd-flamegraph >/dev/null
	STACKD_FLAMEGRAPH=$ROOT/$BUILD_DIR/stackd-flamegraph
fi
[ -x "$STACKD_FLAMEGRAPH" ] || die "not executable: $STACKD_FLAMEGRAPH"
WORKDIR=${WORKDIR:-$(mktemp -d /tmp/flamegraph_render.XXXXXX)}
mkdir -p "$WORKDIR"
IN=$WORKDIR/stacks.folded
PAGE=$WORKDIR/flamegraph.html

# Stacks as a profiler sees them: most share a long prefix with an earlier
# one (the same request path, a different leaf), frames look like C++
# methods, a fifth end in kernel frames, counts are heavy-tailed.
python3 - "$STACKS" "$MIN_DEPTH" "$MAX_DEPTH" "$SEED" >"$IN" <<'EOF'
import random, sys
n, dmin, dmax, seed = (int(x) for x in sys.argv[1:5])
rnd = random.Random(seed)
mods = ["net", "http", "json", "db", "cache", "sched", "alloc", "proto", "tls", "io"]
verbs = ["parse", "read", "write", "encode", "decode", "lookup", "dispatch", "flush"]
kern = ["entry_SYSCALL_64_[k]", "do_syscall_64_[k]", "ksys_read_[k]", "vfs_read_[k]",
        "tcp_sendmsg_[k]", "copy_user_enhanced_fast_string_[k]", "schedule_[k]"]
def frame():
    return "stackd::%s::Worker<%s>::%s_%d" % (rnd.choice(mods), rnd.choice(mods),
                                             rnd.choice(verbs), rnd.randrange(400))
stacks, seen = [], set()
while len(stacks) < n:
    depth = rnd.randint(dmin, dmax)
    if stacks and rnd.random() < 0.97:
        base = rnd.choice(stacks)
        top = min(len(base), depth)
        s = base[:rnd.randint(top // 2, top - 1)]
    else:
        s = ["main"]
    while len(s) < depth:
        s.append(frame())
    if rnd.random() < 0.2:
        k = rnd.randint(1, 4)
        s[-k:] = rnd.sample(kern, k)
    t = tuple(s)
    if t not in seen:
        seen.add(t)
        stacks.append(s)
for s in stacks:
    print("%s %d" % (";".join(s), 1 + int(50 * rnd.paretovariate(1.2)) % 20000))
EOF

gen_ms=()
for ((i = 0; i < RUNS; i++)); do
	t0=${EPOCHREALTIME/./}
	"$STACKD_FLAMEGRAPH" --title "bench: $STACKS stacks" --period-ns 10101010 "$IN" >"$PAGE"
	t1=${EPOCHREALTIME/./}
	gen_ms+=("$(((t1 - t0) / 1000))")
done
rss=-
if [ -x /usr/bin/time ]; then
	rss=$(/usr/bin/time -f %M "$STACKD_FLAMEGRAPH" "$IN" 2>&1 >/dev/null | tail -n 1)
	rss="$((rss / 1024)) MiB"
fi
nodes=$(grep -o '"nodes":\[[^]]*' "$PAGE" | tr ',' '\n' | wc -l)
nodes=$((nodes / 4))

echo "input:      $(wc -l <"$IN") distinct stacks, depth $MIN_DEPTH-$MAX_DEPTH, $(wc -c <"$IN") bytes ($IN)"
echo "graph:      $nodes nodes (root included; cap 200000)"
echo "generation: median $(printf '%s\n' "${gen_ms[@]}" | median) ms over $RUNS runs (${gen_ms[*]} ms), peak RSS $rss"
echo "page:       $(wc -c <"$PAGE") bytes, $(gzip -c "$PAGE" | wc -c) gzipped ($PAGE)"
out=$(python3 "$ROOT/tests/e2e/browser.py" render-time "$PAGE" --runs "$RUNS") || die "browser.py render-time failed"
# shellcheck disable=SC2001 # a prefix on every line
sed 's/^/browser:    /' <<<"$out"
nav=$(sed -n 's/.*median [0-9.]* ms layout+draw, median \([0-9.]*\) ms from navigation.*/\1/p' <<<"$out")
echo "target:     drawn <= 1000 ms after navigation start: $(awk -v t="$nav" 'BEGIN { print (t <= 1000) ? "met" : "MISSED" }') (median $nav ms)"
python3 "$ROOT/tests/e2e/browser.py" flame "$PAGE" --expect main --search 'decode_1[0-9]$' \
	--click main --screenshot "$WORKDIR/flamegraph.png" | grep -E '^(search|click|screenshot)' |
	sed 's/^/browser:    /'
