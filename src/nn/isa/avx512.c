/* avx512.c: the kernels compiled for the avx512 level (kernels.inc, nn/cpu.h). */
#define NN_ISA_SUFFIX avx512
#include "nn/isa/kernels.inc"
