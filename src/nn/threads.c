/* threads.c: the process-wide worker pool behind nn_parallel_for.
 *
 * Each nn_parallel_for call is a job on the caller's stack, listed in the pool while it has
 * unclaimed tasks. Tasks are claimed one at a time from an atomic counter by the caller and
 * by up to threads - 1 workers (the call's thread count, from the engine that runs it), so
 * several application threads, and engines with different thread counts, run jobs at once
 * (the workers spread over the listed jobs and each caller always works on its own). The
 * pool starts as many workers as the largest thread count asked for, minus one.
 *
 * A network is a chain of ops of a few microseconds each, every one a call here, and waking
 * a thread asleep on a condition variable takes tens of microseconds on a virtual machine. So
 * a worker that runs out of jobs first spins for a while on the pool's job counter, and a
 * caller spins while its helpers finish their last tasks, before either sleeps (see
 * SPIN_NS). Nobody spins once the workers are as many as the cores (with a caller, more
 * threads than cores), where a spinner would hold the core that the thread it waits for
 * needs. */
#include "common/common.h"
#include "nn/nn.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define MAX_THREADS 256

/* How long an idle worker watches for a new job, and a caller for its helpers to finish,
 * before sleeping: a few times the cost of a wake-up (tens of microseconds here), so that
 * the gaps between the ops of a network (microseconds) cost no wake-up at all, while an
 * idle pool burns at most this much of a core after its last job, then sleeps. */
#define SPIN_NS 100000
#define LOCK_TRIES 100 /* pauses: some microseconds at most (see pool_lock) */

typedef struct pool_job {
    nn_task_fn fn;
    void *ctx;
    int n;
    atomic_int next_task;
    /* workers inside the job: changed under pool.lock; once the job is unlisted its caller
     * reads it without the lock, so a worker touches the job no more after its decrement */
    atomic_int helpers;
    int max_helpers; /* the call's threads - 1 */
    int listed;      /* still in pool.jobs (pool.lock) */
    struct pool_job *prev, *next;
} pool_job;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t job_listed;  /* workers wait here for work */
    pthread_cond_t helper_left; /* callers wait here for their helpers to finish */
    pool_job *jobs;             /* listed jobs, oldest first */
    pool_job *last_job;
    atomic_uint listings;       /* jobs listed so far (wrapping): what spinning workers watch */
    int sleeping_workers;       /* on job_listed (pool.lock) */
    int sleeping_callers;       /* on helper_left (pool.lock) */
    atomic_int n_workers; /* started so far (under pool.lock); they live until the process exits */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
          NULL, NULL, 0, 0, 0, 0};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static int default_threads = 1; /* set once by pool_init */
static int online_cores = 1;    /* set once by pool_init */

/* Set in workers, and in a caller while it runs its own tasks: nested calls run serially. */
static _Thread_local int inside_task;

static void pool_init(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    online_cores = (int)FR_CLAMP(n, 1, MAX_THREADS);
    const char *env = getenv("FACEREC_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v > 0) n = v;
    }
    default_threads = (int)FR_CLAMP(n, 1, MAX_THREADS);
}

int nn_default_threads(void) {
    pthread_once(&pool_once, pool_init);
    return default_threads;
}

int nn_resolve_threads(int threads) {
    return threads > 0 ? FR_MIN(threads, MAX_THREADS) : nn_default_threads();
}

static void run_tasks(pool_job *job) {
    for (;;) {
        int i = atomic_fetch_add(&job->next_task, 1);
        if (i >= job->n) return;
        job->fn(job->ctx, i);
    }
}

/* A bounded busy wait: call spin_more in the loop that polls; it pauses and returns 0 once
 * SPIN_NS have passed, or at once when the workers are as many as the cores. */
typedef struct spinner {
    int64_t deadline; /* 0: not read yet */
    unsigned polls;
} spinner;

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int spin_more(spinner *s) {
    if (s->polls++ % 32) { /* the clock only every 32 polls: one read costs tens of pauses */
        cpu_relax();
        return 1;
    }
    if (s->deadline == 0) {
        if (atomic_load_explicit(&pool.n_workers, memory_order_relaxed) >= online_cores) return 0;
        s->deadline = now_ns() + SPIN_NS;
        return 1;
    }
    return now_ns() < s->deadline;
}

/* The pool's critical sections are a few list operations, so a thread that finds the lock
 * taken tries again a while before blocking on it, which would cost it a futex wait and the
 * holder a wake-up (pthread mutexes block at once). */
