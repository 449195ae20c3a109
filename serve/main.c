/* main.c: facerec-serve [options] (also `facerec serve`), and `facerec-serve keys ...`
 * (`facerec serve-keys`): options, loading the engine and the gallery once, the page's files,
 * the daemon and its workers, and a clean stop on SIGTERM or SIGINT. */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *usage =
    "usage: facerec serve [options]\n"
    "An HTTP service over the gallery: our JSON API, CompreFace's REST API and a web page\n"
    "(docs/API.md). Requests need an API key: facerec serve-keys add --role admin.\n\n"
    "  --listen HOST:PORT  address to listen on (default 127.0.0.1:8080; [::1]:8080 for IPv6)\n"
    "  --db DB             gallery: a SQLite file, or a PostgreSQL URI postgresql://... that\n"
    "                      several servers can share (default: $FACEREC_DB, else facerec.db)\n"
    "  --workers N         worker threads running the networks, 1 to 256 (default: the cores)\n"
    "  --queue N           requests that may wait for a worker, 1 to 100000; more get 503\n"
    "                      (default 4 x workers)\n"
    "  --max-upload SIZE   largest request body, e.g. 20M, 512K (default 20M)\n"
    "  --max-pixels N      largest image, width x height (default 40000000)\n"
    "  --timeout S         per request: upload, waiting and idle time limit, 1 to 86400\n"
    "                      (default 30)\n"
    "  --tls-cert FILE     serve HTTPS with this PEM certificate ...\n"
    "  --tls-key FILE      ... and this PEM private key\n"
    "  --fpir R            identification: strangers named as someone (default 0.01)\n"
    "  --far R             verification: false-accept rate (default 0.001)\n"
    "  --web DIR           the web page's files (default: installed, else the source tree)\n"
    "  --models DIR, --detector NAME, --model NAME, --no-flip, --min-score S: as for identify\n";

/* A bad option value: the option, the value and what it wants, as the CLI's usage errors.
 * Returns 0. */
static int option_error(const char *option, const char *arg, const char *want) {
    fprintf(stderr, "facerec serve: %s: '%s' is not %s\n(see 'facerec serve --help')\n", option, arg,
            want);
    return 0;
}

/* A whole number in [lo, hi], the whole string (no sign of overflow, no spaces); 0 after the
 * error is printed. */
static int whole_option(const char *option, const char *arg, long long lo, long long hi,
                        long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (end == arg || isspace((unsigned char)arg[0]) || *end || errno == ERANGE || v < lo || v > hi) {
        char want[96];
        snprintf(want, sizeof want, "a whole number in [%lld, %lld]", lo, hi);
        return option_error(option, arg, want);
    }
    *out = v;
    return 1;
}

static int int_option(const char *option, const char *arg, int lo, int hi, int *out) {
    long long v;
    if (!whole_option(option, arg, lo, hi, &v)) return 0;
    *out = (int)v;
    return 1;
}

/* A finite number in (lo, hi] (lo_open) or [lo, hi], the whole string; 0 after the error. */
static int real_option(const char *option, const char *arg, double lo, int lo_open, double hi,
                       double *out) {
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    /* strtod takes "nan", "inf" and overflows to HUGE_VAL: finiteness is checked too */
    if (end == arg || isspace((unsigned char)arg[0]) || *end || errno == ERANGE || !isfinite(v) ||
        (lo_open ? !(v > lo) : !(v >= lo)) || !(v <= hi)) {
        char want[96];
        snprintf(want, sizeof want, "a number in %c%g, %g]", lo_open ? '(' : '[', lo, hi);
        return option_error(option, arg, want);
    }
    *out = v;
    return 1;
}

