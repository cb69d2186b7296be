#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Drive headless Chromium through chromedriver, with nothing but the python3 stdlib.

A small W3C WebDriver client (HTTP + JSON to a chromedriver it starts on a free
loopback port) for shell tests of stackd's flame graph page:

  browser.py flame URL|FILE [--expect NAME [--min-share PCT]] [--screenshot OUT.png]
                            [--search REGEX [--min-matched PCT]] [--click NAME]
      Loads the page, waits (--timeout, 20 s) for body[data-rendered=1], and
      checks, printing every figure: the page loaded nothing from the network
      and logged no error; a frame named NAME is drawn, and its share of all
      samples; a PNG screenshot (decoded here: its size and its number of
      distinct colours must show a real drawing); the search's matched
      share, as the page computes it and as #matched shows it; a real mouse
      hover (the tooltip names the frame) and click (WebDriver actions at the
      frame's coordinates on the canvas) after which the frame spans the
      canvas's full width.

  browser.py timeline URL --from T0 --to T1 [--drag] [--expect NAME] [--absent NAME]
                         [--keys] [--sum-from S --sum-to S] [--screenshot OUT.png]
      Loads a flame graph page served by the agent, checks its timeline is
      drawn, then selects [T0, T1) (Unix seconds): by dragging the mouse
      across the timeline (--drag, WebDriver actions at the times' x) or
      through the page's own stackdFlame.select. Waits for the redraw
      without a reload, then checks: the URL keeps the selection (start,
      end; no seconds), NAME is drawn and ABSENT is not; with --keys, the
      right arrow key on the focused timeline moves the selection one window
      later; prints the timeline's seconds (all processes and the filter's)
      of the windows inside [S, S2) as "timeline-seconds: ALL SELECTED".

  browser.py page URL [--window WxH] [--screenshot OUT.png] [--tab-to TEXT]
      Loads any page (the index, a flame graph) at a window size, waits for
      it (a flame graph: its drawing), and checks it fits the width (no
      horizontal scrolling), and with --tab-to that pressing Tab reaches a
      link or control whose text or label contains TEXT (keyboard use).

  browser.py render-time URL|FILE [--runs N]
      Loads the page N times (5) and prints, per run and as medians, the
      page's own layout+draw time (body[data-render-ms]) and the time from
      navigation start to the first drawing (body[data-page-ms]).

A FILE argument is loaded as a file:// URL. The last line of a successful run
is "OK". Exit status: 0; 1 when a check fails (a "FAIL: ..." line says which);
2 on a usage error; 77 when chromium or chromedriver is not installed (the
shell test decides whether that skips or fails).
"""

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"
CHROME_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,900",
    # Containers give /dev/shm 64 MiB: too small for the renderer.
    "--disable-dev-shm-usage",
    # Frame coordinates are CSS pixels: keep them device pixels too.
    "--force-device-scale-factor=1",
    "--no-first-run", "--disable-extensions", "--disable-background-networking",
]
EXIT_FAIL, EXIT_USAGE, EXIT_MISSING = 1, 2, 77


class Fail(Exception):
    pass


def say(msg):
    print(msg, flush=True)


class WebDriverError(Exception):
    pass


class Driver:
    """One chromedriver process and one session; close() ends both."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.sid = None
        self.proc = None
        self.base = None
        self.tmp = tempfile.mkdtemp(prefix="stackd-browser.")
        self.log_path = os.path.join(self.tmp, "chromedriver.log")

    def start(self, chromium, chromedriver):
        with socket.socket() as s:
            # chromedriver takes the port as a number: ask the kernel for a free one.
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.base = "http://127.0.0.1:%d" % port
        log = open(self.log_path, "wb")
        # A session of its own, so that close() can end chromedriver and the
        # browsers it started, and nothing else, with one killpg.
        self.proc = subprocess.Popen(
            [chromedriver, "--port=%d" % port, "--allowed-ips=127.0.0.1"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise Fail("chromedriver exited with status %d at start-up: %s"
                           % (self.proc.returncode, self.log_tail()))
            try:
                if self._http("GET", "/status", None, 2).get("value", {}).get("ready"):
                    break
            except (OSError, WebDriverError):
                pass
            if time.monotonic() > deadline:
                raise Fail("chromedriver not ready on %s within 15 s: %s"
                           % (self.base, self.log_tail()))
            time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": CHROME_ARGS},
            "goog:loggingPrefs": {"browser": "ALL"},
            "timeouts": {"pageLoad": int(self.timeout * 1000), "script": int(self.timeout * 1000)},
        }}}
        try:
            self.sid = self._http("POST", "/session", caps, 60)["value"]["sessionId"]
        except WebDriverError as e:
            raise Fail("cannot start a Chromium session (%s): %s" % (e, self.log_tail()))

    def log_tail(self, n=8):
        try:
            lines = Path(self.log_path).read_text(errors="replace").splitlines()
        except OSError:
            return "(no chromedriver log)"
        return " | ".join(lines[-n:]) or "(empty chromedriver log)"

    def _http(self, method, path, body, timeout):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            try:
                v = json.loads(e.read()).get("value", {})
                msg = "%s: %s" % (v.get("error"), (v.get("message") or "").splitlines()[0])
            except (ValueError, AttributeError, IndexError):
                msg = "HTTP %d" % e.code
            raise WebDriverError(msg) from None

    def cmd(self, method, path, body=None):
        return self._http(method, "/session/%s%s" % (self.sid, path), body,
                          self.timeout + 30).get("value")

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def close(self):
        if self.sid:
            try:
                self._http("DELETE", "/session/" + self.sid, None, 20)
            except (OSError, WebDriverError):
                pass
            self.sid = None
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)


