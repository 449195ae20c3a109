/* cpu.c: which kernel level this process runs (nn/cpu.h). */
#include "nn/cpu.h"
#include "facerec.h"
#include "nn/kernels.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* XCR0: the register state the OS saves on context switches. */
static unsigned long long read_xcr0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static void detect(nn_cpu *c) {
    unsigned int a, b, cx, d;
    c->best = NN_ISA_GENERIC;
    if (!__get_cpuid(1, &a, &b, &cx, &d)) return;
    int fma = (cx >> 12) & 1, osxsave = (cx >> 27) & 1, avx = (cx >> 28) & 1,
        f16c = (cx >> 29) & 1;
    if (!osxsave || !avx) return;
    unsigned long long xcr0 = read_xcr0();
    int os_ymm = (xcr0 & 0x6) == 0x6;     /* SSE and AVX state */
    int os_zmm = (xcr0 & 0xe6) == 0xe6;   /* and opmask, ZMM0-15 upper halves, ZMM16-31 */
    if (!os_ymm || __get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, cx, d);
    int avx2 = (b >> 5) & 1, bmi1 = (b >> 3) & 1, bmi2 = (b >> 8) & 1;
    int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512cd = (b >> 28) & 1,
        avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    int avx512vnni = (cx >> 11) & 1;
    unsigned int a1, b1, c1, d1;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    (void)b1, (void)c1, (void)d1;
    if (avx2 && fma && f16c && bmi1 && bmi2) c->best = NN_ISA_AVX2;
    else return;
    c->avx_vnni = (a1 >> 4) & 1;
    if (os_zmm && avx512f && avx512dq && avx512cd && avx512bw && avx512vl) {
        c->best = NN_ISA_AVX512;
        c->avx512_vnni = avx512vnni;
        c->avx512_bf16 = (a1 >> 5) & 1;
    }
}
#else
static void detect(nn_cpu *c) { c->best = NN_ISA_GENERIC; }
#endif

static nn_cpu cpu;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void cpu_init(void) {
    detect(&cpu);
    cpu.chosen = cpu.best;
    const char *env = getenv("FACEREC_ISA");
    if (!env || !*env) return;
    for (int i = 0; i < NN_ISA_COUNT; i++) {
        if (strcmp(env, nn_isa_name((nn_isa)i)) != 0) continue;
        if (i <= (int)cpu.best) cpu.chosen = (nn_isa)i;
        else
            snprintf(cpu.note, sizeof cpu.note, "FACEREC_ISA=%s ignored: this CPU has %s at most",
                     nn_isa_name((nn_isa)i), nn_isa_name(cpu.best));
        return;
    }
    snprintf(cpu.note, sizeof cpu.note,
             "FACEREC_ISA=%.40s ignored: not one of generic, avx2, avx512", env);
}

const nn_cpu *nn_cpu_info(void) {
    pthread_once(&cpu_once, cpu_init);
    return &cpu;
}

nn_isa nn_cpu_isa(void) { return nn_cpu_info()->chosen; }

const char *nn_isa_name(nn_isa isa) {
    static const char *const names[NN_ISA_COUNT] = {"generic", "avx2", "avx512"};
    return (unsigned)isa < NN_ISA_COUNT ? names[isa] : "?";
}

const nn_kernel_table *nn_kernels_for(nn_isa isa) {
    switch (isa) {
#if defined(__x86_64__)
    case NN_ISA_AVX512: return &nn_kernels_avx512;
    case NN_ISA_AVX2: return &nn_kernels_avx2;
#endif
    default: return &nn_kernels_generic;
    }
}

const nn_kernel_table *nn_kernels(void) { return nn_kernels_for(nn_cpu_isa()); }

const char *fr_kernel_level(void) { return nn_isa_name(nn_cpu_isa()); }
