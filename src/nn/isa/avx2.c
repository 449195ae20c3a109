/* avx2.c: the kernels compiled for the avx2 level (kernels.inc, nn/cpu.h). */
#define NN_ISA_SUFFIX avx2
#include "nn/isa/kernels.inc"
