# SPDX-License-Identifier: Apache-2.0
"""A crowd of useless HTTP connections, for test_web_crowd.sh and bench/http_load.sh.

crowd.py PORT SECONDS HELD SLOW FIRST_IP NR_IPS

Opens HELD connections that send nothing or a partial header and then hold,
and SLOW connections that send one header byte a second, never finishing,
from source addresses 127.0.0.FIRST_IP .. FIRST_IP+NR_IPS-1 (round robin).
A connection the server closes is opened again (at most 200 a second in
all), as pods that retry would. Stops after SECONDS, closes everything, and
prints one line: "opened N closed_by_server M refused R".
Loopback only; bounded in count (HELD + SLOW sockets) and in time.
"""
import errno
import selectors
import socket
import sys
import time

port, seconds, held, slow, first_ip, nr_ips = (int(a) for a in sys.argv[1:7])
if not (0 < port < 65536 and 0 < seconds <= 600 and 0 <= held + slow <= 2000 and nr_ips >= 1):
    sys.exit("crowd.py: bad arguments")

PARTIAL = b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
SLOW_HEADER = PARTIAL + b"X-Slow: " + b"a" * 100000

sel = selectors.DefaultSelector()
conns = {}  # socket -> [kind, bytes sent]
stats = {"opened": 0, "closed": 0, "refused": 0}
nth = 0


def open_one(kind):
    global nth
    src = "127.0.0.%d" % (first_ip + nth % nr_ips)
    nth += 1
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.bind((src, 0))
        err = s.connect_ex(("127.0.0.1", port))
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, "connect")
    except OSError:
        s.close()
        stats["refused"] += 1
        return
    stats["opened"] += 1
    # Half of the held ones send a partial header, the other half nothing.
    conns[s] = [kind, 0]
    sel.register(s, selectors.EVENT_READ)
    if kind == "held" and nth % 2 == 0:
        try:
            s.send(PARTIAL)
        except OSError:
            pass


def close_one(s):
    sel.unregister(s)
    del conns[s]
    s.close()


want = ["held"] * held + ["slow"] * slow
for k in want:
    open_one(k)

t_end = time.monotonic() + seconds
next_tick = time.monotonic()
budget = 0.0
t_last = time.monotonic()
while time.monotonic() < t_end:
    for key, _ in sel.select(timeout=0.05):
        s = key.fileobj
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data:  # the server closed (evicted, timed out, refused at accept)
            stats["closed"] += 1
            close_one(s)
    now = time.monotonic()
    if now >= next_tick:
        next_tick = now + 1.0
        for s, st in list(conns.items()):
            if st[0] == "slow" and st[1] < len(SLOW_HEADER):
                try:
                    s.send(SLOW_HEADER[st[1]:st[1] + 1])
                    st[1] += 1
                except OSError:
                    pass
    # Refill the crowd, at most 200 new connections a second.
    budget = min(budget + 200 * (now - t_last), 200)
    t_last = now
    kinds = [c[0] for c in conns.values()]
    for kind, n in (("held", held), ("slow", slow)):
        missing = n - kinds.count(kind)
        while missing > 0 and budget >= 1:
            open_one(kind)
            budget -= 1
            missing -= 1

for s in list(conns):
    close_one(s)
print("opened %d closed_by_server %d refused %d" % (stats["opened"], stats["closed"], stats["refused"]), flush=True)