/* A byte count: a number with an optional K, M or G (powers of 1024), 1 byte to 1e12. */
static int size_option(const char *option, const char *arg, size_t *out) {
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    double unit = 1;
    if (end != arg && (*end == 'K' || *end == 'k')) unit = 1024, end++;
    else if (end != arg && (*end == 'M' || *end == 'm')) unit = 1024 * 1024, end++;
    else if (end != arg && (*end == 'G' || *end == 'g')) unit = 1024.0 * 1024 * 1024, end++;
    if (end == arg || isspace((unsigned char)arg[0]) || *end || errno == ERANGE || !isfinite(v) ||
        !(v * unit >= 1) || v * unit > 1e12)
        return option_error(option, arg, "a size from 1 byte to 1e12 (e.g. 20M, 512K)");
    *out = (size_t)(v * unit);
    return 1;
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" into a socket address. */
static int parse_listen(const char *text, struct sockaddr_storage *addr, serve_options *o) {
    const char *colon = strrchr(text, ':');
    if (!colon) return 0;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || !isdigit((unsigned char)colon[1]) || *end || errno == ERANGE ||
        port < 0 || port > 65535)
        return 0;
    size_t len = (size_t)(colon - text);
    if (len >= sizeof o->host) return 0;
    memcpy(o->host, text, len);
    o->host[len] = '\0';
    o->port = (int)port;
    memset(addr, 0, sizeof *addr);
    char host[256];
    snprintf(host, sizeof host, "%s", o->host);
    if (host[0] == '[' && len >= 2 && host[len - 1] == ']') {
        host[len - 1] = '\0';
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)addr;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        return inet_pton(AF_INET6, host + 1, &a6->sin6_addr) == 1;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)addr;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    if (!host[0]) return (a4->sin_addr.s_addr = htonl(INADDR_ANY)), 1;
    return inet_pton(AF_INET, host, &a4->sin_addr) == 1;
}

static char *read_text_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    buffer b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (!buffer_append(&b, chunk, n)) break;
    int failed = ferror(f);
    fclose(f);
    if (failed || !b.data) {
        buffer_free(&b);
        return NULL;
    }
    if (size) *size = b.size;
    return b.data;
}

/* The page's folder shipped with this program: <prefix>/share/facerec/web relative to the
 * installed program, or the source tree's serve/web for the program in the build tree (and
 * only there, so an installed copy never falls back to a source tree). NULL if unknown. */
static const char *shipped_web_dir(char *buf, size_t size) {
    char exe[PATH_MAX], build[PATH_MAX];
    if (!realpath("/proc/self/exe", exe)) return NULL;
    char *slash = strrchr(exe, '/');
    if (!slash) return NULL;
    *slash = '\0';
    if (realpath(FACEREC_BUILD_DIR, build) && !strcmp(exe, build)) return FACEREC_WEB_SOURCE_DIR;
    if (snprintf(buf, size, "%s/%s", exe, FACEREC_WEB_FROM_BINDIR) >= (int)size) return NULL;
    return buf;
}

static void load_web(server *srv) {
    static const char *const names[3][2] = {
        {"index.html", "text/html; charset=utf-8"}, {"app.js", "text/javascript; charset=utf-8"},
        {"style.css", "text/css; charset=utf-8"}};
    char shipped[PATH_MAX];
    const char *dirs[2] = {srv->opt.web_dir, shipped_web_dir(shipped, sizeof shipped)};
    for (int d = 0; d < 2; d++) {
        if (!dirs[d]) continue;
        char path[PATH_MAX + 128];
        if (snprintf(path, sizeof path, "%s/index.html", dirs[d]) >= (int)sizeof path ||
            access(path, R_OK) != 0)
            continue;
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/%s", dirs[d], names[i][0]);
            srv->web[i].name = names[i][0];
            srv->web[i].type = names[i][1];
            srv->web[i].data = read_text_file(path, &srv->web[i].size);
        }
        return;
    }
    fprintf(stderr, "facerec serve: the web page's files are not installed (--web DIR): / answers 404\n");
}

/* The engine for the gallery's model (or the configured one for a new gallery). */
static int open_engine(server *srv) {
    fr_gallery_info info;
    fr_status st = fr_gallery_get_info(srv->gallery, &info);
    if (st == FR_OK && srv->opt.cfg.model == srv->opt.default_model && info.model[0]) {
        if (strchr(info.model, '+')) {
            fprintf(stderr, "facerec serve: %s holds embeddings of the trained model %s: give its "
                            "file with --model FILE\n", fr_gallery_path(srv->gallery), info.model);
            return 0;
        }
        srv->opt.cfg.model = info.model;
        st = fr_engine_open(&srv->opt.cfg, &srv->engine);
        srv->opt.cfg.model = srv->opt.default_model; /* info goes out of scope */
    } else if (st == FR_OK) {
        st = fr_engine_open(&srv->opt.cfg, &srv->engine);
    }
    if (st == FR_OK)
        st = fr_gallery_use_model(srv->gallery, fr_engine_model(srv->engine), fr_version(),
                                  fr_engine_dim(srv->engine));
    if (st != FR_OK) {
        fprintf(stderr, "facerec serve: %s\n", fr_last_error());
        return 0;
    }
    return 1;
}

