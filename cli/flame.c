/*
 * flame.c — a flame graph as one self-contained SVG file: the stacks
 * merged into a tree from the root, each frame a rectangle as wide as its
 * value (width = value / total x the image's width), children above their
 * parent in name order, ancestors below. An embedded script (no external
 * file) zooms into a frame on click and highlights the frames matching a
 * regex typed into the search prompt, with their share of the total.
 *
 * Invariants: every frame's rectangle carries data-v (its value) and the
 * root's total is in the svg's data-total, so a reader can check widths;
 * names are XML-escaped; the output depends only on the stacks (children
 * sorted by name, colours hashed from names). Non-goals: icicle layout,
 * differential colouring, a frame per address or per line.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH  1200.0
#define ROW    17
#define TOP    50 /* title and controls */
#define BOTTOM 24 /* the matched-share line */

typedef struct fnode {
    uint32_t name;
    int64_t value;
    struct fnode *child, *next; /* children as a list, sorted before drawing */
} fnode;

static fnode *child_of(fnode *parent, uint32_t name) {
    for (fnode *c = parent->child; c; c = c->next)
        if (c->name == name)
            return c;
    fnode *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->name = name;
    c->next = parent->child;
    parent->child = c;
    return c;
}

static void free_tree(fnode *n) {
    while (n) {
        fnode *next = n->next;
        free_tree(n->child);
        free(n);
        n = next;
    }
}

static const cli_names *sort_names;

static int cmp_child(const void *x, const void *y) {
    const fnode *a = *(fnode *const *)x, *b = *(fnode *const *)y;
    return strcmp(sort_names->name[a->name], sort_names->name[b->name]);
}

/* Children in name order (flamegraph.pl's alphabetical merge). */
static int sort_children(fnode *n) {
    size_t k = 0;
    for (fnode *c = n->child; c; c = c->next)
        k++;
    if (k > 1) {
        fnode **v = malloc(k * sizeof *v);
        if (!v)
            return -ENOMEM;
        k = 0;
        for (fnode *c = n->child; c; c = c->next)
            v[k++] = c;
        qsort(v, k, sizeof *v, cmp_child);
        for (size_t i = 0; i < k; i++)
            v[i]->next = i + 1 < k ? v[i + 1] : NULL;
        n->child = v[0];
        free(v);
    }
    for (fnode *c = n->child; c; c = c->next)
        if (sort_children(c) < 0)
            return -ENOMEM;
    return 0;
}

static int depth_of(const fnode *n) {
    int d = 0;
    for (const fnode *c = n->child; c; c = c->next) {
        int cd = depth_of(c);
        if (cd > d)
            d = cd;
    }
    return d + 1;
}

static void xml_text(FILE *f, const char *s, size_t max) {
    size_t n = strlen(s);
    bool cut = n > max;
    for (size_t i = 0; i < (cut ? (max > 2 ? max - 2 : 0) : n); i++) {
        switch (s[i]) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc((unsigned char)s[i] < 0x20 ? '?' : s[i], f);
        }
    }
    if (cut && max > 2)
        fputs("..", f);
}