def to_url(arg):
    if "://" in arg:
        return arg
    p = Path(arg)
    if not p.is_file():
        raise Fail("%s: no such file (and not a URL)" % arg)
    return p.resolve().as_uri()


def load(drv, url, timeout):
    """Navigate and wait for the first drawing; returns the page's timing figures."""
    t0 = time.monotonic()
    drv.cmd("POST", "/url", {"url": url})
    while True:
        st = drv.js("var b = document.body; return b ? [b.dataset.rendered || '', "
                    "b.dataset.error || '', b.dataset.renderMs || '', b.dataset.pageMs || '']"
                    " : ['', '', '', ''];")
        if st[0] == "1":
            return float(st[2]), float(st[3])
        if st[0] == "error":
            raise Fail("the page failed to draw: %s" % st[1])
        if time.monotonic() - t0 > timeout:
            raise Fail("body[data-rendered=1] not set within %g s of loading %s"
                       % (timeout, url))
        time.sleep(0.05)


def console_errors(drv):
    """SEVERE browser log entries (JS errors, CSP violations); None if chromedriver has no log."""
    try:
        entries = drv.cmd("POST", "/se/log", {"type": "browser"}) or []
    except WebDriverError:
        return None
    return [e.get("message", "") for e in entries if e.get("level") == "SEVERE"]


# ------------------------------------------------------------------ PNG

