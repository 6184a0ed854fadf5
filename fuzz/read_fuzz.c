/*
 * read_fuzz.c — libFuzzer target for the profile reader: any byte string
 * given to pprof_profile_parse must give a profile or an error, never a
 * crash, leak or out-of-bounds access (run under ASan). A parsed profile is
 * walked through every id reference, as `mapprof top` would, and encoded
 * again, to exercise what the reader promises about its output.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pprof/pprof.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pprof_read_options opt = {.alloc = NULL, .max_size = 8 << 20};
    pprof_profile *p;
    pprof_error err;
    if (pprof_profile_parse(data, size, &opt, &p, &err) != 0)
        return 0;
    const pprof_pb_profile *m = pprof_profile_msg(p);
    size_t sum = 0;
    for (size_t i = 0; i < m->n_sample; i++) {
        const pprof_pb_sample *s = m->sample[i];
        for (size_t j = 0; j < s->n_location_id; j++) {
            const pprof_pb_location *l = pprof_profile_location(p, s->location_id[j]);
            const pprof_pb_mapping *mp = pprof_profile_mapping(p, l->mapping_id);
            if (mp)
                sum += strlen(pprof_profile_str(p, mp->filename));
            for (size_t k = 0; k < l->n_line; k++) {
                const pprof_pb_function *f = pprof_profile_function(p, l->line[k]->function_id);
                sum += strlen(pprof_profile_str(p, f->name));
            }
        }
        for (size_t j = 0; j < m->n_sample_type; j++)
            sum += (size_t)s->value[j];
    }
    (void)pprof_profile_sample_index(p, NULL);
    uint8_t *out;
    size_t n;
    if (pprof_profile_encode(p, (sum & 1) != 0, &out, &n, &err) == 0)
        pprof_profile_release_bytes(p, out, n);
    pprof_profile_free(p);
    return 0;
}
