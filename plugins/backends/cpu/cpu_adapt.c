/* The thread count under load: fewer OpenMP threads while other processes
 * keep cores busy, all of them again when the cores are free.
 *
 * A training step is dozens of short parallel regions, each ending with its
 * threads waiting for one another.  When another process takes a core, one
 * of the team waits for a time slice at every region's end while its partner
 * spins or sleeps: on 2 cores the MLP fell from ~90k to 23-43k samples/s.
 * One thread on the free core keeps more than half of the quiet speed.  So
 * every ADAPT_PERIOD (checked at the backend's calls, which a training step
 * makes many of) the machine's busy time (/proc/stat) less this process's own
 * CPU time gives the cores that others keep busy, and the team is sized to the
 * cores left.  The numerics do not depend on the thread count (cpu_gemm.c,
 * cpu_reduce.c), so the count may change between any two calls. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cpu.h"

/* Seconds between two looks at the load: long enough that /proc/stat's
   1/100 s ticks measure a core's use to about a tenth of it. */
#define ADAPT_PERIOD 0.2
/* A thread is dropped when others keep more than this much of its core
   busy, and added back when they keep less than ADAPT_ADD of it: the gap
   keeps the count from flapping on noise. */
#define ADAPT_DROP 0.5
#define ADAPT_ADD 0.25

static double adapt_clock(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return -1.0;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The machine's busy and total jiffies since boot; 0 where /proc/stat
   cannot be read. */
static int adapt_jiffies(unsigned long long *busy, unsigned long long *total)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = { 0 };
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                       &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) : 0;
    if (f)
        fclose(f);
    if (n < 5)
        return 0;
    *total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
    *busy = *total - v[3] - v[4];       /* less idle and iowait */
    return 1;
}

/* One sample into the context; 0 where the clocks or /proc/stat fail. */
static int adapt_sample(cpu_ctx *c)
{
    c->adapt_wall = adapt_clock(CLOCK_MONOTONIC);
    c->adapt_own = adapt_clock(CLOCK_PROCESS_CPUTIME_ID);
    return c->adapt_wall >= 0.0 && c->adapt_own >= 0.0 &&
           adapt_jiffies(&c->adapt_busy, &c->adapt_total);
}

void cpu_adapt_start(cpu_ctx *c)
{
    c->threads = c->max_threads;
    if (c->adapt && (c->max_threads < 2 || !adapt_sample(c)))
        c->adapt = 0;
}

void cpu_adapt(cpu_ctx *c)
{
    if (!c->adapt)
        return;
    double now = adapt_clock(CLOCK_MONOTONIC);
    if (now - c->adapt_wall < ADAPT_PERIOD)
        return;
    double wall0 = c->adapt_wall, own0 = c->adapt_own;
    unsigned long long busy0 = c->adapt_busy, total0 = c->adapt_total;
    if (!adapt_sample(c) || c->adapt_total <= total0 || c->adapt_busy < busy0) {
        c->adapt_wall = now;       /* no new ticks (or a counter went back) */
        return;
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    double cores = online < 1 ? 1.0 : (double)online;
    double busy = cores * (double)(c->adapt_busy - busy0) /
                  (double)(c->adapt_total - total0);
    double own = (c->adapt_own - own0) / (c->adapt_wall - wall0);
    double others = busy - own > 0.0 ? busy - own : 0.0;
    double left = cores - others;
    int want = c->threads;
    if (left + ADAPT_DROP < (double)c->threads)
        want = (int)(left + ADAPT_DROP);
    else if (left + ADAPT_ADD >= (double)c->threads + 1.0)
        want = (int)(left + ADAPT_ADD);
    c->threads = want < 1 ? 1 : want > c->max_threads ? c->max_threads : want;
}
