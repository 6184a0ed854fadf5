"""check_timeline.py DIR TRACE -- the report's timeline against its trace.

DIR/index.html must hold one <svg class="timeline"> that parses as XML; its
bars must be the trace's events: as many grow bars (g.grow) as finished
grows (X, cat map.grow), markers (g.open) as grows still evacuating (i),
lock bars (g.lock) as lock waits, each bar's data-ts/data-dur one event's
ts/dur on its thread (data-tid; a bar with data-count=N: N events of that
thread inside its span, none counted twice), each rectangle at x = left + (ts - t0) * scale and as wide as
max(1, dur * scale); a heap step line with one step per counter point when
the trace has any; a tooltip on every bar; DIR holds a byte-identical copy
of the trace. Prints "ok ..." or the first problem (exit 1).
"""
import json
import os
from collections import Counter
import re
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def fail(msg):
    print(msg)
    sys.exit(1)


def main():
    out, trace = sys.argv[1], sys.argv[2]
    with open(trace, "rb") as f:
        raw = f.read()
    doc = json.loads(raw)
    want = {"grow": [], "open": [], "lock": []}
    heap = 0
    for e in doc["traceEvents"]:
        cat, ph = e.get("cat"), e.get("ph")
        if cat == "map.grow" and ph == "X":
            want["grow"].append((e["tid"], round(e["ts"], 3), round(e["dur"], 3)))
        elif cat == "map.grow" and ph == "i":
            want["open"].append((e["tid"], round(e["ts"], 3), 0.0))
        elif cat == "lock" and ph == "X":
            want["lock"].append((e["tid"], round(e["ts"], 3), round(e["dur"], 3)))
        elif cat == "heap" and ph == "C":
            heap += 1
    copy = os.path.join(out, os.path.basename(trace))
    with open(copy, "rb") as f:
        if f.read() != raw:
            fail(f"{copy} differs from {trace}")
    with open(os.path.join(out, "index.html"), encoding="utf-8") as f:
        html = f.read()
    svgs = re.findall(r'<svg class="timeline".*?</svg>', html, re.S)
    if len(svgs) != 1:
        fail(f"{len(svgs)} timeline svgs in index.html")
    root = ET.fromstring(svgs[0])
    t0, scale = float(root.get("data-t0")), float(root.get("data-scale"))
    rows = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "row"]
    if not rows:
        fail("no rows")
    left = float(rows[0].get("x"))
    got = {"grow": [], "open": [], "lock": []}
    merged = {"grow": [], "lock": []}
    for g in root.iter(f"{SVG}g"):
        kind = g.get("class")
        if kind not in got:
            fail(f"unknown bar class {kind}")
        ts, dur = float(g.get("data-ts")), float(g.get("data-dur"))
        tid, count = int(g.get("data-tid")), int(g.get("data-count", "1"))
        if count > 1:
            merged[kind].append((tid, ts, dur, count))
        else:
            got[kind].append((tid, round(ts, 3), round(dur, 3)))
        title = g.find(f"{SVG}title")
        if title is None or not (title.text or "").strip():
            fail(f"{kind} bar at {ts} without a tooltip")
        if kind == "open":
            continue
        rect = g.find(f"{SVG}rect")
        x, w = float(rect.get("x")), float(rect.get("width"))
        if abs(x - (left + (ts - t0) * scale)) > 0.011:
            fail(f"{kind} bar at ts {ts}: x {x}, want {left + (ts - t0) * scale}")
        if abs(w - max(1.0, dur * scale)) > 0.011:
            fail(f"{kind} bar at ts {ts}: width {w}, want {max(1.0, dur * scale)}")
    for kind in want:
        rest = Counter(want[kind])
        for bar in got[kind]:
            if rest[bar] == 0:
                fail(f"{kind} bar {bar} is no event of the trace")
            rest[bar] -= 1
        # A merged bar stands for `count` events of its thread inside its span.
        for tid, ts, dur, count in merged.get(kind, []):
            inside = [e for e in rest.elements()
                      if e[0] == tid and e[1] >= ts - 1e-3 and e[1] + e[2] <= ts + dur + 5e-3]
            if len(inside) < count:
                fail(f"{kind}: a bar for {count} events at {ts}+{dur} covers {len(inside)}")
            rest.subtract(sorted(inside)[:count])
        if sum(rest.values()):
            fail(f"{kind}: {sum(rest.values())} events of the trace have no bar")
    n_merged = sum(c for k in merged for _, _, _, c in merged[k])
    lines = [p for p in root.iter(f"{SVG}polyline") if p.get("class") == "heap"]
    if heap and len(lines) != 1:
        fail(f"{heap} heap points, {len(lines)} heap lines")
    if heap and len(lines[0].get("points").split()) != 2 * heap + 1:
        fail(f"heap line has {len(lines[0].get('points').split())} vertices for {heap} points")
    if not heap and lines:
        fail("a heap line without heap points")
    ng = len(got["grow"]) + sum(c for _, _, _, c in merged["grow"])
    nl = len(got["lock"]) + sum(c for _, _, _, c in merged["lock"])
    print(f"ok {ng} grows, {len(got['open'])} open, {nl} waits, {heap} heap points, "
          f"{n_merged} events in {len(merged['grow']) + len(merged['lock'])} merged bars")


main()
