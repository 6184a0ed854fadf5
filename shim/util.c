/*
 * util.c — the shim's small primitives: the per-thread block, the
 * spinlock, the clock, 1-in-N decisions and the time-spent counter.
 *
 * The spinlock exists because the shim's locks must never go through its
 * own pthread interposers, and must work before anything is resolved; it
 * is held only for short table updates, so spinning (with sched_yield
 * after a few rounds, as 2 cores are shared) is cheaper than parking.
 * Non-goal: fairness.
 */
#include <sched.h>
#include <time.h>

#include "shim/shim.h"

__thread shim_tls shim_tls_v __attribute__((tls_model("initial-exec")));

void shim_spin_lock(shim_spin *l) {
    for (unsigned spins = 0;; spins++) {
        if (!__atomic_load_n(&l->locked, __ATOMIC_RELAXED) &&
            !__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
            return;
        if (spins >= 64)
            sched_yield();
#if defined(__x86_64__) || defined(__i386__)
        else
            __builtin_ia32_pause();
#endif
    }
}

int64_t shim_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t own_ns;

void shim_account_ns(int64_t ns) {
    __atomic_add_fetch(&own_ns, ns, __ATOMIC_RELAXED);
}

int64_t shim_own_ns(void) {
    return __atomic_load_n(&own_ns, __ATOMIC_RELAXED);
}

bool shim_one_in(uint64_t n) {
    if (n <= 1)
        return true;
    shim_sampler *s = &shim_tls_v.event;
    if (s->rng == 0)
        shim_sampler_seed(s, (uint64_t)(uintptr_t)s ^ (uint64_t)shim_now_ns(), 1);
    return shim_sampler_rand(s) % n == 0;
}
