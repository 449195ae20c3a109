/* http.h: the libmicrohttpd daemon and the worker pool (http.c). */
#ifndef FR_SERVE_HTTP_H
#define FR_SERVE_HTTP_H

#include "serve.h"

#include <sys/socket.h>

/* Start the daemon on addr; cert and key (PEM, NUL-terminated) turn TLS on. NULL on failure
 * (libmicrohttpd prints why). */
struct MHD_Daemon *serve_start_daemon(server *srv, const struct sockaddr *addr, char *cert,
                                      char *key);
/* A worker thread's loop: runs queued requests until the server stops and the queue is empty. */
void *serve_worker(void *srv);
int routes_count(void);
const char *route_metric_name(int index);

#endif
