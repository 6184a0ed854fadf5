/*
 * units.c — values with pprof's units, both ways.
 *
 * Printing follows `go tool pprof`: bytes scale by powers of 1024 with the
 * names B, kB, MB, GB, TB; nanoseconds by 1000 with ns, us, ms, s, and hrs
 * for hours; two decimals, a trailing ".00" dropped. Parsing accepts what
 * a budget is naturally written as: the same names case-insensitively
 * (plus KiB/MiB/..., "k", "m", "g" for memory; "µs", "sec", "min", "h" for
 * time), always powers of 1024 for memory so a number read from `mapprof
 * top` means what it showed. A unit that does not fit the sample type
 * (5ms for bytes) is an error; a plain number always fits.
 */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct scale {
    const char *unit; /* the sample type's unit */
    const char *name;
    double factor;
} scale;

/* Printed names, smallest first per unit. */
static const scale shown[] = {
    {"bytes", "B", 1},
    {"bytes", "kB", 1024.0},
    {"bytes", "MB", 1048576.0},
    {"bytes", "GB", 1073741824.0},
    {"bytes", "TB", 1099511627776.0},
    {"nanoseconds", "ns", 1},
    {"nanoseconds", "us", 1e3},
    {"nanoseconds", "ms", 1e6},
    {"nanoseconds", "s", 1e9},
    {"nanoseconds", "hrs", 3600e9},
};

/* Accepted on input besides the printed names. */
static const scale extra[] = {
    {"bytes", "b", 1},
    {"bytes", "byte", 1},
    {"bytes", "bytes", 1},
    {"bytes", "k", 1024.0},
    {"bytes", "kib", 1024.0},
    {"bytes", "m", 1048576.0},
    {"bytes", "mib", 1048576.0},
    {"bytes", "g", 1073741824.0},
    {"bytes", "gib", 1073741824.0},
    {"bytes", "tib", 1099511627776.0},
    {"nanoseconds", "\xc2\xb5s", 1e3},
    {"nanoseconds", "sec", 1e9},
    {"nanoseconds", "min", 60e9},
    {"nanoseconds", "h", 3600e9},
    {"nanoseconds", "hr", 3600e9},
};

void cli_format_value(char *buf, size_t n, double v, const char *unit) {
    const char *uname = "";
    double factor = 1;
    for (size_t i = 0; i < sizeof shown / sizeof *shown; i++)
        if (!strcmp(unit, shown[i].unit) && (fabs(v) >= shown[i].factor || !*uname)) {
            uname = shown[i].name;
            factor = shown[i].factor;
        }
    char num[64];
    snprintf(num, sizeof num, "%.2f", v / factor);
    size_t len = strlen(num);
    if (len > 3 && !strcmp(num + len - 3, ".00"))
        num[len - 3] = 0;
    if (!strcmp(num, "0") || !strcmp(num, "-0"))
        snprintf(buf, n, "0");
    else
        snprintf(buf, n, "%s%s", num, uname);
}

static const scale *find_scale(const scale *t, size_t n, const char *unit, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].unit, unit) && !strcasecmp(t[i].name, name))
            return &t[i];
    return NULL;
}

int cli_parse_value(const char *s, const char *unit, int64_t *out, const char **why) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v)) {
        *why = "not a number";
        return -1;
    }
    double factor = 1;
    if (*end) {
        const scale *sc = find_scale(shown, sizeof shown / sizeof *shown, unit, end);
        if (!sc)
            sc = find_scale(extra, sizeof extra / sizeof *extra, unit, end);
        if (!sc) {
            *why = !strcmp(unit, "bytes")         ? "unknown unit for bytes (use B, kB, MB, GB, TB)"
                   : !strcmp(unit, "nanoseconds") ? "unknown unit for time (use ns, us, ms, s)"
                                                  : "this sample type takes a plain number";
            return -1;
        }
        factor = sc->factor;
    }
    double r = v * factor;
    if (r >= 9.2e18 || r <= -9.2e18) {
        *why = "out of range";
        return -1;
    }
    *out = (int64_t)llround(r);
    return 0;
}
