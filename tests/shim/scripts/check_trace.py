#!/usr/bin/env python3
"""check_trace.py FILE...: validate mapprof timelines (<out>.<pid>.trace.json)
against the Chrome Trace Event format as ui.perfetto.dev and chrome://tracing
read it, then print one line of JSON per file with what it holds (the C tests
compare those counts with the profiles and the programs' own figures).

Format checks (each failure: one line on stderr, exit 1):
- a JSON object with "traceEvents" (a list) and "displayTimeUnit": "ns";
- every event has name, ph, pid, tid; non-metadata events have cat and a
  numeric ts >= 0; X has dur >= 0; C has numeric args; i has scope s in
  g/p/t; M is process_name, thread_name (args.name) or thread_sort_index;
- per track (pid, tid) the timestamps of X and i events never decrease in
  file order, X events nest or follow each other (no partial overlap),
  and every track with events has a thread_name;
- grows (cat map.grow): the args a grow needs, to_B >= from_B, and a
  finished grow (X) ends after it starts (dur > 0);
- counter points of one name have non-decreasing timestamps;
- otherData's totals equal the events counted.
"""
import json
import sys


PATH = ""


def fail(msg):
    print("check_trace: %s: %s" % (PATH, msg), file=sys.stderr)
    sys.exit(1)


def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check(path):
    global PATH
    PATH = path
    with open(path, "rb") as f:
        raw = f.read()
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        fail("not JSON: %s" % e)
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        fail("no traceEvents list")
    if doc.get("displayTimeUnit") != "ns":
        fail("displayTimeUnit is %r" % doc.get("displayTimeUnit"))
    named, last_ts, stacks, counters = set(), {}, {}, {}
    used = set()
    out = {"grows": 0, "grows_open": 0, "lock_waits": 0, "lock_wait_ns": 0, "heap_points": 0,
           "drop_instants": 0, "dropped_in_instants": 0, "lanes": 0, "threads": 0,
           "grow_ends": {}, "max_lock_tid_events": 0}
    per_tid_locks = {}
    lanes = set()
    heap = []
    for i, e in enumerate(doc["traceEvents"]):
        where = "event %d (%s)" % (i, json.dumps(e)[:200])
        if not isinstance(e, dict):
            fail(where + ": not an object")
        for k in ("name", "ph", "pid", "tid"):
            if k not in e:
                fail(where + ": no " + k)
        if not isinstance(e["name"], str) or not isinstance(e["pid"], int) or \
                not isinstance(e["tid"], int):
            fail(where + ": name/pid/tid of the wrong type")
        ph, track = e["ph"], (e["pid"], e["tid"])
        if ph == "M":
            if e["name"] in ("process_name", "thread_name"):
                if not isinstance(e.get("args", {}).get("name"), str):
                    fail(where + ": metadata without args.name")
                if e["name"] == "thread_name":
                    named.add(track)
                    out["threads"] += 1
            elif e["name"] == "thread_sort_index":
                if not isinstance(e.get("args", {}).get("sort_index"), int):
                    fail(where + ": sort index not an integer")
            else:
                fail(where + ": unknown metadata")
            continue
        if not isinstance(e.get("cat"), str):
            fail(where + ": no cat")
        if not num(e.get("ts")) or e["ts"] < 0:
            fail(where + ": ts missing or negative")
        ts = e["ts"]
        if ph == "C":
            args = e.get("args")
            if not isinstance(args, dict) or not args or not all(num(v) for v in args.values()):
                fail(where + ": counter without numeric args")
            key = (e["pid"], e["name"])
            if ts < counters.get(key, -1):
                fail(where + ": counter time goes back")
            counters[key] = ts
            if e["cat"] == "heap":
                out["heap_points"] += 1
                heap.append([ts, args.get("bytes")])
            continue
        if ph not in ("X", "i"):
            fail(where + ": unexpected phase " + repr(ph))
        used.add(track)
        if ts < last_ts.get(track, -1):
            fail(where + ": timestamps go back on track %r" % (track,))
        last_ts[track] = ts
        if ph == "X":
            if not num(e.get("dur")) or e["dur"] < 0:
                fail(where + ": X without dur >= 0")
            st = stacks.setdefault(track, [])
            while st and st[-1] <= ts:
                st.pop()
            end = ts + e["dur"]
            if st and end > st[-1] + 1e-3:
                fail(where + ": overlaps an enclosing event on track %r without nesting" % (track,))
            st.append(end)
        else:
            if e.get("s") not in ("g", "p", "t"):
                fail(where + ": instant without scope")
        if e["cat"] == "map.grow":
            a = e.get("args", {})
            for k in ("map", "type", "from_B", "to_B", "entries", "bytes", "end", "started_by_tid"):
                if k not in a:
                    fail(where + ": grow without args." + k)
            if a["to_B"] < a["from_B"] or (a["to_B"] == a["from_B"]) != a.get("same_size"):
                fail(where + ": from_B/to_B/same_size disagree")
            lanes.add(track)
            if ph == "X":
                if not e["dur"] > 0:
                    fail(where + ": a grow that ends before it starts")
                out["grows"] += 1
            else:
                out["grows_open"] += 1
            out["grow_ends"][a["end"]] = out["grow_ends"].get(a["end"], 0) + 1
        elif e["cat"] == "lock":
            if ph != "X" or "lock" not in e.get("args", {}):
                fail(where + ": lock wait not an X with args.lock")
            out["lock_waits"] += 1
            out["lock_wait_ns"] += round(e["dur"] * 1000)
            per_tid_locks[track] = per_tid_locks.get(track, 0) + 1
        elif e["cat"] == "mapprof":
            out["drop_instants"] += 1
            out["dropped_in_instants"] += e.get("args", {}).get("dropped", 0)
        else:
            fail(where + ": unknown category")
    for t in used:
        if t not in named:
            fail("track %r has events and no thread_name" % (t,))
    od = doc.get("otherData")
    if not isinstance(od, dict):
        fail("no otherData")
    for k, v in (("grows", out["grows"]), ("grows_evacuating", out["grows_open"]),
                 ("lock_waits", out["lock_waits"])):
        if od.get(k) != v:
            fail("otherData.%s = %r, counted %d" % (k, od.get(k), v))
    out["dropped"] = od.get("dropped_events")
    out["lanes"] = len(lanes)
    out["max_lock_tid_events"] = max(per_tid_locks.values()) if per_tid_locks else 0
    out["lock_threads"] = len(per_tid_locks)
    if len(heap) <= 100:  # the heap line itself, [ts_us, bytes], when short
        out["heap"] = heap
    print(json.dumps(out, sort_keys=True))


if len(sys.argv) < 2:
    fail("usage: check_trace.py FILE...")
for arg in sys.argv[1:]:
    check(arg)
