#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# HTTP under load: /metrics latency while 200 keep-alive clients hammer /metrics and 50
# slow-loris connections hold sockets open, at a raised and at the default connection limit.
#
#   sudo bench/http_load.sh                        # both limits, 20 s each: ~1 min
#   sudo DURATION=10 LIMITS=512 bench/http_load.sh # one quick run
#
# Parameters (environment):
#   DURATION=20      seconds of load per run (wrk -d), bounded: everything stops by itself
#   CONNS=200        wrk connections (keep-alive, GET /metrics as fast as they are answered)
#   THREADS=2        wrk threads
#   SLOWLORIS=50     connections that send a request line, then one header byte every
#   TRICKLE_S=3      TRICKLE_S seconds, never finishing the headers
#   PROBE_MS=50      the latency probe: one GET /metrics on a fresh connection every PROBE_MS
#   LIMITS="512/512 64/16"  one run per entry: --web.max-connections/--web.max-connections-per-client
#                    (64/16 are the defaults; the per-client flag is passed only when the binary
#                    has it)
#   Three clients, three loopback source addresses, as on a real node: wrk (the noisy
#   neighbour) from 127.0.0.1, the slow-loris from LORIS_SRC=127.0.0.2, the probe (the
#   scraper whose latency matters) from PROBE_SRC=127.0.0.3. LORIS_SRC=PROBE_SRC=127.0.0.1
#   puts everyone behind one per-client limit.
#   READ_TIMEOUT     --web.read-timeout for every run (default: the agent's, 30 s); slow-loris
#                    sockets live DURATION + 4 s, so they are cut only when it is shorter
#   STACKD_BIN       default: build/stackd of this tree; extra agent flags in STACKD_FLAGS
#   KEEP_TMP=1       keep the raw results (probe latencies, wrk output, sampled bodies)
#
# Reported per run (results, never pass/fail; the figure to compare with is p99 <= 100 ms):
#   probe p50/p99/max   latency of the successful probe requests (connect + full body), ms
#   probe fail          probe requests not answered with a well-formed 200, by kind
#   wrong               responses served wrongly: probe bodies that do not parse (the script's
#                       parser on every body, promtool check metrics on every 20th), and wrk
#                       responses that are not 200 text/plain;version=0.0.4 ending in a newline
#                       with stackd_build_info in them (a Lua check on every wrk response)
#   wrk req/s, wrk p99  throughput and latency seen by the 200 clients; wrk errors by kind
#   loris               slow-loris sockets connected / closed by the server (and when)
#   threads, rss        agent peak thread count and VmHWM during the run
# Needs root (the agent loads BPF), wrk (Debian package wrk), python3, curl, promtool.
#
# SCENARIO=crowd: issue 10's crowd instead: 200 held + 50 one-byte-a-second connections from
# 127.0.0.2-9 (tests/e2e/crowd.py, re-opened when closed) and a curl scrape of /metrics from
# 127.0.0.10 every 200 ms for CROWD_S=15 s; RUNS=3 runs per binary, default flags, printing
# success rate and p50/p99 (median of the runs). OLD_BIN=path adds the same for another binary.
#   sudo SCENARIO=crowd OLD_BIN=/path/to/old/stackd bench/http_load.sh
set -euo pipefail

crowd_run()
{
	local bin=$1 port=$2 out=$3 agent crowd t_end pids=()
	"$bin" --web.listen-address=127.0.0.1:"$port" --unwind.mode=fp >"$out.log" 2>&1 &
	agent=$!
	for _ in $(seq 1 100); do
		curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null && break
		sleep 0.2
	done
	python3 "$SRC/tests/e2e/crowd.py" "$port" $((CROWD_S + 3)) 200 50 2 8 >"$out.crowd" &
	crowd=$!
	sleep 2
	: >"$out"
	t_end=$(($(date +%s%N) / 1000000 + CROWD_S * 1000))
	while (($(date +%s%N) / 1000000 < t_end)); do
		curl -sS -m 2 --interface 127.0.0.10 -o /dev/null -w '%{http_code} %{time_total}\n' \
			"http://127.0.0.1:$port/metrics" >>"$out" 2>/dev/null &
		pids+=($!)
		sleep 0.2
	done
	for p in "${pids[@]}"; do wait "$p" || true; done
	wait "$crowd" || true
	kill -TERM "$agent" 2>/dev/null || true
	for _ in $(seq 1 50); do kill -0 "$agent" 2>/dev/null || break; sleep 0.2; done
	kill -KILL "$agent" 2>/dev/null || true
	wait "$agent" 2>/dev/null || true
	# "ok n p50_ms p99_ms"
	awk '{ n++; ok += ($1 == 200); printf "%d\n", $2 * 1000 > "/dev/stderr" }
		END { printf "%d %d", ok, n }' "$out" 2>"$out.ms"
	sort -n "$out.ms" | awk '{ v[NR] = $1 } END { printf " %d %d\n", v[int(NR * 0.5 + 0.999)], v[int(NR * 0.99 + 0.999)] }'
}

