/* generic.c: the kernels compiled for the generic level (kernels.inc, nn/cpu.h). */
#define NN_ISA_SUFFIX generic
#include "nn/isa/kernels.inc"
