/* threads.c: the process-wide worker pool behind nn_parallel_for.
 *
 * Each nn_parallel_for call is a job on the caller's stack, listed in the pool while it has
 * unclaimed tasks. Tasks are claimed one at a time from an atomic counter by the caller and
 * by up to threads - 1 workers (the call's thread count, from the engine that runs it), so
 * several application threads, and engines with different thread counts, run jobs at once
 * (the workers spread over the listed jobs and each caller always works on its own). The
 * pool starts as many workers as the largest thread count asked for, minus one. */
#include "common/common.h"
#include "nn/nn.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 256

typedef struct pool_job {
    nn_task_fn fn;
    void *ctx;
    int n;
    atomic_int next_task;
    int helpers;     /* workers inside the job (pool.lock) */
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
    int n_workers; /* started so far; they live until the process exits */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
          NULL, NULL, 0};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static int default_threads = 1; /* set once by pool_init */

/* Set in workers, and in a caller while it runs its own tasks: nested calls run serially. */
static _Thread_local int inside_task;

static void pool_init(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
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
        if (job->helpers < job->max_helpers) return job;
    return NULL;
}

static void *worker_main(void *arg) {
    (void)arg;
    inside_task = 1;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        pool_job *job = job_wanting_help();
        if (!job) {
            pthread_cond_wait(&pool.job_listed, &pool.lock);
            continue;
        }
        job->helpers++;
        pthread_mutex_unlock(&pool.lock);
        run_tasks(job);
        pthread_mutex_lock(&pool.lock);
        unlist_job(job); /* every task is claimed: nobody else need join */
        job->helpers--;
        if (job->helpers == 0) pthread_cond_broadcast(&pool.helper_left);
    }
    return NULL;
}

/* pool.lock held. Workers block every signal, so that the application's handlers run on
 * its own threads. A worker that cannot be started just leaves more tasks to the caller. */
static void start_workers(int wanted) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (pool.n_workers < wanted) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker_main, NULL) != 0) break;
        pthread_detach(t);
        pool.n_workers++;
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

    pthread_mutex_lock(&pool.lock);
    start_workers(threads - 1);
    job.listed = 1;
    job.prev = pool.last_job;
    if (pool.last_job) pool.last_job->next = &job;
    else pool.jobs = &job;
    pool.last_job = &job;
    pthread_cond_broadcast(&pool.job_listed);
    pthread_mutex_unlock(&pool.lock);

    inside_task = 1;
    run_tasks(&job);
    inside_task = 0;

    /* Every task is claimed; wait for the helpers still running theirs. */
    pthread_mutex_lock(&pool.lock);
    unlist_job(&job);
    while (job.helpers > 0) pthread_cond_wait(&pool.helper_left, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
}