if [[ ${SCENARIO:-} == crowd ]]; then
	SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	CROWD_S=${CROWD_S:-15}
	RUNS=${RUNS:-3}
	[[ $(id -u) == 0 ]] || { echo "http_load: needs root" >&2; exit 1; }
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	for bin in ${OLD_BIN:+"$OLD_BIN"} "${STACKD_BIN:-$SRC/build/stackd}"; do
		: >"$tmp/runs"
		for r in $(seq 1 "$RUNS"); do
			crowd_run "$bin" $((26100 + r)) "$tmp/run$r" >>"$tmp/runs"
		done
		m=$(((RUNS + 1) / 2))
		read -r ok n < <(awk '{ ok += $1; n += $2 } END { print ok + 0, n + 0 }' "$tmp/runs")
		p50=$(cut -d' ' -f3 "$tmp/runs" | sort -n | sed -n "${m}p")
		p99=$(cut -d' ' -f4 "$tmp/runs" | sort -n | sed -n "${m}p")
		echo "$bin: $ok/$n scrapes ok ($((n ? 100 * ok / n : 0))%), p50 $p50 ms, p99 $p99 ms (medians of $RUNS runs)"
	done
	exit 0
fi

DURATION=${DURATION:-20}
CONNS=${CONNS:-200}
THREADS=${THREADS:-2}
SLOWLORIS=${SLOWLORIS:-50}
TRICKLE_S=${TRICKLE_S:-3}
PROBE_MS=${PROBE_MS:-50}
LIMITS=${LIMITS:-512/512 64/16}
READ_TIMEOUT=${READ_TIMEOUT:-}
LORIS_SRC=${LORIS_SRC:-127.0.0.2}
PROBE_SRC=${PROBE_SRC:-127.0.0.3}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACKD_BIN=${STACKD_BIN:-$SRC/build/stackd}
STACKD_FLAGS=${STACKD_FLAGS:-}

# die, free_port
. "$SRC/bench/lib.sh"
[[ $(id -u) == 0 ]] || die "needs root (the agent loads BPF programs)"
[[ -x $STACKD_BIN ]] || die "no agent binary at $STACKD_BIN (build it, or set STACKD_BIN)"
for c in wrk python3 curl promtool; do
	command -v "$c" >/dev/null || die "$c not found (apt-get install wrk python3 curl prometheus)"
done

