/* machine.c: what the figures ran on (bench.h): the kernels' CPU level, the core's peak
 * multiply-add rate and the memory read bandwidth (memory.c), measured here so that each row
 * can be read against them. */
#include "bench.h"

#include "nn/cpu.h"
#include "nn/kernels.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* /proc/cpuinfo's first "model name", or "" */
static void cpu_model(char *out, size_t outsz) {
    out[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        const char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon) continue;
        snprintf(out, outsz, "%s", colon + 2);
        out[strcspn(out, "\n")] = '\0';
        break;
    }
    fclose(f);
}

/* The best of 5 runs of the level's register-resident multiply-add loop (about 40 ms each),
 * in thread CPU time: what one core can do at most, in GFLOP/s. */
static double peak_gflops(void) {
    const nn_kernel_table *k = nn_kernels();
    double best = 0;
    long iterations = 1 << 20;
    for (int run = 0; run < 5; run++) {
        double start = cpu_ms(), flops = k->fma_loop(iterations), ms = cpu_ms() - start;
        if (ms < 20 && run == 0) { /* too short to time well: longer runs */
            iterations *= 8;
            run--;
            continue;
        }
        if (ms > 0 && flops / ms / 1e6 > best) best = flops / ms / 1e6;
    }
    return best;
}

void machine_measure(machine *m) {
    const nn_cpu *cpu = nn_cpu_info();
    memset(m, 0, sizeof *m);
    snprintf(m->isa, sizeof m->isa, "%s", nn_isa_name(cpu->chosen));
    snprintf(m->best_isa, sizeof m->best_isa, "%s", nn_isa_name(cpu->best));
    snprintf(m->note, sizeof m->note, "%s", cpu->note);
    cpu_model(m->model, sizeof m->model);
    m->peak_gflops = peak_gflops();
    for (int t = 0; t < 2; t++) m->read_gbs[t] = read_bandwidth_gbs(thread_counts[t]);
}