def png_stats(data):
    """(width, height, distinct colours) of an 8-bit RGB(A) non-interlaced PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise Fail("screenshot is not a PNG")
    pos, idat, hdr = 8, [], None
    while pos + 8 <= len(data):
        ln, typ = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + ln]
        pos += 12 + ln
        if typ == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", chunk)
        elif typ == b"IDAT":
            idat.append(chunk)
        elif typ == b"IEND":
            break
    if not hdr:
        raise Fail("PNG without IHDR")
    w, h, depth, ctype, _, _, interlace = hdr
    bpp = {2: 3, 6: 4}.get(ctype)
    if depth != 8 or not bpp or interlace:
        raise Fail("unexpected PNG format: depth %d colour type %d interlace %d"
                   % (depth, ctype, interlace))
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    if len(raw) != h * (stride + 1):
        raise Fail("PNG data is %d bytes, want %d" % (len(raw), h * (stride + 1)))
    hi = int.from_bytes(b"\x80" * stride, "little")
    lo = int.from_bytes(b"\x7f" * stride, "little")
    prev = bytearray(stride)
    colours = set()
    for y in range(h):
        off = y * (stride + 1)
        ft = raw[off]
        cur = bytearray(raw[off + 1:off + 1 + stride])
        if ft == 1:  # Sub
            for i in range(bpp, stride):
                cur[i] = (cur[i] + cur[i - bpp]) & 255
        elif ft == 2:  # Up: bytewise add of two rows without carries, as one big int
            a = int.from_bytes(cur, "little")
            b = int.from_bytes(prev, "little")
            cur = bytearray((((a & lo) + (b & lo)) ^ ((a ^ b) & hi)).to_bytes(stride, "little"))
        elif ft == 3:  # Average
            for i in range(stride):
                left = cur[i - bpp] if i >= bpp else 0
                cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 255
        elif ft == 4:  # Paeth
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        elif ft != 0:
            raise Fail("PNG row %d has filter type %d" % (y, ft))
        if bpp == 4:
            colours.update(memoryview(cur).cast("I"))
        else:
            colours.update(bytes(cur[i:i + 3]) for i in range(0, stride, 3))
        prev = cur
    return w, h, len(colours)


# ---------------------------------------------------------------- flame

FRAMES_JS = "return window.stackdFlame.frames();"


def drawn_named(drv, name):
    return [f for f in drv.js(FRAMES_JS) if f["name"] == name and not f["ancestor"]]


def scroll_to_frame(drv, f):
    """Scroll so that frame @f is mid-viewport; returns its centre in viewport coordinates."""
    return drv.js("""
        var f = arguments[0], c = document.getElementById('canvas');
        var r = c.getBoundingClientRect();
        window.scrollBy(0, r.top + f.y + f.h / 2 - window.innerHeight / 2);
        r = c.getBoundingClientRect();
        var x = r.left + f.x + Math.min(f.w / 2, 40), y = r.top + f.y + f.h / 2;
        var at = document.elementFromPoint(x, y);
        return [x, y, at === c, at ? at.tagName + '#' + at.id : 'nothing'];""", f)


def pointer(drv, x, y, click):
    acts = [{"type": "pointerMove", "duration": 0, "origin": "viewport",
             "x": int(round(x)), "y": int(round(y))}]
    if click:
        acts += [{"type": "pointerDown", "button": 0}, {"type": "pause", "duration": 30},
                 {"type": "pointerUp", "button": 0}]
    drv.cmd("POST", "/actions", {"actions": [{
        "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
        "actions": acts}]})


def timeline_drag(drv, t_from, t_to, shift):
    """Drag the mouse across the timeline from time t_from to t_to (Unix seconds),
    holding shift (the page's compare gesture) when asked."""
    pos = drv.js("""
        var c = document.getElementById('timeline'), r, t = window.stackdFlame.timeline();
        c.scrollIntoView({block: 'center'});
        r = c.getBoundingClientRect();
        function x(s) { return r.left + 1 + (s - t.t0) / (t.t1 - t.t0) * t.width; }
        return [x(arguments[0]), x(arguments[1]), r.top + r.height / 2];""", t_from, t_to)
    say("%sdrag on the timeline from x=%.0f to x=%.0f at y=%.0f"
        % ("shift-" if shift else "", pos[0], pos[1], pos[2]))
    y = int(round(pos[2]))
    # Each source's nth action runs in the nth tick: shift is held over the whole drag.
    sources = [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                "actions": [
                    {"type": "pointerMove", "duration": 0, "origin": "viewport",
                     "x": int(round(pos[0])), "y": y},
                    {"type": "pointerDown", "button": 0},
                    {"type": "pointerMove", "duration": 150, "origin": "viewport",
                     "x": int(round(pos[1])), "y": y},
                    {"type": "pointerUp", "button": 0}, {"type": "pause", "duration": 0}]}]
    if shift:
        sources.insert(0, {"type": "key", "id": "kbd", "actions": [
            {"type": "keyDown", "value": "\ue008"}, {"type": "pause", "duration": 0},
            {"type": "pause", "duration": 0}, {"type": "pause", "duration": 0},
            {"type": "keyUp", "value": "\ue008"}]})
    drv.cmd("POST", "/actions", {"actions": sources})


