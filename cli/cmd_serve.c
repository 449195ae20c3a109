/* cmd_serve.c: facerec serve and facerec serve-keys run the service's own program,
 * facerec-serve (serve/), installed beside this one: the HTTP front end and its libraries
 * (libmicrohttpd, jansson) stay out of the command line. */
#include "cli.h"

int cmd_serve(int argc, char **argv) { return cli_run_beside("facerec-serve", NULL, argc, argv); }
int cmd_serve_keys(int argc, char **argv) {
    return cli_run_beside("facerec-serve", "keys", argc, argv);
}
