/* watch_exec.c: `facerec watch` runs facerec-watch, installed beside this program: the same
 * front end with live recognition, whose FFmpeg, SDL2 and espeak-ng libraries (over 200
 * shared objects) would otherwise be loaded and relocated at the start of every command. */
#include "cli.h"

int cmd_watch(int argc, char **argv) { return cli_run_beside("facerec-watch", "watch", argc, argv); }