def wait_for(drv, script, timeout, *args):
    t0 = time.monotonic()
    while True:
        v = drv.js(script, *args)
        if v or time.monotonic() - t0 > timeout:
            return v
        time.sleep(0.05)


def cmd_flame(drv, a):
    url = to_url(a.url)
    say("url: %s" % url)
    render_ms, page_ms = load(drv, url, a.timeout)
    info = drv.js("return window.stackdFlame.info();")
    say("rendered: yes (layout+draw %.1f ms; drawn %.1f ms after navigation start)"
        % (render_ms, page_ms))
    say("graph: %d nodes, %d names, %d samples, max depth %d; %d frames drawn on a %dx%d canvas"
        % (info["nodes"], info["names"], info["total"], info["maxDepth"], info["drawn"],
           info["width"], info["height"]))
    if info["total"] <= 0 or info["drawn"] < 1:
        raise Fail("the page drew no frame (total %s, drawn %s)" % (info["total"], info["drawn"]))

    res = drv.js("return performance.getEntriesByType('resource').map(function (e) "
                 "{ return e.name; });")
    say("resources loaded from the network: %d" % len(res))
    if res:
        raise Fail("the page is not self-contained: it loaded %s" % ", ".join(res[:5]))
    errs = console_errors(drv)
    if errs is None:
        say("console errors: (browser log not available)")
    else:
        say("console errors: %d" % len(errs))
        if errs:
            raise Fail("the page logged errors: %s" % " | ".join(errs[:5]))

    if a.expect:
        fs = drawn_named(drv, a.expect)
        if not fs:
            raise Fail("no frame named %r is drawn" % a.expect)
        share = drv.js("return window.stackdFlame.share(arguments[0]);", a.expect)
        w = max(fs, key=lambda f: f["w"])
        say("frame %s: %d drawn, widest %.1f px at depth %d (%d samples); share %.2f%% of total"
            % (a.expect, len(fs), w["w"], w["depth"], w["total"], share))
        if a.min_share is not None and share < a.min_share:
            raise Fail("%s has %.2f%% of the samples, want >= %g%%" % (a.expect, share, a.min_share))

    if a.screenshot:
        screenshot(drv, a.screenshot, "screenshot")

    if a.search is not None:
        pct = drv.js("return window.stackdFlame.search(arguments[0]);", a.search)
        shown = drv.js("return document.getElementById('matched').textContent;")
        hl = drv.js("return window.stackdFlame.frames().length;")
        say("search %s: matched %.2f%% of total (#matched: %r; %d frames drawn)"
            % (a.search, pct, shown, hl))
        if not shown.startswith("matched: "):
            raise Fail("#matched does not show the match: %r" % shown)
        if a.min_matched is not None and pct < a.min_matched:
            raise Fail("search %s matched %.2f%%, want >= %g%%" % (a.search, pct, a.min_matched))

    if a.click:
        fs = drawn_named(drv, a.click)
        if not fs:
            raise Fail("no frame named %r to click" % a.click)
        f = max(fs, key=lambda f: f["w"])
        x, y, on_canvas, at = scroll_to_frame(drv, f)
        if not on_canvas:
            raise Fail("frame %s at (%.0f, %.0f) is covered by %s" % (a.click, x, y, at))
        pointer(drv, x, y, False)
        tip = wait_for(drv, "var t = document.getElementById('tip');"
                       "return t.hidden ? '' : t.textContent;", 2)
        say("hover %s at (%d, %d): tooltip %r" % (a.click, x, y, (tip or "")[:160]))
        if not tip or a.click not in tip:
            raise Fail("hovering %s shows no tooltip naming it (got %r)" % (a.click, tip))
        pointer(drv, x, y, True)
        z = wait_for(drv, "var z = window.stackdFlame.zoomed();"
                     "return z.name === arguments[0] ? z : null;", 2, a.click)
        if not z:
            raise Fail("clicking %s did not zoom to it (zoomed: %r)"
                       % (a.click, drv.js("return window.stackdFlame.zoomed();")))
        width = drv.js("return window.stackdFlame.info().width;")
        zf = [g for g in drawn_named(drv, a.click) if g["depth"] == z["depth"]]
        if not zf:
            raise Fail("after the click, %s is not drawn at depth %d" % (a.click, z["depth"]))
        g = zf[0]
        say("click %s: zoomed (depth %d, %d samples); it now spans x=%.1f..%.1f of %d px (%.1f%%)"
            % (a.click, z["depth"], z["total"], g["x"], g["x"] + g["w"], width,
               100.0 * g["w"] / width))
        if abs(g["x"]) > 0.5 or abs(g["w"] - width) > 0.5:
            raise Fail("the zoomed frame %s spans %.1f..%.1f, not the full width %d"
                       % (a.click, g["x"], g["x"] + g["w"], width))
    if a.final_screenshot:
        screenshot(drv, a.final_screenshot, "final screenshot")
    say("OK")