static int parse_options(int argc, char **argv, serve_options *o, struct sockaddr_storage *addr) {
    static const struct option options[] = {
        {"listen", required_argument, 0, 'l'}, {"db", required_argument, 0, 'd'},
        {"workers", required_argument, 0, 'w'}, {"queue", required_argument, 0, 'q'},
        {"max-upload", required_argument, 0, 'u'}, {"max-pixels", required_argument, 0, 'p'},
        {"timeout", required_argument, 0, 't'}, {"tls-cert", required_argument, 0, 'c'},
        {"tls-key", required_argument, 0, 'k'}, {"fpir", required_argument, 0, 'f'},
        {"far", required_argument, 0, 'a'}, {"web", required_argument, 0, 'W'},
        {"models", required_argument, 0, 0x100}, {"detector", required_argument, 0, 0x101},
        {"model", required_argument, 0, 0x102}, {"no-flip", no_argument, 0, 0x108},
        {"min-score", required_argument, 0, 0x105}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *listen = "127.0.0.1:8080";
    int opt;
    long long pixels;
    double min_score;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'l': listen = optarg; break;
        case 'd': o->db = optarg; break;
        case 'w':
            if (!int_option("--workers", optarg, 1, 256, &o->workers)) return 0;
            break;
        case 'q':
            if (!int_option("--queue", optarg, 1, 100000, &o->queue)) return 0;
            break;
        case 'u':
            if (!size_option("--max-upload", optarg, &o->max_upload)) return 0;
            break;
        case 'p':
            if (!whole_option("--max-pixels", optarg, 1, 1000000000000LL, &pixels)) return 0;
            o->max_pixels = pixels;
            break;
        case 't':
            /* a day: the deadlines are seconds added to the clock */
            if (!int_option("--timeout", optarg, 1, 86400, &o->timeout_s)) return 0;
            break;
        case 'c': o->tls_cert = optarg; break;
        case 'k': o->tls_key = optarg; break;
        case 'f':
            if (!real_option("--fpir", optarg, 0, 1, 1, &o->fpir)) return 0;
            break;
        case 'a':
            if (!real_option("--far", optarg, 0, 1, 1, &o->far)) return 0;
            break;
        case 'W': o->web_dir = optarg; break;
        case 0x100: o->cfg.models_dir = optarg; break;
        case 0x101: o->cfg.detector = optarg; break;
        case 0x102: o->cfg.model = optarg; break;
        case 0x105:
            if (!real_option("--min-score", optarg, 0, 0, 1, &min_score)) return 0;
            o->cfg.min_score = (float)min_score;
            break;
        case 0x108: o->cfg.flip = 0; break;
        case 'h': fputs(usage, stdout); exit(0);
        default: /* getopt_long said which */
            fprintf(stderr, "(see 'facerec serve --help')\n");
            return 0;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "facerec serve: unexpected argument '%s'\n", argv[optind]);
        return 0;
    }
    if (!parse_listen(listen, addr, o))
        return option_error("--listen", listen, "HOST:PORT with a port in [0, 65535], e.g. 127.0.0.1:8080");
    if (!o->tls_cert != !o->tls_key) {
        fprintf(stderr, "facerec serve: --tls-cert and --tls-key go together\n");
        return 0;
    }
    return 1;
}

