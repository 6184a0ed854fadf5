#!/usr/bin/python3
"""HTTP clients for the live endpoint's tests (python3 standard library only).

  client.py get ADDR PATH [STATUS [TYPE_PREFIX [OUTFILE]]]
      one request; checks the status and Content-Type prefix, writes the body
  client.py validate FILE...
      Parca's server-side checks (pkg/normalizer/validate.go) on gzip'd or
      plain profile.proto files: string_table[0] == "", mapping, location
      and function ids 1..n in order, string indices in range, one value per
      sample type, nonzero location ids and label keys, functions named
  client.py scrape ADDR OUTDIR parca|alloy INTERVAL
      plays a scraper's sequence (paths, seconds=, headers, checks) once
  client.py garbage ADDR      malformed, truncated and oversized requests
  client.py slowloris ADDR N  N connections trickling a request
  client.py parallel ADDR N   N clients at once, each fetching a profile
  client.py disconnect ADDR N N clients that hang up mid-response
ADDR is HOST:PORT, [V6]:PORT or unix:PATH. Exit status 0 when every check
held; otherwise a message on stderr and status 1.
"""
import gzip
import os
import socket
import sys
import threading
import time


def die(msg):
    sys.stderr.write("client.py: %s\n" % msg)
    sys.exit(1)


def connect(addr, timeout=30):
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(addr[5:])
        return s
    if addr.startswith("["):
        host, port = addr[1:].split("]:")
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, int(port)))
    return s


