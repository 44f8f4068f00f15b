/* The thread count under load: fewer OpenMP threads while other processes
 * keep cores busy, all of them again when the cores are free.
 *
 * A training step is dozens of short parallel regions, each ending with its
 * threads waiting for one another.  When another process takes a core, one
 * of the team waits for a time slice at every region's end while its partner
 * spins or sleeps: on 2 cores the MLP fell from ~90k to 23-43k samples/s.
 * One thread on the free core keeps more than half of the quiet speed; but
 * under a load spread over every core (builds, another training) more
 * threads get more of the machine's time.  So every ADAPT_PERIOD (checked at
 * each gemm, which a training step makes several of) the busy time of the
 * CPUs this process may use (/proc/stat) less its own CPU time gives the
 * cores others keep busy, and the team is sized to the cores they leave,
 * unless the machine is quiet or shared out so thinly that each thread gets
 * under half a core (then every thread).  CPU time integrates over the whole
 * period, so this is steadier than a period's training speed, which on a
 * loaded machine varied tenfold from one 0.2 s period to the next.
 * The numerics do not depend on the thread count (cpu_gemm.c cuts by the CPU
 * count; cpu_reduce.c's pieces have fixed sizes), so the count may change
 * between any two calls without changing a bit. */
#define _GNU_SOURCE                     /* sched_getaffinity, CPU_ISSET */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpu.h"

/* Seconds between two looks at the load: long enough that /proc/stat's
   1/100 s ticks measure a core's use to about a tenth of it. */
#define ADAPT_PERIOD 0.2
/* The machine is quiet while other processes keep less than this much of a
   core busy: then every thread runs. */
#define ADAPT_QUIET 0.3
/* When each thread gets less than this share of a core, every core is
   shared out between many processes (builds, another training): the
   scheduler gives each thread its share, so every thread runs.  (With a
   core of two taken by a busy loop, two threads get 0.5 to 0.75 of a core
   each, one thread a whole one.) */
#define ADAPT_SHARE 0.4
/* Otherwise the team is sized to the cores others leave: a thread is
   dropped when fewer than threads - ADAPT_DROP cores are left, and added
   back when threads + 1 - ADAPT_ADD are; the gap keeps the count from
   flapping on noise.  The scheduler shares a taken core between its two
   threads, so a busy loop on one core of two shows as only half a core
   taken while two threads run: ADAPT_DROP must stay below that. */
#define ADAPT_DROP 0.3
#define ADAPT_ADD 0.25

static double adapt_clock(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return -1.0;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Adds one /proc/stat line "cpuN user nice system idle iowait ..." to the
   sums when CPU N is in the mask; the total line "cpu ..." is skipped. */
static void adapt_line(const char *line, const cpu_set_t *mask, unsigned long long *busy,
                       unsigned long long *total, int *cpus)
{
    unsigned long long v[8] = { 0 };
    int id;
    if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &id, &v[0], &v[1],
               &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 6 ||
        id < 0 || id >= CPU_SETSIZE || !CPU_ISSET(id, mask))
        return;
    unsigned long long t = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
    *total += t;
    *busy += t - v[3] - v[4];           /* less idle and iowait */
    ++*cpus;
}

/* The busy and total jiffies since boot of the CPUs this process may run
   on (its affinity mask: under taskset or a container's cpuset, other CPUs'
   load does not matter), and how many they are; 0 where /proc/stat or the
   mask cannot be read.  read(2) into the stack, not stdio: it runs inside
   the training step loop, which allocates nothing. */
static int adapt_jiffies(unsigned long long *busy, unsigned long long *total, int *cpus)
{
    cpu_set_t mask;
    if (sched_getaffinity(0, sizeof mask, &mask) != 0)
        return 0;
    int fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[4096];
    size_t have = 0;
    int more = 1;
    *busy = *total = 0;
    *cpus = 0;
    while (more) {
        ssize_t got = read(fd, buf + have, sizeof buf - 1 - have);
        if (got <= 0)
            break;
        have += (size_t)got;
        buf[have] = '\0';
        char *line = buf, *nl;
        while (more && (nl = strchr(line, '\n')) != NULL) {
            *nl = '\0';
            more = strncmp(line, "cpu", 3) == 0;    /* the cpu lines come first */
            if (more)
                adapt_line(line, &mask, busy, total, cpus);
            line = nl + 1;
        }
        have = (size_t)(buf + have - line);
        if (have == sizeof buf - 1)
            break;                      /* a line longer than the buffer */
        memmove(buf, line, have);
    }
    close(fd);
    return *cpus > 0;
}

/* One sample into the context; 0 where the clocks or /proc/stat fail. */
static int adapt_sample(cpu_ctx *c, int *cpus)
{
    c->adapt_wall = adapt_clock(CLOCK_MONOTONIC);
    c->adapt_own = adapt_clock(CLOCK_PROCESS_CPUTIME_ID);
    return c->adapt_wall >= 0.0 && c->adapt_own >= 0.0 &&
           adapt_jiffies(&c->adapt_busy, &c->adapt_total, cpus);
}

void cpu_adapt_start(cpu_ctx *c)
{
    int cpus;
    c->threads = c->max_threads;
    if (c->adapt && (c->max_threads < 2 || !adapt_sample(c, &cpus)))
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
    int cpus;
    if (!adapt_sample(c, &cpus) || c->adapt_total <= total0 || c->adapt_busy < busy0) {
        c->adapt_wall = now;       /* no new ticks, a counter went back, the mask changed */
        return;
    }
    double wall = c->adapt_wall - wall0;
    double busy = (double)cpus * (double)(c->adapt_busy - busy0) /
                  (double)(c->adapt_total - total0);
    double own = (c->adapt_own - own0) / wall;
    double others = busy - own, left = (double)cpus - others;
    int want = c->threads;
    if (others < ADAPT_QUIET || own < ADAPT_SHARE * (double)c->threads)
        want = c->max_threads;     /* quiet, or every core shared out */
    else if (left + ADAPT_DROP < (double)c->threads)
        want = (int)(left + ADAPT_DROP);
    else if (left + ADAPT_ADD >= (double)c->threads + 1.0)
        want = (int)(left + ADAPT_ADD);
    c->threads = want < 1 ? 1 : want > c->max_threads ? c->max_threads : want;
}