def screenshot(drv, path, what):
    """The viewport, scrolled to the bottom of the canvas (the root), checked to show a drawing."""
    drv.js("var c = document.getElementById('canvas').getBoundingClientRect();"
           "window.scrollBy(0, c.bottom - window.innerHeight + 8);")
    png = base64.b64decode(drv.cmd("GET", "/screenshot"))
    Path(path).write_bytes(png)
    t0 = time.monotonic()
    w, h, ncol = png_stats(png)
    say("%s: %s (%d bytes, %dx%d, %d distinct colours, decoded in %.1f s)"
        % (what, path, len(png), w, h, ncol, time.monotonic() - t0))
    if len(png) < 8 * 1024:
        raise Fail("%s is only %d bytes: nothing drawn?" % (what, len(png)))
    if ncol < 16:
        raise Fail("%s has %d distinct colours: nothing drawn?" % (what, ncol))


def finish(drv, shot):
    """The page logged no error; its screenshot (the viewport as it is) into @shot if given."""
    errs = console_errors(drv)
    if errs:
        raise Fail("the page logged errors: %s" % " | ".join(errs[:5]))
    if shot:
        png = base64.b64decode(drv.cmd("GET", "/screenshot"))
        Path(shot).write_bytes(png)
        say("screenshot: %s (%d bytes)" % (shot, len(png)))
    say("OK")