def read_response(s):
    """Status, headers (lowercase keys), body of one HTTP/1.x response."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise IOError("connection closed before the headers ended: %r" % data[:200])
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(body) < n:
            chunk = s.recv(65536)
            if not chunk:
                raise IOError("short body: %d of %d" % (len(body), n))
            body += chunk
    elif headers.get("transfer-encoding") == "chunked":
        raise IOError("chunked replies are not expected")
    return status, headers, body


def request(addr, path, method="GET", body=b"", extra=None, timeout=60):
    s = connect(addr, timeout)
    hdrs = {"Host": "localhost", "Connection": "close", "Accept-Encoding": "gzip"}
    hdrs.update(extra or {})
    if body:
        hdrs["Content-Length"] = str(len(body))
    req = "%s %s HTTP/1.1\r\n" % (method, path)
    req += "".join("%s: %s\r\n" % kv for kv in hdrs.items()) + "\r\n"
    s.sendall(req.encode() + body)
    r = read_response(s)
    s.close()
    return r


# ------------------------------------------------------------ protobuf

def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def fields(b):
    """(field number, wire type, value) of one message; value is an int or bytes."""
    i = 0
    out = []
    while i < len(b):
        key, i = varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            v = b[i:i + n]
            i += n
        elif wt == 1:
            v = int.from_bytes(b[i:i + 8], "little")
            i += 8
        elif wt == 5:
            v = int.from_bytes(b[i:i + 4], "little")
            i += 4
        else:
            raise ValueError("bad wire type %d" % wt)
        out.append((f, wt, v))
    return out


def packed(v, wt):
    if wt == 0:
        return [v]
    vals, i = [], 0
    while i < len(v):
        x, i = varint(v, i)
        vals.append(x)
    return vals


def validate(data, name):
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    top = fields(data)
    strings = [v.decode() for f, wt, v in top if f == 6]
    if not strings or strings[0] != "":
        die("%s: string_table[0] is not empty" % name)
    ns = len(strings)

    def chk_str(i, what):
        if i < 0 or i >= ns:
            die("%s: %s string index %d out of range" % (name, what, i))

    ntypes = 0
    for f, wt, v in top:
        if f == 1:
            ntypes += 1
            for g, gw, x in fields(v):
                chk_str(x, "sample type")
    if ntypes == 0:
        die("%s: no sample types" % name)
    kinds = {3: "mapping", 4: "location", 5: "function"}
    ids = {3: [], 4: [], 5: []}
    for f, wt, v in top:
        if f in kinds:
            sub = fields(v)
            ident = [x for g, gw, x in sub if g == 1]
            ids[f].append(ident[0] if ident else 0)
            if f == 5:
                names = [x for g, gw, x in sub if g == 2]
                if not names or names[0] == 0:
                    die("%s: function %s has no name" % (name, ident))
                for g, gw, x in sub:
                    if g in (2, 3, 4):
                        chk_str(x, "function")
            if f == 3:
                for g, gw, x in sub:
                    if g in (5, 6):
                        chk_str(x, "mapping")
    for f, lst in ids.items():
        if lst != list(range(1, len(lst) + 1)):
            die("%s: %s ids are not 1..n in order: %s" % (name, kinds[f], lst[:10]))
    nloc = len(ids[4])
    nsamples = 0
    for f, wt, v in top:
        if f != 2:
            continue
        nsamples += 1
        locs, vals = [], []
        for g, gw, x in fields(v):
            if g == 1:
                locs += packed(x, gw)
            elif g == 2:
                vals += packed(x, gw)
            elif g == 3:
                lab = fields(x)
                key = [y for h, hw, y in lab if h == 1]
                if not key or key[0] == 0:
                    die("%s: a label has no key" % name)
                for h, hw, y in lab:
                    if h in (1, 2, 4):
                        chk_str(y, "label")
        if len(vals) != ntypes:
            die("%s: a sample has %d values for %d types" % (name, len(vals), ntypes))
        for l in locs:
            if l == 0 or l > nloc:
                die("%s: bad location id %d" % (name, l))
    return nsamples


def sample_types(data):
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    top = fields(data)
    strings = [v.decode() for f, wt, v in top if f == 6]
    out = []
    for f, wt, v in top:
        if f == 1:
            d = dict((g, x) for g, gw, x in fields(v))
            out.append((strings[d.get(1, 0)], strings[d.get(2, 0)]))
    return out


# ------------------------------------------------------------- scrapes

def scrape(addr, outdir, who, interval):
    """One round of Parca's or Alloy's scrape loop, as their code does it."""
    if who == "parca":
        # scrape_configs profiling_config.pprof_config: memory (allocs),
        # process_cpu (/profile, delta) and the README's
        # heap/mutex/block/grow/maps entries. delta: true only
        # appends seconds=<scrape_interval>; Parca does no math itself.
        jobs = [("memory", "/debug/pprof/allocs", False), ("heap", "/debug/pprof/heap", False),
                ("mutex", "/debug/pprof/mutex", False), ("block", "/debug/pprof/block", False),
                ("grow", "/debug/pprof/grow", True), ("maps", "/debug/pprof/maps", False),
                ("process_cpu", "/debug/pprof/profile", True),
                ("goroutine", "/debug/pprof/goroutine", False)]
        ua = "conprof/v0.0.0"
        seconds = interval
    else:
        # pyroscope.scrape: profile.memory/mutex/block (Alloy diffs those
        # itself), profile.process_cpu (delta) and profile.custom "grow" (delta = true: seconds =
        # interval - 1) and "maps".
        jobs = [("memory", "/debug/pprof/allocs", False), ("mutex", "/debug/pprof/mutex", False),
                ("block", "/debug/pprof/block", False), ("grow", "/debug/pprof/grow", True),
                ("maps", "/debug/pprof/maps", False), ("process_cpu", "/debug/pprof/profile", True),
                ("goroutine", "/debug/pprof/goroutine", False)]
        ua = "GrafanaAgent/v0.0.0"
        seconds = max(1, interval - 1)
    for name, path, delta in jobs:
        if delta:
            path += "?seconds=%d" % seconds
        t0 = time.time()
        st, hd, body = request(addr, path, extra={"User-Agent": ua})
        took = time.time() - t0
        if st // 100 != 2:
            die("%s %s: status %d: %r" % (who, path, st, body[:200]))
        if not body:
            die("%s %s: empty body" % (who, path))
        ctype = hd.get("content-type", "")
        if not ctype.startswith("application/octet-stream"):
            die("%s %s: Content-Type %r" % (who, path, ctype))
        if body[0] != 0x1F and body[0] & 7 not in (0, 1, 2, 5):
            die("%s %s: first byte %#x is neither gzip nor protobuf" % (who, path, body[0]))
        validate(body, "%s %s" % (who, path))
        if delta and took < seconds * 0.9:
            die("%s %s: a %d s delta came back after %.2f s" % (who, path, seconds, took))
        if who == "alloy" and name == "memory":
            t = sample_types(body)
            for want in (("alloc_objects", "count"), ("alloc_space", "bytes")):
                if want not in t:
                    die("alloy memory: Alloy diffs by sample type %s, missing from %s" % (want, t))
        if name == "process_cpu" and sample_types(body) != [("samples", "count"),
                                                             ("cpu", "nanoseconds")]:
            die("%s process_cpu: sample types %s are not Go's" % (who, sample_types(body)))
        if who == "alloy" and name in ("mutex", "block"):
            t = sample_types(body)
            if t != [("contentions", "count"), ("delay", "nanoseconds")]:
                die("alloy %s: sample types %s are not Go's" % (name, t))
        with open(os.path.join(outdir, "%s-%s.pb.gz" % (who, name)), "wb") as f:
            f.write(body)
    print("%s scrape ok: %d profiles" % (who, len(jobs)))


# ----------------------------------------------------------- hostile use

def raw(addr, data, timeout=15):
    """Send raw bytes; return the status of the reply (0: closed without one)."""
    s = connect(addr, timeout)
    try:
        s.sendall(data)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    if not got.startswith(b"HTTP/1."):
        return 0
    return int(got.split()[1])


def garbage(addr):
    cases = [
        (b"\x00\x01\x02garbage\r\n\r\n", (0, 400)),
        (b"GET /debug/pprof/heap HTTP/1.1\r\nHost: x\r\n", (0, 400)),  # truncated
        (b"GET /debug/pprof/heap", (0, 400)),
        (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n", (0, 400, 413, 414)),
        (b"GET /debug/pprof/ HTTP/1.1\r\n" + b"X-A: b\r\n" * 5000 + b"\r\n", (0, 400, 413, 431)),
        (b"POST /debug/pprof/symbol HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + b"0x1+" * 25000,
         (0, 400, 413)),
        (b"GET /debug/pprof/heap?debug=%zz HTTP/1.1\r\n\r\n", (0, 200, 400)),
        (b"BREW /debug/pprof/heap HTTP/1.1\r\n\r\n", (0, 400, 405, 501)),
        (b"DELETE /debug/pprof/heap HTTP/1.1\r\nConnection: close\r\n\r\n", (405,)),
        (b"GET /debug/pprof/../../etc/passwd HTTP/1.1\r\nConnection: close\r\n\r\n", (404, 400)),
        (b"GET /debug/pprof/heap HTTP/1.1\r\nContent-Length: -5\r\n\r\n", (0, 200, 400)),
        (b"GET /debug/pprof/heap?seconds=-1 HTTP/1.1\r\nConnection: close\r\n\r\n", (400,)),
        (b"GET /debug/pprof/heap?seconds=99999999 HTTP/1.1\r\nConnection: close\r\n\r\n", (400,)),
        (b"GET /debug/pprof/maps?seconds=1 HTTP/1.1\r\nConnection: close\r\n\r\n", (400,)),
        (b"GET /debug/pprof/heap?seconds=1&debug=1 HTTP/1.1\r\nConnection: close\r\n\r\n", (400,)),
        (b"GET /debug/pprof/nonexistent HTTP/1.1\r\nConnection: close\r\n\r\n", (404,)),
    ]
    for data, ok in cases:
        st = raw(addr, data)
        if st not in ok:
            die("request %r: status %d, expected one of %s" % (data[:60], st, ok))
    # still serving
    st, hd, body = request(addr, "/debug/pprof/heap")
    if st != 200:
        die("after garbage: heap status %d" % st)
    print("garbage ok: %d requests" % len(cases))


def slowloris(addr, n):
    """n connections that send one byte every second, never finishing."""
    socks = []
    for _ in range(n):
        try:
            socks.append(connect(addr, 5))
        except OSError:
            break
    req = b"GET /debug/pprof/heap HTTP/1.1\r\nX-Slow: " + b"a" * 100
    t0 = time.time()
    dropped = 0
    i = 0
    while time.time() - t0 < 60 and dropped < len(socks):
        dropped = 0
        for s in socks:
            try:
                s.send(req[i:i + 1] if i < len(req) else b"a")
            except OSError:
                dropped += 1
        i += 1
        time.sleep(1)
    took = time.time() - t0
    for s in socks:
        s.close()
    if dropped < len(socks):
        die("slowloris: %d of %d trickling connections still open after %.0f s" %
            (len(socks) - dropped, len(socks), took))
    st, hd, body = request(addr, "/debug/pprof/heap")
    if st != 200:
        die("after slowloris: status %d" % st)
    print("slowloris ok: %d connections dropped within %.0f s" % (len(socks), took))


def parallel(addr, n):
    errors, done = [], [0]
    lock = threading.Lock()

    def one(i):
        path = ["/debug/pprof/heap", "/debug/pprof/mutex?debug=1", "/debug/pprof/",
                "/debug/pprof/maps"][i % 4]
        for attempt in range(3):
            try:
                st, hd, body = request(addr, path, timeout=120)
                if st != 200:
                    raise IOError("status %d" % st)
                with lock:
                    done[0] += 1
                return
            except Exception as e:  # refused while 16 are open: retry
                last = e
                time.sleep(0.5)
        with lock:
            errors.append("%s: %s" % (path, last))

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        die("parallel: %d of %d failed, first: %s" % (len(errors), n, errors[0]))
    print("parallel ok: %d clients" % done[0])


def disconnect(addr, n):
    """Clients that go away mid-reply. Odd ones reset the connection (the
    server's write fails with ECONNRESET); even ones pipeline two requests
    and close normally, so the first reply draws a reset from the client's
    kernel and the second write fails with EPIPE, which raises SIGPIPE."""
    for i in range(n):
        s = connect(addr, 10)
        req = b"GET /debug/pprof/heap?debug=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.sendall(req)
            s.recv(10)  # first bytes, then reset
        else:
            s.sendall(req * 3)
        s.close()
    time.sleep(0.5)
    st, hd, body = request(addr, "/debug/pprof/heap")
    if st != 200:
        die("after disconnects: status %d" % st)
    print("disconnect ok: %d clients" % n)


def main():
    a = sys.argv[1:]
    if not a:
        die(__doc__)
    cmd = a[0]
    if cmd == "get":
        addr, path = a[1], a[2]
        st, hd, body = request(addr, path)
        if len(a) > 3 and st != int(a[3]):
            die("GET %s: status %d, expected %s: %r" % (path, st, a[3], body[:300]))
        if len(a) > 4 and not hd.get("content-type", "").startswith(a[4]):
            die("GET %s: Content-Type %r, expected %s" % (path, hd.get("content-type"), a[4]))
        if len(a) > 5:
            with open(a[5], "wb") as f:
                f.write(body)
        for k in sorted(hd):
            if k not in ("date", "content-length"):
                print("%s: %s" % (k, hd[k]))
        print()
        sys.stdout.write(body.decode("utf-8", "replace") if len(a) <= 5 else "")
    elif cmd == "post":
        st, hd, body = request(a[1], a[2], method="POST", body=a[3].encode())
        print(st)
        sys.stdout.write(body.decode())
    elif cmd == "validate":
        for p in a[1:]:
            with open(p, "rb") as f:
                n = validate(f.read(), p)
            print("valid %s samples=%d" % (p, n))
    elif cmd == "scrape":
        scrape(a[1], a[2], a[3], int(a[4]))
    elif cmd == "garbage":
        garbage(a[1])
    elif cmd == "slowloris":
        slowloris(a[1], int(a[2]))
    elif cmd == "parallel":
        parallel(a[1], int(a[2]))
    elif cmd == "disconnect":
        disconnect(a[1], int(a[2]))
    else:
        die("unknown command " + cmd)


if __name__ == "__main__":
    main()
