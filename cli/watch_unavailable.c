/* watch_unavailable.c: `facerec watch` in a build without live recognition (FACEREC_LIVE
 * off: FFmpeg, SDL2 or espeak-ng were not found at configure time). */
#include "cli.h"

int cmd_watch(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "facerec watch: this facerec was built without live support (it needs "
                    "FFmpeg, SDL2 and espeak-ng: install them with scripts/setup.sh and "
                    "configure with -DFACEREC_LIVE=ON)\n");
    return 1;
}
