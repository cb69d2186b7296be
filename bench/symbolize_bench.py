#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Helper of symbolize_bench.sh: run the symbolizers, time them, compare them.

For every target file, draws SIZE random addresses inside its .text (seeded,
the same addresses for every tool), feeds them on stdin to each tool, and
records wall time (perf_counter around the process), peak RSS (GNU time's
%M, "Maximum resident set size" of time -v) and the output. Figures are medians over
RUNS runs (fewer for runs slower than --repeat-max; sizes projected to take
longer than --max-run are skipped). Agreement is measured against
llvm-symbolizer on the largest size both got through: for each address,
the chains of (function, file, line) must have the same depth and agree at
every inline level; for the outermost (physical) function, two names count
as the same when the symbol table (nm) gives them the same address (glibc's
aliases: malloc_stats and __malloc_stats). File names are compared after
os.path.normpath, and by basename alone in a column of their own.

This prints figures; it asserts nothing about time.
"""

import argparse
import os
import random
import re
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

REF = "llvm-symbolizer"


def text_range(path):
    """(sh_addr, sh_size) of .text, read from the ELF64 section headers."""
    with open(path, "rb") as f:
        ehdr = f.read(64)
        if ehdr[:4] != b"\x7fELF" or ehdr[4] != 2 or ehdr[5] != 1:
            sys.exit(f"{path}: not an ELF64 little-endian file")
        shoff, = struct.unpack_from("<Q", ehdr, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ehdr, 0x3A)
        f.seek(shoff)
        shdrs = [f.read(shentsize) for _ in range(shnum)]
        str_off, = struct.unpack_from("<Q", shdrs[shstrndx], 0x18)
        str_sz, = struct.unpack_from("<Q", shdrs[shstrndx], 0x20)
        f.seek(str_off)
        names = f.read(str_sz)
    for sh in shdrs:
        name_off, = struct.unpack_from("<I", sh, 0)
        name = names[name_off:names.index(b"\0", name_off)]
        if name == b".text":
            addr, = struct.unpack_from("<Q", sh, 0x10)
            size, = struct.unpack_from("<Q", sh, 0x20)
            return addr, size
    sys.exit(f"{path}: no .text section")


def function_addrs(path):
    """Demangled function name -> set of addresses, from nm."""
    out = subprocess.run(["nm", "-C", "--defined-only", path], check=True,
                         capture_output=True, text=True).stdout
    names = {}
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "TtWwi":
            addr = int(parts[0], 16)
            names.setdefault(parts[2], set()).add(addr)
            # Versioned symbols (shm_open@@GLIBC_2.34) also answer to the bare name.
            if "@" in parts[2]:
                names.setdefault(parts[2].split("@", 1)[0], set()).add(addr)
    return names


LOC_RE = re.compile(r"^(.*?):(\d+|\?)(?::\d+)?(?: \(discriminator \d+\))?$")
ADDR_RE = re.compile(r"^0x[0-9a-fA-F]+$")


def parse_loc(text):
    m = LOC_RE.match(text)
    if not m:
        return None, None
    file = m.group(1)
    line = m.group(2)
    file = None if file in ("", "??") else os.path.normpath(file)
    line = None if line in ("?", "0") else int(line)
    return file, line


def parse(path):
    """Output of any of the tools run with addresses shown -> list of frame chains.

    A chain is a list of (function, file, line), innermost first; None for
    unknown parts. Every record starts with its address line (-a/--addresses).
    """
    records = []
    pending_func = None
    with open(path, errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if ADDR_RE.match(line):
                records.append([])
                pending_func = None
                continue
            if not records or line == "":
                continue
            if pending_func is None:
                # eu-addr2line -i: "inner inlined at FILE:LINE:COL in outer"
                pending_func = line.split(" inlined at ", 1)[0]
                continue
            file, lno = parse_loc(line)
            func = None if pending_func in ("", "??") else pending_func
            records[-1].append((func, file, lno))
            pending_func = None
    return records


def alias_addrs(aliases, name):
    """Addresses the symbol table gives @name (or its unversioned form)."""
    if not name:
        return set()
    return aliases.get(name) or aliases.get(name.split("@", 1)[0], set())


def agreement(chains, ref, aliases):
    """Percent of addresses agreeing on function, file, file basename, line, and all.

    "all" is function, file and line. The basename column tells a different
    spelling of the same path (how a DWARF 5 directory entry 0 is joined to
    the compilation directory) from a different file.
    """
    n = min(len(chains), len(ref))
    ok = [0, 0, 0, 0, 0]
    for got, want in zip(chains[:n], ref[:n]):
        same_depth = len(got) == len(want)
        f_ok = fi_ok = fb_ok = l_ok = same_depth
        if same_depth:
            for level, (g, w) in enumerate(zip(got, want)):
                if g[0] != w[0]:
                    outer = level == len(got) - 1
                    ga = alias_addrs(aliases, g[0])
                    wa = alias_addrs(aliases, w[0])
                    if not (outer and ga & wa):
                        f_ok = False
                if g[1] != w[1]:
                    fi_ok = False
                    if os.path.basename(g[1] or "") != os.path.basename(w[1] or ""):
                        fb_ok = False
                if g[2] != w[2]:
                    l_ok = False
        for k, v in enumerate((f_ok, fi_ok, fb_ok, l_ok, f_ok and fi_ok and l_ok)):
            ok[k] += v
    total = max(len(ref), 1)
    return tuple(100.0 * x / total for x in ok)


def run_once(cmd, addr_file, out_file, timeout):
    """Wall seconds and peak RSS (KiB) of one run, and an error string or None.

    The tool runs under /usr/bin/time -f %M, "Maximum resident set size" of
    time -v. Not wait4() from here: a child's ru_maxrss starts from the RSS
    of the process that forked it (the kernel keeps the pre-exec high-water
    mark), and this Python process grows to 100+ MiB parsing outputs, while
    time(1) stays at ~2 MiB. The wall time is taken here, around time(1):
    its fork and exec are in every figure alike (see spawn_floor()).
    """
    rss_file = out_file + ".rss"
    with open(addr_file, "rb") as fin, open(out_file, "wb") as fout, \
            open(out_file + ".err", "wb") as ferr:
        t0 = time.perf_counter()
        p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd,
                             stdin=fin, stdout=fout, stderr=ferr, start_new_session=True)
        # A blocking wait: Popen.wait(timeout=) polls with growing sleeps (up to 50 ms),
        # which would quantize every figure. A timer kills a run that hangs.
        timer = threading.Timer(timeout, kill_group, (p.pid,))
        timer.start()
        rc = p.wait()
        dt = time.perf_counter() - t0
        timer.cancel()
        if dt >= timeout:
            return None, None, "timeout"
    if rc != 0:
        with open(out_file + ".err", errors="replace") as f:
            err = f.read().strip().splitlines()
        return None, None, f"exit {rc}: {err[-1] if err else ''}"
    with open(rss_file) as f:
        rss = int(f.read().split()[-1])
    return dt, rss, None


def kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it ended just as the timer fired


def spawn_floor(work):
    """Median wall time of spawning /bin/true the way every tool is spawned."""
    devnull = os.path.join(work, "floor")
    open(devnull, "w").close()
    times = [run_once(["/bin/true"], devnull, devnull + ".out", 10)[0] for _ in range(11)]
    return statistics.median(t for t in times if t is not None)


def projected(results, tool, sizes, n):
    """Seconds a run of @n addresses should take, from the tool's smaller sizes.

    Start-up (the run of one address, when measured) plus the per-address
    cost seen at the largest smaller size; None with nothing to go on.
    """
    done = [m for m in sizes if m < n and isinstance(results.get((tool, m)), list)]
    big = [m for m in done if m > 1]
    if not big:
        return None
    m = big[-1]
    secs = statistics.median(x[0] for x in results[(tool, m)])
    start = statistics.median(x[0] for x in results[(tool, 1)]) if 1 in done else 0.0
    per_addr = max(secs - start, 0.0) / (m - 1 if 1 in done else m)
    return start + per_addr * (n - 1 if 1 in done else n)


def tool_cmds(tools, target):
    cmds = {}
    for name, exe in tools.items():
        if name in ("stackd-symbolize", "addr2line", "eu-addr2line"):
            cmds[name] = [exe, "-e", target, "-a", "-f", "-i", "-C"]
        elif name == REF:
            cmds[name] = [exe, "--obj=" + target, "--inlining", "--addresses", "--demangle",
                          "--functions=linkage"]
    return cmds


def fmt(v, spec, missing="-"):
    return missing if v is None else format(v, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", action="append", default=[], metavar="NAME=PATH",
                    help="stackd-symbolize, addr2line, eu-addr2line, llvm-symbolizer")
    ap.add_argument("--target", action="append", default=[], metavar="NAME=FILE")
    ap.add_argument("--sizes", default="1 10000 100000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--start-runs", type=int, default=9, help="runs of the 1-address size")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per run, hard limit")
    ap.add_argument("--max-run", type=float, default=30.0,
                    help="skip a size whose run is projected (from the previous size) to take longer")
    ap.add_argument("--repeat-max", type=float, default=10.0,
                    help="do not repeat a run whose first run took longer than this")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()

    tools = dict(t.split("=", 1) for t in args.tool)
    targets = [t.split("=", 1) for t in args.target]
    sizes = sorted({int(s) for s in args.sizes.split()})
    work = args.workdir or tempfile.mkdtemp(prefix="symbolize_bench.")
    os.makedirs(work, exist_ok=True)

    rows = []
    notes = []
    floor = spawn_floor(work)
    for tname, tfile in targets:
        start, size = text_range(tfile)
        aliases = function_addrs(tfile)
        cmds = tool_cmds(tools, tfile)
        rng = random.Random(args.seed)
        all_addrs = [rng.randrange(start, start + size) for _ in range(max(sizes))]
        addr_files = {}
        for n in sizes:
            addr_files[n] = os.path.join(work, f"{tname}.{n}.addrs")
            with open(addr_files[n], "w") as f:
                f.write("".join(f"0x{a:x}\n" for a in all_addrs[:n]))
        print(f"# {tname}: {tfile}  .text 0x{start:x}+0x{size:x}", file=sys.stderr, flush=True)
        # One untimed run of every tool first: the target, the tools and their shared
        # libraries (llvm-symbolizer's are large) are in the page cache before any timing.
        for tool, cmd in cmds.items():
            run_once(cmd, addr_files[sizes[0]], os.path.join(work, f"{tname}.{tool}.warmup"),
                     args.timeout)

        results = {}  # (tool, n) -> list of (seconds, rss KiB), or a reason string
        for n in sizes:
            # Start-up is cheap to measure and noisy on a shared machine: take more runs.
            nr_runs = max(args.runs, args.start_runs) if n == 1 else args.runs
            for run in range(nr_runs):
                # Rotate the order each run: no tool always comes right after the helper's work.
                order = list(cmds.items())
                order = order[run % len(order):] + order[:run % len(order)]
                for tool, cmd in order:
                    prev = results.get((tool, n))
                    if isinstance(prev, str):
                        continue
                    if run == 0:
                        est = projected(results, tool, sizes, n)
                        if est is not None and est > args.max_run:
                            results[(tool, n)] = f"skipped: projected {est:.0f} s > {args.max_run:.0f} s"
                            notes.append(f"{tname} {tool} n={n}: {results[(tool, n)]}")
                            continue
                    elif prev and prev[0][0] > args.repeat_max:
                        continue  # one slow run is enough; the median is of fewer runs
                    out = os.path.join(work, f"{tname}.{tool}.{n}.r{run}.out")
                    dt, rss, err = run_once(cmd, addr_files[n], out, args.timeout)
                    if err:
                        notes.append(f"{tname} {tool} n={n}: FAILED: {err}")
                        results[(tool, n)] = err
                        continue
                    results.setdefault((tool, n), []).append((dt, rss))
                    print(f"  {tname:7} {tool:17} n={n:<7} run {run + 1}: {dt * 1000:9.1f} ms "
                          f"{rss / 1024:7.1f} MiB", file=sys.stderr, flush=True)
            for tool in cmds:
                r = results.get((tool, n))
                if isinstance(r, list) and len(r) < nr_runs:
                    notes.append(f"{tname} {tool} n={n}: {len(r)} run(s), "
                                 f"first took {r[0][0]:.1f} s > {args.repeat_max:.0f} s")

        # Agreement on the largest size both the tool and the reference got through.
        ref_cache = {}
        for tool in cmds:
            row = {"target": tname, "tool": tool, "by_size": {}, "agree": None, "agree_n": None}
            for n in sizes:
                r = results.get((tool, n))
                if isinstance(r, list):
                    row["by_size"][n] = (statistics.median(x[0] for x in r),
                                         statistics.median(x[1] for x in r))
            for n in reversed(sizes):
                if tool == REF or not (isinstance(results.get((tool, n)), list)
                                       and isinstance(results.get((REF, n)), list)):
                    continue
                if n not in ref_cache:
                    ref_cache[n] = parse(os.path.join(work, f"{tname}.{REF}.{n}.r0.out"))
                chains = parse(os.path.join(work, f"{tname}.{tool}.{n}.r0.out"))
                if len(chains) != n or len(ref_cache[n]) != n:
                    notes.append(f"{tname} {tool} n={n}: parsed {len(chains)} records, "
                                 f"{REF} {len(ref_cache[n])}")
                row["agree"] = agreement(chains, ref_cache[n], aliases)
                row["agree_n"] = n
                break
            rows.append(row)

    # The table.
    head = f"{'target':7} {'tool':17}"
    for n in sizes:
        head += f" {'start ms':>9}" if n == 1 else f" {'addr/s@' + str(n):>13}"
    head += f" {'rss MiB@' + str(sizes[0]):>11} {'rss MiB@' + str(sizes[-1]):>13}"
    head += f" {'func%':>6} {'file%':>6} {'fbase%':>6} {'line%':>6} {'all%':>6} {'agree@':>7}"
    print(head)
    for row in rows:
        line = f"{row['target']:7} {row['tool']:17}"
        for n in sizes:
            v = row["by_size"].get(n)
            if n == 1:
                line += f" {fmt(v and v[0] * 1000, '9.1f'):>9}"
            else:
                line += f" {fmt(v and n / v[0], '13.0f'):>13}"
        lo = row["by_size"].get(sizes[0])
        hi = row["by_size"].get(sizes[-1])
        line += f" {fmt(lo and lo[1] / 1024, '11.1f'):>11} {fmt(hi and hi[1] / 1024, '13.1f'):>13}"
        if row["tool"] == REF:
            line += f" {'ref':>6} {'ref':>6} {'ref':>6} {'ref':>6} {'ref':>6} {'':>7}"
        elif row["agree"]:
            line += "".join(f" {a:6.2f}" for a in row["agree"]) + f" {row['agree_n']:>7}"
        else:
            line += f" {'-':>6} {'-':>6} {'-':>6} {'-':>6} {'-':>6} {'-':>7}"
        print(line)
    print(f"# medians of up to {args.runs} run(s) ({max(args.runs, args.start_runs)} for one "
          f"address); agreement with {REF} on the first run of "
          f"the size in agree@; outputs in {work}")
    for note in notes:
        print(f"# {note}")
    print(f"# spawn floor (in every time above): {floor * 1000:.1f} ms for /bin/true under "
          "/usr/bin/time")
    with open("/proc/loadavg") as f:
        print(f"# load average at the end: {' '.join(f.read().split()[:3])} "
              "(other work on the machine skews the figures)")


if __name__ == "__main__":
    main()
