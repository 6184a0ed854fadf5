"""check_report.py DIR KIND=TOTAL... -- external checks of a mapprof report.

clusters.csv is read with Python's csv module (RFC 4180) and every kind's
cluster values must add up to the total given; each KIND.folded must add up
to it too; each KIND.flame.svg must parse as XML, and every frame's
rectangle must be data-v / data-total of the image's width. Prints "ok" or
the first problem, exits 1 on a problem.
"""
import csv
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def fail(msg):
    print(msg)
    sys.exit(1)


def main():
    out = sys.argv[1]
    want = dict(a.split("=") for a in sys.argv[2:])
    with open(f"{out}/clusters.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    got = {}
    for r in rows:
        got[r["kind"]] = got.get(r["kind"], 0) + int(r["value"])
        if int(r["members"]) < 1 or not r["stack"]:
            fail(f"bad row {r}")
    for kind, total in want.items():
        total = int(total)
        if total == 0:
            if kind in got:
                fail(f"{kind}: rows for an empty profile")
            continue
        if got.get(kind) != total:
            fail(f"{kind}: clusters add up to {got.get(kind)}, profile total {total}")
        folded = 0
        with open(f"{out}/{kind}.folded") as f:
            for line in f:
                stack, value = line.rstrip("\n").rsplit(" ", 1)
                if not stack:
                    fail(f"{kind}.folded: empty stack")
                folded += int(value)
        if folded != total:
            fail(f"{kind}.folded adds up to {folded}, not {total}")
        root = ET.parse(f"{out}/{kind}.flame.svg").getroot()
        svg_total = int(root.get("data-total"))
        width = float(root.get("width"))
        if svg_total != total:
            fail(f"{kind}.flame.svg: data-total {svg_total}, not {total}")
        frames = root.findall(f"{SVG}g")
        if not frames:
            fail(f"{kind}.flame.svg: no frames")
        for g in frames:
            rect = g.find(f"{SVG}rect")
            expect = int(g.get("data-v")) / svg_total * width
            if abs(float(rect.get("width")) - expect) > 1e-3:
                fail(f"{kind}: frame width {rect.get('width')}, value says {expect}")
    print("ok")


main()