def cmd_timeline(drv, a):
    url = to_url(a.url)
    say("url: %s" % url)
    load(drv, url, a.timeout)
    tl = drv.js("return window.stackdFlame.timeline();")
    if not tl or tl["points"] < 2:
        raise Fail("no timeline with two windows or more on the page: %r" % tl)
    vis = drv.js("var b = document.getElementById('timeline-box');"
                 "return !b.hidden && b.getBoundingClientRect().height > 30;")
    say("timeline: %s, %d windows, %.3f..%.3f drawn %d px wide, selected %.3f..%.3f; visible: %s"
        % (tl["type"], tl["points"], tl["t0"], tl["t1"], tl["width"], tl["from"], tl["to"], vis))
    if not vis:
        raise Fail("the timeline is not visible")
    nav0 = drv.js("return performance.getEntriesByType('navigation').length + ':' + "
                  "performance.timeOrigin;")
    if a.drag:
        timeline_drag(drv, a.t_from, a.t_to, False)
    else:
        drv.js("window.stackdFlame.select(arguments[0], arguments[1]);", a.t_from, a.t_to)
    t0 = time.monotonic()
    st = wait_for(drv, "var b = document.body.dataset;"
                  "return b.selecting === '0' || b.selecting === 'error' ? "
                  "[b.selecting, b.selection || ''] : null;", a.timeout)
    if not st or st[0] != "0":
        raise Fail("the selection did not redraw: %r (status %r)" % (
            st, drv.js("return document.getElementById('status').textContent;")))
    say("selected %s, redrawn in %.0f ms (fetch + draw, measured from here); select-ms %s "
        "(the page's own, request to drawing: response, body parsed, parts applied, rest: %s)"
        % (st[1], 1000 * (time.monotonic() - t0), drv.js("return document.body.dataset.selectMs;"),
           drv.js("return document.body.dataset.selectSteps || '';")))
    if drv.js("return performance.getEntriesByType('navigation').length + ':' + "
              "performance.timeOrigin;") != nav0:
        raise Fail("the page was reloaded")
    search = drv.js("return location.search;")
    say("location: %s" % search)
    q = dict(kv.split("=", 1) for kv in search.lstrip("?").split("&") if "=" in kv)
    lo, hi = st[1].split("-")
    if q.get("start") != lo or q.get("end") != hi or "seconds" in q or "format" in q:
        raise Fail("the URL does not keep the selection %s-%s: %s" % (lo, hi, search))
    # Snapped to the nearest window boundaries: within a window of what was asked.
    w = drv.js("var t = window.stackdFlame.timeline(); return (t.t1 - t.t0) / t.points;")
    if abs(float(lo) - a.t_from) > w or abs(float(hi) - a.t_to) > w:
        raise Fail("selected %s-%s, asked for %.3f-%.3f (windows of %.1f s)"
                   % (lo, hi, a.t_from, a.t_to, w))
    info = drv.js("return window.stackdFlame.info();")
    title = drv.js("return document.getElementById('subtitle').textContent;")
    say("graph now: %d samples, %d frames drawn; subtitle %r" % (info["total"], info["drawn"], title))
    if a.expect:
        fs = drawn_named(drv, a.expect)
        share = drv.js("return window.stackdFlame.share(arguments[0]);", a.expect)
        say("frame %s: %d drawn, share %.2f%%" % (a.expect, len(fs), share))
        if not fs:
            raise Fail("after the selection no frame named %r is drawn" % a.expect)
    if a.absent:
        share = drv.js("return window.stackdFlame.share(arguments[0]);", a.absent)
        say("frame %s: share %.2f%% (want 0)" % (a.absent, share))
        if share > 0:
            raise Fail("after the selection %s is still in the graph (%.2f%%)" % (a.absent, share))
    if a.keys:
        step = drv.js("var t = window.stackdFlame.timeline(); return [t.from, t.to];")
        drv.js("document.getElementById('timeline').focus();")
        drv.cmd("POST", "/actions", {"actions": [{
            "type": "key", "id": "kbd",
            "actions": [{"type": "keyDown", "value": "\ue014"}, {"type": "keyUp", "value": "\ue014"}]}]})
        moved = wait_for(drv, "var t = window.stackdFlame.timeline(), b = document.body.dataset;"
                         "return b.selecting === '0' && t.from > arguments[0] ? [t.from, t.to] : null;",
                         a.timeout, step[0])
        say("arrow right on the timeline: %r -> %r" % (step, moved))
        w = drv.js("var t = window.stackdFlame.timeline(); return (t.t1 - t.t0) / t.points;")
        if (not moved or abs((moved[1] - moved[0]) - (step[1] - step[0])) > 0.1 * w
                or abs(moved[0] - step[0] - w) > 0.25 * w):
            raise Fail("the right arrow key did not move the selection by a window: %r -> %r"
                       % (step, moved))
    if a.base_from is not None:
        if a.drag:
            timeline_drag(drv, a.base_from, a.base_to, True)
        else:
            drv.js("window.stackdFlame.compare(arguments[0], arguments[1]);",
                   a.base_from, a.base_to)
        st = wait_for(drv, "var b = document.body.dataset;"
                      "return (b.selecting === '0' && b.base) || b.selecting === 'error' ? "
                      "[b.selecting, b.base || ''] : null;", a.timeout)
        if not st or st[0] != "0":
            raise Fail("the comparison did not redraw: %r (status %r)" % (
                st, drv.js("return document.getElementById('status').textContent;")))
        q = drv.js("return location.search;")
        rows = drv.js("return Array.prototype.map.call(document.querySelectorAll('#top-diff tbody tr'),"
                      "function (r) { return [r.className, r.cells[1].textContent, r.cells[5].textContent]; });")
        say("compared with %s; location %s; title %r" % (
            st[1], q, drv.js("return document.getElementById('top-title').textContent;")))
        for r in rows if len(rows) <= 8 else rows[:4] + rows[-4:]:
            say("  change: %s" % (r,))
        if "base=" not in q:
            raise Fail("the URL does not keep the base: %s" % q)
        if a.grew:
            ch = drv.js("return window.stackdFlame.change(arguments[0]);", a.grew)
            say("frame %s: %r" % (a.grew, ch))
            if not ch or ch["points"] < 50 or not ch["color"].startswith("rgb(255,"):
                raise Fail("%s is not coloured as grown: %r" % (a.grew, ch))
            if not rows or rows[0][1] != a.grew or rows[0][0] != "grew":
                raise Fail("the table does not list %s first as grown: %r" % (a.grew, rows[:3]))
        if a.shrank:
            if not [r for r in rows if r[1] == a.shrank and r[0] == "shrank"]:
                raise Fail("the table does not list %s as shrunk" % a.shrank)
            if rows[-1][1] != a.shrank:
                raise Fail("%s is not the most shrunk (last row: %r)" % (a.shrank, rows[-1]))
    if a.sum_from is not None:
        sums = drv.js("var f = window.stackdFlame;"
                      "return [f.timelineSeconds(arguments[0], arguments[1], 'all'),"
                      "        f.timelineSeconds(arguments[0], arguments[1], 'sel')];",
                      a.sum_from, a.sum_to)
        say("timeline-seconds: %.6f %.6f" % (sums[0], sums[1]))
    finish(drv, a.screenshot)


