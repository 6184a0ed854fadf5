/*
 * mapprof.h — the public API of libmapprof.so, for programs that want to
 * steer the profiler they run under. Everything else happens without code
 * changes (LD_PRELOAD and MAPPROF_* variables).
 *
 * A program should not link against libmapprof.so: it is preloaded or not.
 * Look the functions up at run time so the program runs the same without
 * the profiler:
 *
 *     int (*dump)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "mapprof_dump");
 *     if (dump != NULL)
 *         dump();
 */
#ifndef MAPPROF_H
#define MAPPROF_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Write every enabled profile now, as a periodic dump does, to
 * <MAPPROF_OUT>.<pid>.<kind>.pb.gz (replacing the previous files of this
 * process atomically; the exit dump replaces them again). Blocks until the
 * files are written. Thread-safe; not async-signal-safe (use MAPPROF_SIGNAL
 * for signals). errno is preserved.
 * Returns 0 when every enabled profile was written, -1 when the profiler is
 * not active in this process (static binary, disabled, already finished,
 * a vfork child) or a file could not be written (a `mapprof:` line on
 * stderr says why).
 */
int mapprof_dump(void);

#ifdef __cplusplus
}
#endif

#endif
