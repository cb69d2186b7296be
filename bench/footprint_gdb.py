# SPDX-License-Identifier: Apache-2.0
#
# gdb helper of bench/footprint.sh: attached to a running stackd (built with -g), it prints
# where the agent's heap goes, one "key value" line each:
#   gdb -p PID -batch -x bench/footprint_gdb.py
# It reads the agent's structures (drain thread's `a`), walks the symbol cache's objects
# (build id, symbols, DWARF, debug file symbols) and calls mallinfo2() in the agent.
# It stops the agent for well under a second; nothing is changed.
import gdb


def out(key, val):
    print("FP %s %s" % (key, val))


def find_agent():
    for th in gdb.selected_inferior().threads():
        th.switch()
        f = gdb.newest_frame()
        while f is not None:
            if f.name() == "drain_main":
                return f.read_var("arg").cast(gdb.lookup_type("struct agent").pointer())
            f = f.older()
    raise gdb.GdbError("no drain_main frame: is this stackd, built with -g?")


def container_of(ptr, typ, member):
    t = gdb.lookup_type(typ)
    off = [f for f in t.fields() if f.name == member][0].bitpos // 8
    addr = int(ptr.cast(gdb.lookup_type("unsigned long"))) - off
    return gdb.Value(addr).cast(t.pointer())


def sz(v, field):
    return 0 if int(v) == 0 else int(v.dereference()[field])


a = find_agent()
sym = a["sym"].dereference()
cache = sym["cache"].dereference()
head = cache["lru"].address
n = cache["lru"]["next"]
objs = []
while int(n) != int(head):
    o = container_of(n, "struct symcache_obj", "lru").dereference()
    elf = o["elf"]
    bid = elf.dereference()["build_id"].string() if int(elf) else ""
    dw = o["dw"]
    objs.append((int(o["bytes"]), bid or "-", sz(elf, "bytes"), sz(dw, "bytes"),
                 sz(dw, "mapped_bytes"), sz(o["dbg_elf"], "bytes"), int(o["dw_state"])))
    n = n["next"]
out("symcache.objects", len(objs))
out("symcache.bytes", int(cache["stats"]["bytes"]))
for o in sorted(objs, reverse=True):
    # bytes, build id, elf symbols, DWARF (owned), DWARF used in place from a mapping,
    # the debug file's symbols, DWARF state (0 none/loaded, 1 pending, 2 lost)
    out("symcache.obj", "%d %s elf=%d dw=%d dw_mapped=%d dbg_elf=%d dw_state=%d" % o)

k = sym["ksyms"]
if int(k):
    kk = k.dereference()
    out("kallsyms.nr", int(kk["nr"]))
    try:
        ent = gdb.lookup_type("struct ksym_entry")  # the compact table (since the footprint work)
    except gdb.error:
        ent = gdb.lookup_type("struct ksym")
    out("kallsyms.bytes", int(kk["nr"]) * ent.sizeof + int(kk["pool_sz"]))

sc = a["stacks"].dereference()
out("stackcache.bytes", int(sc["stats"]["bytes"]))
unw = a["unw"]
if int(unw):
    out("unwind.bytes", int(unw.dereference()["stats"]["cache_bytes"]))

mi = gdb.parse_and_eval("(struct mallinfo2)mallinfo2()")
# arena: bytes from sbrk (main arena); hblkhd: in mmap'ed chunks; uordblks: in use;
# fordblks: free inside the arenas; keepcost: releasable top
for f in ("arena", "hblkhd", "hblks", "uordblks", "fordblks", "keepcost"):
    out("malloc." + f, int(mi[f]))