def cmd_page(drv, a):
    url = to_url(a.url)
    w, h = (int(x) for x in a.window.split("x"))
    drv.cmd("POST", "/window/rect", {"width": w, "height": h})
    drv.cmd("POST", "/url", {"url": url})
    ok = wait_for(drv, "return document.readyState === 'complete' && (!document.getElementById("
                  "'stackd-data') || document.body.dataset.rendered === '1');", a.timeout)
    if not ok:
        raise Fail("the page did not load (or draw) within %g s" % a.timeout)
    size = drv.js("return [window.innerWidth, document.documentElement.scrollWidth,"
                  " document.title];")
    say("page %r at %s: viewport %d px wide, content %d px" % (size[2], a.window, size[0], size[1]))
    if size[1] > size[0] + 1:
        raise Fail("the page is %d px wide in a %d px viewport: it scrolls sideways"
                   % (size[1], size[0]))
    if a.tab_to:
        found = None
        for i in range(60):
            drv.cmd("POST", "/actions", {"actions": [{"type": "key", "id": "kbd", "actions": [
                {"type": "keyDown", "value": "\ue004"}, {"type": "keyUp", "value": "\ue004"}]}]})
            el = drv.js("var e = document.activeElement; return e ? [e.tagName, "
                        "(e.textContent || '') + ' ' + (e.getAttribute('aria-label') || '') + ' ' +"
                        " (e.getAttribute('title') || '') + ' ' + (e.labels && e.labels.length ? "
                        "e.labels[0].textContent : '')] : null;")
            if el and a.tab_to in el[1]:
                found = (i + 1, el)
                break
        if not found:
            raise Fail("Tab never reached a control about %r" % a.tab_to)
        say("Tab x%d reaches %s %r" % (found[0], found[1][0], found[1][1].strip()[:80]))
        if found[1][0] == "TD":
            name = drv.js("return document.activeElement.textContent;")
            drv.cmd("POST", "/actions", {"actions": [{"type": "key", "id": "kbd", "actions": [
                {"type": "keyDown", "value": "\ue007"}, {"type": "keyUp", "value": "\ue007"}]}]})
            z = wait_for(drv, "var z = window.stackdFlame.zoomed();"
                         "return z.name === arguments[0] ? z : null;", 2, name)
            say("Enter on %r: zoomed to %r" % (name, z))
            if not z:
                raise Fail("Enter on the table's %r did not zoom the graph to it" % name)
    finish(drv, a.screenshot)


