/*
 * evapi.c — loading libevent for the live endpoint (evapi.h says why at
 * run time): libevent_core and libevent_extra by their sonames, RTLD_NOW
 * so a missing symbol shows here and not in the server, and every
 * function the endpoint calls looked up once. Never unloaded.
 */
#define SHIM_EVAPI_LOADER
#include "shim/evapi.h"

#include <dlfcn.h>

#include "shim/shim.h"

shim_ev_fns shim_ev;

bool shim_ev_load(void) {
    static int state; /* 0 not tried, 1 loaded, -1 failed */
    if (state)
        return state > 0;
    state = -1;
    void *core = dlopen("libevent_core-2.1.so.7", RTLD_NOW | RTLD_LOCAL);
    void *extra = core ? dlopen("libevent_extra-2.1.so.7", RTLD_NOW | RTLD_LOCAL) : NULL;
    if (!extra) {
        shim_log("live endpoint: cannot load libevent (Debian packages libevent-core-2.1-7 and "
                 "libevent-extra-2.1-7): %s; no live endpoint",
                 dlerror());
        return false;
    }
#define SHIM_EV_LOOKUP(f, lib)                                                                     \
    if (!(*(void **)&shim_ev.f = dlsym(lib, #f))) {                                                \
        shim_log("live endpoint: libevent lacks %s; no live endpoint", #f);                        \
        return false;                                                                              \
    }
#define SHIM_EV_CORE_SYM(f)  SHIM_EV_LOOKUP(f, core)
#define SHIM_EV_EXTRA_SYM(f) SHIM_EV_LOOKUP(f, extra)
    SHIM_EV_CORE(SHIM_EV_CORE_SYM)
    SHIM_EV_EXTRA(SHIM_EV_EXTRA_SYM)
    state = 1;
    return true;
}