static void log_to_stderr(fr_log_level level, const char *message, void *user) {
    (void)user;
    fprintf(stderr, "facerec serve: %s%s\n", level == FR_LOG_WARN ? "warning: " : "", message);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "keys")) return serve_keys_main(argc - 1, argv + 1);
    server *srv = calloc(1, sizeof *srv);
    if (!srv) return 1;
    serve_options *o = &srv->opt;
    fr_config_init(&o->cfg);
    o->default_model = o->cfg.model;
    /* the liveness network is small (0.47 M parameters): always loaded, so any request may
     * ask for ?liveness=true; it only runs when asked */
    o->cfg.liveness = 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    o->workers = (int)cores;
    o->max_upload = 20u * 1024 * 1024;
    o->max_pixels = 40000000;
    o->timeout_s = 30;
    o->fpir = 0.01;
    o->far = 0.001;
    struct sockaddr_storage addr;
    if (!parse_options(argc, argv, o, &addr)) {
        free(srv);
        return 2;
    }
    if (!o->queue) o->queue = 4 * o->workers;
    fr_set_log(log_to_stderr, FR_LOG_WARN, NULL);
    /* workers x network threads <= cores: each call of the shared engine runs its networks
     * on cores / workers threads */
    o->cfg.threads = cores / o->workers > 1 ? (int)(cores / o->workers) : 1;

    /* SIGTERM and SIGINT are taken by sigwait below, in this thread only */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (!o->db) o->db = fr_gallery_default_path();
    fr_status st = fr_gallery_open(o->db, 1, &srv->gallery);
    if (st == FR_OK) st = fr_gallery_open(o->db, 0, &srv->keys);
    if (st != FR_OK) {
        fprintf(stderr, "facerec serve: %s\n", fr_last_error());
        return 1;
    }
    if (!open_engine(srv)) return 1;
    char *cert = NULL, *key = NULL;
    if (o->tls_cert) {
        cert = read_text_file(o->tls_cert, NULL);
        key = read_text_file(o->tls_key, NULL);
        if (!cert || !key) {
            fprintf(stderr, "facerec serve: cannot read %s: %s\n", cert ? o->tls_key : o->tls_cert, strerror(errno));
            return 1;
        }
    }
    load_web(srv);
    /* the index's load in wall time and in CPU time (only this thread runs now; on a busy
     * machine the two differ) */
    struct timespec cpu0, cpu1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
    double t_index = now_seconds();
    if (!index_open(srv)) return 1;
    t_index = now_seconds() - t_index;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
    double cpu_index = (double)(cpu1.tv_sec - cpu0.tv_sec) + (cpu1.tv_nsec - cpu0.tv_nsec) * 1e-9;
    pthread_mutex_init(&srv->gallery_lock, NULL);
    pthread_mutex_init(&srv->queue_lock, NULL);
    pthread_cond_init(&srv->queue_ready, NULL);
    pthread_cond_init(&srv->idle, NULL);
    srv->ring = calloc((size_t)o->queue, sizeof *srv->ring);
    srv->threads = calloc((size_t)o->workers, sizeof *srv->threads);
    metrics_init(&srv->m, routes_count());
    if (!srv->ring || !srv->threads || !srv->m.counts) {
        fprintf(stderr, "facerec serve: out of memory\n");
        return 1;
    }
    metrics_note_gallery(srv);
    long long n_templates = (long long)srv->m.templates; /* before the refresher may change it */
    if (!index_start_refresher(srv)) return 1;
    for (int i = 0; i < o->workers; i++) pthread_create(&srv->threads[i], NULL, serve_worker, srv);
    srv->daemon = serve_start_daemon(srv, (const struct sockaddr *)&addr, cert, key);
    if (!srv->daemon) {
        fprintf(stderr, "facerec serve: cannot listen on %s:%d (in use, or not an address of "
                        "this machine?)\n", o->host, o->port);
        return 1;
    }
    const union MHD_DaemonInfo *bound = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    uint16_t port = bound ? bound->port : (uint16_t)o->port;
    fr_api_key *keys;
    int n_keys = 0;
    if (fr_gallery_keys(srv->keys, &keys, &n_keys) == FR_OK) free(keys);
    fprintf(stderr, "facerec serve: %s (%lld templates indexed in %.2f s, %.2f s CPU) on %s://%s:%u/ "
            "(model %s, %d workers x %d threads)%s\n",
            fr_gallery_path(srv->gallery), n_templates, t_index, cpu_index,
            cert ? "https" : "http", o->host, port, fr_engine_model(srv->engine), o->workers,
            fr_engine_threads(srv->engine),
            n_keys ? "" : "; no API keys yet: facerec serve-keys add --role admin");
    fflush(stderr);

    int sig;
    sigwait(&stop_signals, &sig);
    fprintf(stderr, "facerec serve: %s: finishing the requests in progress\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    /* no new connections; requests under way are answered (up to the time limit) */
    MHD_socket listener = MHD_quiesce_daemon(srv->daemon);
    if (listener != MHD_INVALID_SOCKET) close(listener);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += o->timeout_s;
    pthread_mutex_lock(&srv->queue_lock);
    while (srv->active > 0)
        if (pthread_cond_timedwait(&srv->idle, &srv->queue_lock, &deadline) == ETIMEDOUT) break;
    srv->stopping = 1;
    pthread_cond_broadcast(&srv->queue_ready);
    pthread_mutex_unlock(&srv->queue_lock);
    for (int i = 0; i < o->workers; i++) pthread_join(srv->threads[i], NULL);
    MHD_stop_daemon(srv->daemon);
    index_stop(srv);
    fr_engine_close(srv->engine);
    fr_gallery_close(srv->gallery);
    fr_gallery_close(srv->keys);
    for (int i = 0; i < 4; i++) free(srv->web[i].data);
    free(cert);
    free(key);
    free(srv->ring);
    free(srv->threads);
    metrics_free(&srv->m);
    free(srv);
    fprintf(stderr, "facerec serve: stopped\n");
    return 0;
}
