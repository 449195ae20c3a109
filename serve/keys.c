/* keys.c: facerec serve-keys add|list|revoke: the service's API keys, kept in the gallery as
 * SHA-256 hashes. A new key is printed once and never stored. */
#include "serve.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static const char *usage =
    "usage: facerec serve-keys add --role recognize|admin [--label TEXT] [--db DB]\n"
    "       facerec serve-keys list [--db DB]\n"
    "       facerec serve-keys revoke ID [--db DB]\n"
    "API keys of facerec serve. `add` prints a new key once: only its SHA-256 is stored.\n"
    "A recognize key may identify, verify, detect and list; an admin key may also enroll,\n"
    "rename and remove.\n";

static int fail(void) {
    fprintf(stderr, "facerec serve-keys: %s\n", fr_last_error());
    return 1;
}

int serve_keys_main(int argc, char **argv) {
    static const struct option options[] = {{"role", required_argument, 0, 'r'},
                                            {"label", required_argument, 0, 'l'},
                                            {"db", required_argument, 0, 'd'},
                                            {"help", no_argument, 0, 'h'},
                                            {0, 0, 0, 0}};
    const char *role = NULL, *label = "", *db = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'r': role = optarg; break;
        case 'l': label = optarg; break;
        case 'd': db = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    const char *action = optind < argc ? argv[optind] : NULL;
    if (!action) {
        fputs(usage, stderr);
        return 2;
    }
    int is_add = !strcmp(action, "add"), is_list = !strcmp(action, "list"),
        is_revoke = !strcmp(action, "revoke");
    if (!is_add && !is_list && !is_revoke) {
        fprintf(stderr, "facerec serve-keys: unknown action '%s'\n%s", action, usage);
        return 2;
    }
    if (is_add && !role) {
        fprintf(stderr, "facerec serve-keys add: give --role recognize or --role admin\n");
        return 2;
    }
    int64_t revoke_id = 0;
    if (is_revoke) {
        char *end;
        if (optind + 1 >= argc || (revoke_id = strtoll(argv[optind + 1], &end, 10)) <= 0 || *end) {
            fprintf(stderr, "facerec serve-keys revoke: give the key's id (facerec serve-keys list)\n");
            return 2;
        }
    }
    fr_gallery *g;
    if (fr_gallery_open(db, is_add, &g) != FR_OK) return fail();
    int status = 0;
    if (is_add) {
        uint8_t secret[32], digest[32];
        if (getrandom(secret, sizeof secret, 0) != (ssize_t)sizeof secret) {
            perror("facerec serve-keys: getrandom");
            fr_gallery_close(g);
            return 1;
        }
        char key[65];
        for (int i = 0; i < 32; i++) snprintf(key + 2 * i, 3, "%02x", secret[i]);
        fr_sha256(key, 64, digest);
        int64_t id;
        if (fr_gallery_key_add(g, digest, role, label, &id) != FR_OK) {
            status = fail();
        } else {
            printf("%s\n", key);
            fprintf(stderr, "facerec serve-keys: key %lld (%s) stored in %s; it is shown only now\n",
                    (long long)id, role, fr_gallery_path(g));
        }
    } else if (is_list) {
        fr_api_key *keys;
        int n;
        if (fr_gallery_keys(g, &keys, &n) != FR_OK) {
            status = fail();
        } else {
            for (int i = 0; i < n; i++) {
                char when[32];
                time_t t = (time_t)keys[i].created;
                strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", gmtime(&t));
                printf("%lld\t%s\t%s UTC\t%s\n", (long long)keys[i].id, keys[i].role, when, keys[i].label);
            }
            free(keys);
        }
    } else if (fr_gallery_key_revoke(g, revoke_id) != FR_OK) {
        status = fail();
    } else {
        printf("revoked key %lld\n", (long long)revoke_id);
    }
    fr_gallery_close(g);
    return status;
}
