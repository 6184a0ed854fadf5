/*
 * flame.c — a flame graph as one self-contained SVG file: the stacks
 * merged into a tree from the root, each frame a rectangle as wide as its
 * value (width = value / total x the image's width), children above their
 * parent in name order, ancestors below. Frames narrower than MIN_PX are
 * not drawn (their value stays in their parent's width), so a profile of
 * 100,000 stacks stays a file a browser opens. The tree is built from the
 * stacks sorted root first by name: consecutive stacks share their common
 * prefix, so building is linear in the frames. An embedded script (no external
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
#define MIN_PX 0.1

typedef struct fnode {
    uint32_t name;
    int64_t value;
    struct fnode *child, *last, *next; /* children in name order */
} fnode;

static fnode *new_child(fnode *parent, uint32_t name) {
    fnode *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->name = name;
    if (parent->last)
        parent->last->next = c;
    else
        parent->child = c;
    parent->last = c;
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
static const cli_stack *sort_stacks;

/* Root-first name order of two stacks (frames are leaf first). */
static int cmp_root_first(const void *x, const void *y) {
    const cli_stack *a = &sort_stacks[*(const size_t *)x], *b = &sort_stacks[*(const size_t *)y];
    for (int i = a->n - 1, j = b->n - 1; i >= 0 && j >= 0; i--, j--)
        if (a->frames[i] != b->frames[j]) {
            int c = strcmp(sort_names->name[a->frames[i]], sort_names->name[b->frames[j]]);
            if (c)
                return c;
        }
    return a->n - b->n;
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

void cli_xml_text(FILE *f, const char *s, size_t max) {
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
    for (const fnode *c = n->child; c; x += c->value, c = c->next) {
        double px = (double)x / (double)d->total * WIDTH;
        double w = (double)c->value / (double)d->total * WIDTH;
        if (w < MIN_PX)
            continue;
        int y = d->height - BOTTOM - (depth + 1) * ROW;
        const char *name = d->names->name[c->name];
        uint32_t h = name_hash(name);
        fprintf(d->f, "<g class=\"f\" data-x=\"%lld\" data-v=\"%lld\" data-d=\"%d\"><title>",
                (long long)x, (long long)c->value, depth);
        cli_xml_text(d->f, name, SIZE_MAX);
        fprintf(d->f, " (%lld %s, %.2f%%)</title>", (long long)c->value, d->unit,
                100.0 * (double)c->value / (double)d->total);
        fprintf(d->f,
                "<rect x=\"%.4f\" y=\"%d\" width=\"%.4f\" height=\"%d\" "
                "fill=\"rgb(%u,%u,%u)\" rx=\"2\"/><text x=\"%.2f\" y=\"%d\">",
                px, y, w, ROW - 1, 205 + h % 50, 80 + (h >> 8) % 130, 40 + (h >> 16) % 55, px + 3,
                y + ROW - 5);
        cli_xml_text(d->f, name, w > 24 ? (size_t)((w - 6) / 7) : 0);
        fputs("</text></g>\n", d->f);
        draw_node(d, c, x, depth + 1);
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
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    sort_names = names;
    sort_stacks = stacks;
    qsort(order, n, sizeof *order, cmp_root_first);
    fnode *path[CLI_CLUSTER_MAX_DEPTH + 1] = {&root};
    const cli_stack *prev = NULL;
    for (size_t o = 0; o < n; o++) {
        const cli_stack *s = &stacks[order[o]];
        if (s->value <= 0)
            continue;   /* a flame graph draws positive values */
        int common = 0; /* frames shared with the previous stack, from the root */
        while (prev && common < s->n && common < prev->n &&
               s->frames[s->n - 1 - common] == prev->frames[prev->n - 1 - common])
            common++;
        root.value += s->value;
        for (int j = 0; j < s->n; j++) {
            if (j >= common && !(path[j + 1] = new_child(path[j], s->frames[s->n - 1 - j]))) {
                free(order);
                free_tree(root.child);
                return -ENOMEM;
            }
            path[j + 1]->value += s->value;
        }
        prev = s;
    }
    free(order);
    int rows = root.child ? depth_of(&root) - 1 : 0;
    int height = TOP + rows * ROW + BOTTOM;
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" data-total=\"%lld\" data-unit=\"",
            (int)WIDTH, height, (int)WIDTH, height, (long long)root.value);
    cli_xml_text(f, unit, SIZE_MAX);
    fputs("\">\n<style>text{font:12px monospace;fill:#000;pointer-events:none}"
          "g.f{cursor:pointer}g.f:hover rect{stroke:#000;stroke-width:0.5}"
          "rect.hit{fill:rgb(230,0,230)}.ctl{font:14px sans-serif;fill:#004;cursor:pointer}"
          "</style>\n<rect width=\"100%\" height=\"100%\" fill=\"#f8f8f0\"/>\n"
          "<text x=\"600\" y=\"22\" text-anchor=\"middle\" style=\"font:bold 16px sans-serif\">",
          f);
    cli_xml_text(f, title, SIZE_MAX);
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
