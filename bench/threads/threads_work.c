/*
 * threads_work.c — N threads in the states a threads capture meets: two
 * running (spinning: as many as this machine's CPUs; more would only
 * measure how little CPU the capturing thread gets), the others half
 * blocked on a mutex main holds, half in read() on a pipe. Once all are
 * in place main asks the
 * shim for one dump (mapprof_dump, through dlsym) and lets them go.
 * Usage: threads_work N
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int fds[2];
static volatile int stop, ready;
static volatile uint64_t sink;

static void *worker(void *arg) {
    int i = (int)(intptr_t)arg, kind = i < 2 ? 2 : i % 2;
    __atomic_add_fetch(&ready, 1, __ATOMIC_SEQ_CST);
    if (kind == 0) {
        pthread_mutex_lock(&mu);
        pthread_mutex_unlock(&mu);
    } else if (kind == 1) {
        char c;
        (void)!read(fds[0], &c, 1);
    } else {
        while (!stop)
            sink++;
    }
    return NULL;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 100;
    if (n < 1 || n > 10000 || pipe(fds) != 0)
        return 2;
    pthread_t *t = calloc((size_t)n, sizeof *t);
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) != 0)
            return 1;
    while (ready < n)
        usleep(1000);
    usleep(200000); /* the blocked ones are blocked */
    int (*dump)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "mapprof_dump");
    int rc = dump ? dump() : -1;
    stop = 1;
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < n; i++)
        (void)!write(fds[1], "x", 1);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    printf("dump %d\n", rc);
    return 0;
}