static void pool_lock(void) {
    for (int i = 0; i < LOCK_TRIES; i++) {
        if (pthread_mutex_trylock(&pool.lock) == 0) return;
        cpu_relax();
    }
    pthread_mutex_lock(&pool.lock);
}

/* pool.lock held */
static void unlist_job(pool_job *job) {
    if (!job->listed) return;
    if (job->prev) job->prev->next = job->next;
    else pool.jobs = job->next;
    if (job->next) job->next->prev = job->prev;
    else pool.last_job = job->prev;
    job->listed = 0;
}

/* pool.lock held: the oldest listed job that takes another helper, or NULL */
static pool_job *job_wanting_help(void) {
    for (pool_job *job = pool.jobs; job; job = job->next)
        if (atomic_load_explicit(&job->helpers, memory_order_relaxed) < job->max_helpers)
            return job;
    return NULL;
}

static void *worker_main(void *arg) {
    (void)arg;
    inside_task = 1;
    int spun = 0; /* since the last job or wake-up */
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        pool_job *job = job_wanting_help();
        if (!job && !spun) { /* watch for a new listing a while, then look again */
            unsigned seen = atomic_load_explicit(&pool.listings, memory_order_relaxed);
            pthread_mutex_unlock(&pool.lock);
            spinner s = {0, 0};
            while (atomic_load_explicit(&pool.listings, memory_order_relaxed) == seen &&
                   spin_more(&s)) {
            }
            pool_lock();
            spun = 1;
            continue;
        }
        spun = 0;
        if (!job) {
            pool.sleeping_workers++;
            pthread_cond_wait(&pool.job_listed, &pool.lock);
            pool.sleeping_workers--;
            continue;
        }
        atomic_fetch_add_explicit(&job->helpers, 1, memory_order_relaxed);
        pthread_mutex_unlock(&pool.lock);
        run_tasks(job);
        pool_lock();
        unlist_job(job); /* every task is claimed: nobody else need join */
        /* the last touch of the job (release: it publishes this worker's results to a
         * caller that reads 0 without the lock) */
        if (atomic_fetch_sub_explicit(&job->helpers, 1, memory_order_release) == 1 &&
            pool.sleeping_callers > 0)
            pthread_cond_broadcast(&pool.helper_left);
    }
    return NULL;
}

/* pool.lock held. Workers block every signal, so that the application's handlers run on
 * its own threads. A worker that cannot be started just leaves more tasks to the caller. */
static void start_workers(int wanted) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (atomic_load_explicit(&pool.n_workers, memory_order_relaxed) < wanted) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker_main, NULL) != 0) break;
        pthread_detach(t);
        atomic_fetch_add_explicit(&pool.n_workers, 1, memory_order_relaxed);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void nn_parallel_for(int threads, int n, nn_task_fn fn, void *ctx) {
    if (n <= 0) return;
    threads = FR_CLAMP(threads, 1, MAX_THREADS);
    if (n == 1 || threads == 1 || inside_task) {
        for (int i = 0; i < n; i++) fn(ctx, i);
        return;
    }
    pool_job job = {.fn = fn, .ctx = ctx, .n = n, .max_helpers = FR_MIN(threads - 1, n - 1)};
    atomic_init(&job.next_task, 0);
    atomic_init(&job.helpers, 0);

    pool_lock();
    start_workers(threads - 1);
    job.listed = 1;
    job.prev = pool.last_job;
    if (pool.last_job) pool.last_job->next = &job;
    else pool.jobs = &job;
    pool.last_job = &job;
    atomic_fetch_add_explicit(&pool.listings, 1, memory_order_relaxed);
    if (pool.sleeping_workers > 0) pthread_cond_broadcast(&pool.job_listed);
    pthread_mutex_unlock(&pool.lock);

    inside_task = 1;
    run_tasks(&job);
    inside_task = 0;

    /* Every task is claimed: unlisted, the job takes no more helpers. Wait for those still
     * running theirs (acquire: their results are then visible here). */
    pool_lock();
    unlist_job(&job);
    pthread_mutex_unlock(&pool.lock);
    spinner s = {0, 0};
    while (atomic_load_explicit(&job.helpers, memory_order_acquire) > 0 && spin_more(&s)) {
    }
    if (atomic_load_explicit(&job.helpers, memory_order_acquire) == 0) return;
    pthread_mutex_lock(&pool.lock);
    pool.sleeping_callers++;
    while (atomic_load_explicit(&job.helpers, memory_order_relaxed) > 0)
        pthread_cond_wait(&pool.helper_left, &pool.lock);
    pool.sleeping_callers--;
    pthread_mutex_unlock(&pool.lock);
}