T=$(mktemp -d "${TMPDIR:-/tmp}/http_load.XXXXXX")
PIDS=()
cleanup()
{
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	if [[ ${KEEP_TMP:-0} == 1 ]]; then echo "raw results kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

cat >"$T/helper.py" <<'PYEOF'
#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Helpers for bench/http_load.sh (stdlib only).

  http_load.py probe URL SECONDS INTERVAL_MS OUTDIR SRC_ADDR
      GET URL every INTERVAL_MS on a fresh connection for SECONDS; every response is checked
      (status 200, Content-Type text/plain; version=0.0.4, body parses as exposition text and
      holds stackd_build_info); every 20th body is kept in OUTDIR for promtool. Writes
      OUTDIR/probe.json: latencies (ms) of the successful requests, failures by kind.
  http_load.py slowloris HOST PORT CONNS SECONDS BYTE_EVERY_S OUTDIR SRC_ADDR
      Opens CONNS connections, sends a request line and then one header byte every
      BYTE_EVERY_S seconds, never finishing the headers. Writes OUTDIR/slowloris.json: how many
      connected, how many the server closed and after how long.
"""
import http.client
import json
import os
import re
import socket
import sys
import time

# One exposition line: a sample (name, optional labels, value, optional timestamp), or a comment.
SAMPLE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*'
    r'(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})?'
    r' (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)( -?[0-9]+)?$')


def body_problem(body):
    """None when @body is well-formed exposition text, else what is wrong."""
    try:
        text = body.decode('utf-8')
    except UnicodeDecodeError:
        return 'not utf-8'
    if not text.endswith('\n'):
        return 'no final newline (truncated?)'
    if 'stackd_build_info{' not in text:
        return 'no stackd_build_info'
    for n, line in enumerate(text.splitlines(), 1):
        if not line or line.startswith('# HELP ') or line.startswith('# TYPE '):
            continue
        if not SAMPLE.match(line):
            return 'line %d malformed: %.80r' % (n, line)
    return None


def probe(url, seconds, interval_ms, outdir, src):
    m = re.match(r'http://([^/:]+):(\d+)(/.*)', url)
    host, port, path = m.group(1), int(m.group(2)), m.group(3)
    lat, fails, n, kept = [], {}, 0, 0
    t_end = time.monotonic() + seconds
    nxt = time.monotonic()
    missed = 0
    while True:
        now = time.monotonic()
        if now >= t_end:
            break
        if now < nxt:
            time.sleep(nxt - now)
        elif now - nxt > interval_ms / 1000.0:
            missed += int((now - nxt) * 1000 / interval_ms)
        nxt = max(nxt + interval_ms / 1000.0, time.monotonic())
        n += 1
        t0 = time.perf_counter()
        kind = None
        try:
            c = http.client.HTTPConnection(host, port, timeout=5, source_address=(src, 0))
            c.request('GET', path)
            r = c.getresponse()
            body = r.read()
            ct = r.getheader('Content-Type', '')
            c.close()
            ms = (time.perf_counter() - t0) * 1000
            if r.status != 200:
                kind = 'status %d' % r.status
            elif not ct.startswith('text/plain; version=0.0.4'):
                kind = 'content-type %r' % ct
            else:
                p = body_problem(body)
                if p:
                    kind = 'malformed: ' + p
                    with open(os.path.join(outdir, 'bad-%d.txt' % n), 'wb') as f:
                        f.write(body)
            if kind is None:
                lat.append(ms)
                if n % 20 == 1:
                    kept += 1
                    with open(os.path.join(outdir, 'sample-%05d.prom' % n), 'wb') as f:
                        f.write(body)
        except socket.timeout:
            kind = 'timeout (5 s)'
        except ConnectionRefusedError:
            kind = 'connection refused'
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
            kind = 'closed by server without a response'
        except Exception as e:  # noqa: BLE001 - every failure is a figure here
            kind = type(e).__name__
        if kind:
            fails[kind] = fails.get(kind, 0) + 1
    with open(os.path.join(outdir, 'probe.json'), 'w') as f:
        json.dump({'requests': n, 'ok': len(lat), 'latencies_ms': lat, 'failures': fails,
                   'missed_slots': missed, 'kept_samples': kept}, f)


def slowloris(host, port, conns, seconds, every, outdir, src):
    socks, refused = [], 0
    t0 = time.monotonic()
    for _ in range(conns):
        try:
            s = socket.create_connection((host, port), timeout=2, source_address=(src, 0))
            s.sendall(b'GET /metrics HTTP/1.1\r\nHost: x\r\n')
            socks.append([s, t0, None])
        except OSError:
            refused += 1
    trickle = b'X-Slow: ' + b'a' * 64
    i = 0
    t_end = t0 + seconds
    while time.monotonic() < t_end:
        time.sleep(min(every, max(0.0, t_end - time.monotonic())))
        b = trickle[i % len(trickle):i % len(trickle) + 1]
        i += 1
        for e in socks:
            if e[2] is not None:
                continue
            try:
                e[0].sendall(b)
                # A server that gave up on us may have answered (408/400) or closed.
                e[0].setblocking(False)
                try:
                    d = e[0].recv(4096)
                    if d == b'' or d:
                        e[2] = time.monotonic() - t0
                except BlockingIOError:
                    pass
                finally:
                    e[0].setblocking(True)
            except OSError:
                e[2] = time.monotonic() - t0
    closed = [e[2] for e in socks if e[2] is not None]
    for e in socks:
        e[0].close()
    with open(os.path.join(outdir, 'slowloris.json'), 'w') as f:
        json.dump({'wanted': conns, 'connected': len(socks), 'refused': refused,
                   'closed_by_server': len(closed),
                   'closed_after_s': sorted(round(c, 1) for c in closed)}, f)


if __name__ == '__main__':
    if sys.argv[1] == 'probe':
        probe(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6])
    elif sys.argv[1] == 'slowloris':
        slowloris(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]),
                  float(sys.argv[6]), sys.argv[7], sys.argv[8])
    else:
        sys.exit('usage: see the docstring')
PYEOF

cat >"$T/check.lua" <<'LUAEOF'
-- Every wrk response: 200, the exposition content type, a complete body.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) checked = 0; bad = 0 end
function response(status, headers, body)
	checked = checked + 1
	local ct = headers["Content-Type"] or ""
	if status ~= 200 or ct:sub(1, 25) ~= "text/plain; version=0.0.4"
	   or body:sub(-1) ~= "\n" or not body:find("stackd_build_info{", 1, true) then
		bad = bad + 1
	end
end
function done(summary, latency, requests)
	local c, b = 0, 0
	for _, t in ipairs(threads) do c = c + t:get("checked"); b = b + t:get("bad") end
	io.write(string.format("lua_checked %d\nlua_bad %d\n", c, b))
end
LUAEOF

has_flag() { [[ $("$STACKD_BIN" --help 2>&1) == *"--$1="* ]]; }

# run MAXCONN/PERCLIENT: one run at those limits; prints the results, keeps the details.
run()
{
	local limit=${1%%/*} per=${1#*/} port url dir apid i peak_thr=0 thr lpid ppid wpid flags=()
	flags=(--web.max-connections="$limit")
	if has_flag web.max-connections-per-client; then
		flags+=(--web.max-connections-per-client="$per")
	else
		per="(no such flag)"
	fi
	[[ -z $READ_TIMEOUT ]] || flags+=(--web.read-timeout="$READ_TIMEOUT")
	dir=$T/limit-$limit-$per
	mkdir -p "$dir/bodies"
	port=$(free_port)
	url=http://127.0.0.1:$port
	# shellcheck disable=SC2086 # STACKD_FLAGS is a list of flags
	"$STACKD_BIN" --web.listen-address=127.0.0.1:$port "${flags[@]}" \
		--log.level=warn $STACKD_FLAGS >"$dir/agent.log" 2>&1 &
	apid=$!
	PIDS+=("$apid")
	for ((i = 0; i < 100; i++)); do
		curl -fs -m 1 -o /dev/null "$url/-/ready" && break
		kill -0 "$apid" 2>/dev/null || { cat "$dir/agent.log" >&2; die "agent exited"; }
		sleep 0.2
	done
	((i < 100)) || die "agent not ready after 20 s"
	curl -fs "$url/metrics" >"$dir/before.prom"

	# Slow-loris first, so that its sockets hold their slots before the load starts.
	python3 "$T/helper.py" slowloris 127.0.0.1 "$port" "$SLOWLORIS" $((DURATION + 4)) \
		"$TRICKLE_S" "$dir" "$LORIS_SRC" &
	lpid=$!
	PIDS+=("$lpid")
	sleep 1
	python3 "$T/helper.py" probe "$url/metrics" $((DURATION + 1)) "$PROBE_MS" "$dir/bodies" \
		"$PROBE_SRC" &
	ppid=$!
	PIDS+=("$ppid")
	wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 5s --latency -s "$T/check.lua" \
		"$url/metrics" >"$dir/wrk.txt" 2>&1 &
	wpid=$!
	PIDS+=("$wpid")
	while kill -0 "$wpid" 2>/dev/null; do
		thr=$(awk '/^Threads:/ { print $2 }' "/proc/$apid/status" 2>/dev/null || echo 0)
		((thr > peak_thr)) && peak_thr=$thr
		sleep 0.5
	done
	wait "$wpid" || true
	wait "$ppid" || true
	wait "$lpid" || true
	rss=$(awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$apid/status")
	# After the load: the agent must still answer, and count what it served.
	curl -fs -m 5 "$url/metrics" >"$dir/after.prom" || echo "(no /metrics after the load)" >"$dir/after.prom"
	kill "$apid"
	wait "$apid" || true

	# promtool on the kept probe bodies (every 20th request).
	local prom_ok=0 prom_bad=0 f
	for f in "$dir"/bodies/sample-*.prom; do
		[[ -e $f ]] || continue
		# Exit 1 also on lint advice; only a parse error means the body was served wrong.
		promtool check metrics <"$f" >"$f.lint" 2>&1 || true
		if grep -qi 'parsing error\|error while linting' "$f.lint"; then
			prom_bad=$((prom_bad + 1))
		else
			prom_ok=$((prom_ok + 1))
		fi
	done
	python3 - "$dir" "${flags[*]}" "$prom_ok" "$prom_bad" "$peak_thr" "$rss" <<'PYEOF'
import json, re, sys
d, limit, prom_ok, prom_bad, thr, rss = sys.argv[1:7]
p = json.load(open(d + '/bodies/probe.json'))
l = json.load(open(d + '/slowloris.json'))
w = open(d + '/wrk.txt').read()
lat = sorted(p['latencies_ms'])
def pct(q):
    return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float('nan')
def grab(rx, default='-'):
    m = re.search(rx, w, re.M)
    return m.group(1) if m else default
rps = grab(r'^Requests/sec:\s+([0-9.]+)')
w99 = grab(r'^\s+99%\s+(\S+)')
w50 = grab(r'^\s+50%\s+(\S+)')
reqs = grab(r'^\s+(\d+) requests in')
errs = grab(r'Socket errors: (.*)$', 'none')
non2xx = grab(r'Non-2xx or 3xx responses: (\d+)', '0')
lua_c = grab(r'^lua_checked (\d+)', '?')
lua_b = grab(r'^lua_bad (\d+)', '?')
bad_bodies = sum(v for k, v in p['failures'].items() if k.startswith('malformed'))
fails = ', '.join('%s: %d' % kv for kv in sorted(p['failures'].items())) or 'none'
print(limit)
print('  probe   %d requests, %d ok; p50 %.1f ms, p99 %.1f ms, max %.1f ms; failures: %s; missed slots %d'
      % (p['requests'], p['ok'], pct(0.50), pct(0.99), lat[-1] if lat else float('nan'), fails,
         p['missed_slots']))
print('  wrong   probe bodies malformed: %d; promtool on %s kept bodies: %s parse errors; '
      'wrk responses checked %s, wrong %s (non-2xx %s)'
      % (bad_bodies, int(prom_ok) + int(prom_bad), prom_bad, lua_c, lua_b, non2xx))
print('  wrk     %s requests, %s req/s, p50 %s, p99 %s; socket errors: %s' % (reqs, rps, w50, w99, errs))
print('  loris   %d/%d connected, %d refused, %d closed by the server%s'
      % (l['connected'], l['wanted'], l['refused'], l['closed_by_server'],
         (' (seen closed at %s s)' % sorted(set(l['closed_after_s']))) if l['closed_after_s'] else ''))
print('  agent   peak threads %s, VmHWM %s MiB' % (thr, rss))
PYEOF
	# The agent's own account of the run.
	awk '/^stackd_http_requests_total/ { printf "  agent   %s\n", $0 }' "$dir/after.prom"
}

echo "stackd $("$STACKD_BIN" --version | awk '{print $2}'), $(nproc) CPUs, kernel $(uname -r)"
echo "load: wrk -t$THREADS -c$CONNS -d${DURATION}s GET /metrics (keep-alive, from 127.0.0.1);"
echo "$SLOWLORIS slow-loris sockets (1 header byte / ${TRICKLE_S} s, from $LORIS_SRC);"
echo "probe: fresh-connection GET /metrics every ${PROBE_MS} ms (from $PROBE_SRC)"
for limit in $LIMITS; do
	run "$limit"
done