def cmd_render_time(drv, a):
    url = to_url(a.url)
    say("url: %s" % url)
    renders, pages = [], []
    for i in range(a.runs):
        r, p = load(drv, url, a.timeout)
        renders.append(r)
        pages.append(p)
        say("run %d: layout+draw %.1f ms, drawn %.1f ms after navigation start" % (i + 1, r, p))
    info = drv.js("return window.stackdFlame.info();")
    say("graph: %d nodes, %d names, %d samples, max depth %d; %d frames drawn"
        % (info["nodes"], info["names"], info["total"], info["maxDepth"], info["drawn"]))
    say("render-time: median %.1f ms layout+draw, median %.1f ms from navigation start "
        "(%d runs; min %.1f, max %.1f ms)"
        % (statistics.median(renders), statistics.median(pages), a.runs, min(renders),
           max(renders)))
    say("OK")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--chromedriver",
                    default=os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
                    or "/usr/bin/chromedriver")
    ap.add_argument("--timeout", type=float, default=20.0,
                    help="seconds to wait for the page to draw (20)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("flame", help="load a flame graph page and check it")
    f.add_argument("url", help="URL, or a file to load as file://")
    f.add_argument("--expect", metavar="NAME", help="a frame that must be drawn")
    f.add_argument("--min-share", type=float, metavar="PCT", help="NAME's share must be >= PCT")
    f.add_argument("--screenshot", metavar="OUT.png")
    f.add_argument("--search", metavar="REGEX")
    f.add_argument("--min-matched", type=float, metavar="PCT")
    f.add_argument("--click", metavar="NAME", help="hover and click this frame, check the zoom")
    f.add_argument("--final-screenshot", metavar="OUT.png",
                   help="a second screenshot after the search and the click")
    t = sub.add_parser("timeline", help="select a range on a page's timeline and check the redraw")
    t.add_argument("url")
    t.add_argument("--from", dest="t_from", type=float, required=True, metavar="T0")
    t.add_argument("--to", dest="t_to", type=float, required=True, metavar="T1")
    t.add_argument("--drag", action="store_true", help="select with the mouse, not the page's API")
    t.add_argument("--expect", metavar="NAME")
    t.add_argument("--absent", metavar="NAME")
    t.add_argument("--keys", action="store_true", help="check the arrow keys move the selection")
    t.add_argument("--base-from", type=float, help="then compare with [BASE_FROM, BASE_TO)")
    t.add_argument("--base-to", type=float)
    t.add_argument("--grew", metavar="NAME", help="with --base-from: coloured grown, listed first")
    t.add_argument("--shrank", metavar="NAME", help="with --base-from: listed last, as shrunk")
    t.add_argument("--sum-from", type=float)
    t.add_argument("--sum-to", type=float)
    t.add_argument("--screenshot", metavar="OUT.png")
    g = sub.add_parser("page", help="load a page at a window size: fits, keyboard, screenshot")
    g.add_argument("url")
    g.add_argument("--window", default="1280x800", metavar="WxH")
    g.add_argument("--screenshot", metavar="OUT.png")
    g.add_argument("--tab-to", metavar="TEXT")
    r = sub.add_parser("render-time", help="median time to draw the page")
    r.add_argument("url")
    r.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    if a.cmd == "render-time" and a.runs < 1:
        ap.error("--runs must be >= 1")

    for what, path in (("chromium", a.chromium), ("chromedriver", a.chromedriver)):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            print("browser.py: %s not found at %s (Debian: apt-get install chromium "
                  "chromium-driver)" % (what, path), file=sys.stderr)
            return EXIT_MISSING
    drv = None
    try:
        drv = Driver(a.timeout)
        drv.start(a.chromium, a.chromedriver)
        if a.cmd == "flame":
            cmd_flame(drv, a)
        elif a.cmd == "timeline":
            cmd_timeline(drv, a)
        elif a.cmd == "page":
            cmd_page(drv, a)
        else:
            cmd_render_time(drv, a)
        return 0
    except Fail as e:
        print("FAIL: %s" % e, file=sys.stderr)
        return EXIT_FAIL
    except (WebDriverError, OSError) as e:
        print("FAIL: WebDriver: %s%s" % (e, (" (" + drv.log_tail() + ")") if drv else ""),
              file=sys.stderr)
        return EXIT_FAIL
    finally:
        if drv:
            drv.close()


if __name__ == "__main__":
    sys.exit(main())
