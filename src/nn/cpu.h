/* cpu.h: run-time CPU dispatch for the nn kernels (not part of the public API).
 *
 * The library's baseline is plain x86-64 (any 64-bit x86 CPU, SSE2): everything is compiled
 * for it except the kernels in src/nn/isa/, whose one source (kernels.inc) is compiled once
 * per level below with that level's flags, each copy filling one nn_kernel_table
 * (nn/kernels.h). The level is chosen once per process, on first use (thread-safe), from
 * cpuid and, for the AVX state, XGETBV (the OS must save the registers):
 *
 *   NN_ISA_GENERIC  x86-64 baseline (SSE2), or any other architecture
 *   NN_ISA_AVX2     AVX2 + FMA (+F16C), i.e. x86-64-v3
 *   NN_ISA_AVX512   AVX-512 F/BW/DQ/VL (+CD), i.e. x86-64-v4
 *
 * FACEREC_ISA=generic|avx2|avx512 in the environment asks for a level: a lower one than the
 * CPU's is taken (so the lower paths can be tested on a machine that has the higher one), a
 * higher one never (the CPU's own is used, and nn_cpu_isa_note says so), as is any other
 * value. Features that no level implies (VNNI) are reported in nn_cpu for kernels that test
 * them themselves. */
#ifndef FR_NN_CPU_H
#define FR_NN_CPU_H

typedef enum nn_isa { NN_ISA_GENERIC = 0, NN_ISA_AVX2, NN_ISA_AVX512, NN_ISA_COUNT } nn_isa;

typedef struct nn_cpu {
    nn_isa best;       /* the highest level this CPU and OS support */
    nn_isa chosen;     /* the level the kernels run at (best, or lower by FACEREC_ISA) */
    int avx512_vnni;   /* AVX512_VNNI (int8 dot products on zmm) */
    int avx_vnni;      /* AVX-VNNI (the same on ymm, VEX-encoded) */
    int avx512_bf16;   /* AVX512_BF16 */
    char note[128];    /* why FACEREC_ISA was not followed, or "" */
} nn_cpu;

/* The process's CPU description (detected once; thread-safe). */
const nn_cpu *nn_cpu_info(void);
/* The level the kernels run at: nn_cpu_info()->chosen. */
nn_isa nn_cpu_isa(void);
/* "generic", "avx2", "avx512" */
const char *nn_isa_name(nn_isa isa);

#endif