static uint32_t name_hash(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

typedef struct draw {
    FILE *f;
    const cli_names *names;
    int64_t total;
    int height;
    const char *unit;
} draw;

static void draw_node(const draw *d, const fnode *n, int64_t x0, int depth) {
    int64_t x = x0;
    for (const fnode *c = n->child; c; c = c->next) {
        double px = (double)x / (double)d->total * WIDTH;
        double w = (double)c->value / (double)d->total * WIDTH;
        int y = d->height - BOTTOM - (depth + 1) * ROW;
        const char *name = d->names->name[c->name];
        uint32_t h = name_hash(name);
        fprintf(d->f, "<g class=\"f\" data-x=\"%lld\" data-v=\"%lld\" data-d=\"%d\"><title>",
                (long long)x, (long long)c->value, depth);
        xml_text(d->f, name, SIZE_MAX);
        fprintf(d->f, " (%lld %s, %.2f%%)</title>", (long long)c->value, d->unit,
                100.0 * (double)c->value / (double)d->total);
        fprintf(d->f,
                "<rect x=\"%.4f\" y=\"%d\" width=\"%.4f\" height=\"%d\" "
                "fill=\"rgb(%u,%u,%u)\" rx=\"2\"/><text x=\"%.2f\" y=\"%d\">",
                px, y, w, ROW - 1, 205 + h % 50, 80 + (h >> 8) % 130, 40 + (h >> 16) % 55,
                px + 3, y + ROW - 5);
        xml_text(d->f, name, w > 24 ? (size_t)((w - 6) / 7) : 0);
        fputs("</text></g>\n", d->f);
        draw_node(d, c, x, depth + 1);
        x += c->value;
    }
}

/* The viewer: zoom by click, reset, search. Reads only the data-*
 * attributes the frames carry. */
static const char *const script =
    "<script type=\"text/ecmascript\"><![CDATA[\n"
    "'use strict';\n"
    "const W = 1200, svg = document.documentElement;\n"
    "const frames = Array.from(document.querySelectorAll('g.f'));\n"
    "function box(g) { return {x: +g.dataset.x, v: +g.dataset.v, d: +g.dataset.d}; }\n"
    "function place(g, x, w) {\n"
    "  const r = g.querySelector('rect'), t = g.querySelector('text');\n"
    "  r.setAttribute('x', x); r.setAttribute('width', w); t.setAttribute('x', x + 3);\n"
    "  const name = g.querySelector('title').textContent.replace(/ \\([^()]*\\)$/, '');\n"
    "  const fit = Math.floor((w - 6) / 7);\n"
    "  t.textContent = w < 24 ? '' : name.length <= fit ? name : name.slice(0, fit - 2) + "
    "'..';\n"
    "  g.style.display = w <= 0 ? 'none' : '';\n"
    "}\n"
    "function zoom(z) {\n"
    "  for (const g of frames) {\n"
    "    const b = box(g);\n"
    "    if (b.d < z.d && b.x <= z.x && b.x + b.v >= z.x + z.v) place(g, 0, W);\n"
    "    else if (b.d >= z.d && b.x >= z.x && b.x + b.v <= z.x + z.v)\n"
    "      place(g, (b.x - z.x) / z.v * W, b.v / z.v * W);\n"
    "    else place(g, 0, 0);\n"
    "  }\n"
    "  document.getElementById('reset').style.opacity = 1;\n"
    "}\n"
    "function reset() {\n"
    "  const total = +svg.dataset.total;\n"
    "  for (const g of frames) { const b = box(g); place(g, b.x / total * W, b.v / total * W); }\n"
    "  document.getElementById('reset').style.opacity = 0.3;\n"
    "}\n"
    "function search() {\n"
    "  const re = window.prompt('Search frames (regular expression)', '');\n"
    "  if (re === null) return;\n"
    "  let rx; try { rx = new RegExp(re); } catch (e) { return; }\n"
    "  const total = +svg.dataset.total, spans = [];\n"
    "  for (const g of frames) {\n"
    "    const name = g.querySelector('title').textContent.replace(/ \\([^()]*\\)$/, '');\n"
    "    const hit = re !== '' && rx.test(name);\n"
    "    g.querySelector('rect').classList.toggle('hit', hit);\n"
    "    if (hit) spans.push(box(g));\n"
    "  }\n"
    "  spans.sort((a, b) => a.x - b.x || b.v - a.v);\n"
    "  let covered = 0, end = -1;\n"
    "  for (const s of spans) if (s.x >= end) { covered += s.v; end = s.x + s.v; }\n"
    "  document.getElementById('matched').textContent = re === '' ? '' :\n"
    "    'Matched: ' + (100 * covered / total).toFixed(2) + '%';\n"
    "}\n"
    "for (const g of frames) g.addEventListener('click', () => zoom(box(g)));\n"
    "document.getElementById('reset').addEventListener('click', reset);\n"
    "document.getElementById('search').addEventListener('click', search);\n"
    "svg.dataset.ready = '1';\n"
    "]]></script>\n";

int cli_flame_write(FILE *f, const cli_stack *stacks, size_t n, const cli_names *names,
                    const char *title, const char *unit) {
    fnode root = {0};
    for (size_t i = 0; i < n; i++) {
        if (stacks[i].value <= 0)
            continue; /* a flame graph draws positive values */
        root.value += stacks[i].value;
        fnode *at = &root;
        for (int j = stacks[i].n - 1; j >= 0 && at; j--) {
            at = child_of(at, stacks[i].frames[j]);
            if (at)
                at->value += stacks[i].value;
        }
        if (!at) {
            free_tree(root.child);
            return -ENOMEM;
        }
    }
    sort_names = names;
    if (sort_children(&root) < 0) {
        free_tree(root.child);
        return -ENOMEM;
    }
    int rows = root.child ? depth_of(&root) - 1 : 0;
    int height = TOP + rows * ROW + BOTTOM;
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" data-total=\"%lld\" data-unit=\"",
            (int)WIDTH, height, (int)WIDTH, height, (long long)root.value);
    xml_text(f, unit, SIZE_MAX);
    fputs("\">\n<style>text{font:12px monospace;fill:#000;pointer-events:none}"
          "g.f{cursor:pointer}g.f:hover rect{stroke:#000;stroke-width:0.5}"
          "rect.hit{fill:rgb(230,0,230)}.ctl{font:14px sans-serif;fill:#004;cursor:pointer}"
          "</style>\n<rect width=\"100%\" height=\"100%\" fill=\"#f8f8f0\"/>\n"
          "<text x=\"600\" y=\"22\" text-anchor=\"middle\" style=\"font:bold 16px sans-serif\">",
          f);
    xml_text(f, title, SIZE_MAX);
    fprintf(f,
            "</text>\n<text id=\"reset\" class=\"ctl\" x=\"10\" y=\"42\" opacity=\"0.3\">Reset "
            "zoom</text>\n<text id=\"search\" class=\"ctl\" x=\"1110\" y=\"42\">Search</text>\n"
            "<text id=\"matched\" class=\"ctl\" x=\"1190\" y=\"%d\" text-anchor=\"end\"></text>\n",
            height - 6);
    if (root.value > 0) {
        draw d = {f, names, root.value, height, unit};
        draw_node(&d, &root, 0, 0);
    }
    fputs(script, f);
    fputs("</svg>\n", f);
    free_tree(root.child);
    return ferror(f) ? -EIO : 0;
}
