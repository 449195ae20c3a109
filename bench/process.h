/* process.h: running another program (the PyTorch peer) and reading what it prints. */
#ifndef FR_BENCH_PROCESS_H
#define FR_BENCH_PROCESS_H

/* Run argv[0] (looked up on PATH) with argv; stderr is discarded when quiet. With `output`,
 * stdout is captured into a malloc'd NUL-terminated buffer, else discarded. Returns the exit
 * status, or -1 if the program could not be run or did not exit normally. */
int process_run(char *const argv[], int quiet, char **output);

#endif
