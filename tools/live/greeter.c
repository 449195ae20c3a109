/* greeter.c: who to greet and what to say. Each track's recognitions vote; an identity is
 * settled after enough consecutive agreeing votes; a settled person is greeted unless they
 * were greeted within the cooldown. Pure logic: no video, no clock of its own. */
#include "live/live.h"

#include "common/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct track_votes {
    int track_id;
    char *candidate; /* NULL: a stranger */
    int count;       /* consecutive votes for the candidate */
    int settled;
} track_votes;

typedef struct greeted_person {
    char *name;
    double last_greeted; /* seconds */
} greeted_person;

struct live_greeter {
    int votes;
    double cooldown;
    track_votes *tracks;
    int n_tracks, cap_tracks;
    greeted_person *people;
    int n_people, cap_people;
};

fr_status live_greeter_new(int votes, double cooldown, live_greeter **out) {
    *out = NULL;
    if (votes < 1 || !(cooldown >= 0))
        return fr_error(FR_E_ARG, "greeter: votes must be >= 1 and the cooldown >= 0 s");
    live_greeter *g = calloc(1, sizeof *g);
    if (!g) return fr_error(FR_E_NOMEM, "out of memory for the greeter");
    g->votes = votes;
    g->cooldown = cooldown;
    *out = g;
    return FR_OK;
}

void live_greeter_free(live_greeter *g) {
    if (!g) return;
    for (int i = 0; i < g->n_tracks; i++) free(g->tracks[i].candidate);
    for (int i = 0; i < g->n_people; i++) free(g->people[i].name);
    free(g->tracks);
    free(g->people);
    free(g);
}

static track_votes *find_track(const live_greeter *g, int track_id) {
    for (int i = 0; i < g->n_tracks; i++)
        if (g->tracks[i].track_id == track_id) return &g->tracks[i];
    return NULL;
}

static int same_identity(const char *a, const char *b) {
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Make `name` the track's candidate with a first vote. */
static fr_status restart_votes(track_votes *tv, const char *name) {
    char *copy = NULL;
    if (name && !(copy = strdup(name))) return fr_error(FR_E_NOMEM, "out of memory voting");
    free(tv->candidate);
    tv->candidate = copy;
    tv->count = 1;
    tv->settled = 0;
    return FR_OK;
}

fr_status live_greeter_vote(live_greeter *g, int track_id, const char *name, live_vote *result) {
    track_votes *tv = find_track(g, track_id);
    fr_status st = FR_OK;
    if (!tv) {
        if (g->n_tracks == g->cap_tracks) {
            int cap = g->cap_tracks ? 2 * g->cap_tracks : 8;
            track_votes *tracks = realloc(g->tracks, (size_t)cap * sizeof *tracks);
            if (!tracks) return fr_error(FR_E_NOMEM, "out of memory voting");
            g->tracks = tracks;
            g->cap_tracks = cap;
        }
        tv = &g->tracks[g->n_tracks];
        memset(tv, 0, sizeof *tv);
        tv->track_id = track_id;
        if ((st = restart_votes(tv, name)) != FR_OK) return st;
        g->n_tracks++;
    } else if (same_identity(tv->candidate, name)) {
        if (tv->settled) {
            *result = LIVE_VOTE_HOLDS;
            return FR_OK;
        }
        tv->count++;
    } else if ((st = restart_votes(tv, name)) != FR_OK) {
        return st;
    }
    if (tv->count >= g->votes) {
        tv->settled = 1;
        *result = LIVE_VOTE_SETTLED;
    } else {
        *result = LIVE_VOTE_PENDING;
    }
    return FR_OK;
}

const char *live_greeter_identity(const live_greeter *g, int track_id, int *settled) {
    const track_votes *tv = find_track(g, track_id);
    *settled = tv && tv->settled;
    return *settled ? tv->candidate : NULL;
}

void live_greeter_forget(live_greeter *g, int track_id) {
    track_votes *tv = find_track(g, track_id);
    if (!tv) return;
    free(tv->candidate);
    *tv = g->tracks[--g->n_tracks];
}

static greeted_person *find_person(const live_greeter *g, const char *name) {
    for (int i = 0; i < g->n_people; i++)
        if (!strcmp(g->people[i].name, name)) return &g->people[i];
    return NULL;
}

fr_status live_greeter_greet(live_greeter *g, const char *const *names, int n, double t,
                             int *greeted, char *sentence, size_t sentence_size) {
    if (sentence_size) sentence[0] = '\0';
    const char **due = calloc((size_t)(n > 0 ? n : 1), sizeof *due);
    if (!due) return fr_error(FR_E_NOMEM, "out of memory greeting");
    int n_due = 0;
    fr_status st = FR_OK;
    for (int i = 0; i < n; i++) {
        greeted[i] = 0;
        if (!names[i]) continue;
        int repeated = 0;
        for (int j = 0; j < n_due; j++) repeated |= !strcmp(due[j], names[i]);
        if (repeated) continue;
        greeted_person *p = find_person(g, names[i]);
        /* a clock that went back (a stream restarting its timestamps) ends the cooldown */
        if (p && t - p->last_greeted < g->cooldown && t >= p->last_greeted) continue;
        if (!p) {
            if (g->n_people == g->cap_people) {
                int cap = g->cap_people ? 2 * g->cap_people : 8;
                greeted_person *people = realloc(g->people, (size_t)cap * sizeof *people);
                if (!people) {
                    st = fr_error(FR_E_NOMEM, "out of memory greeting");
                    break;
                }
                g->people = people;
                g->cap_people = cap;
            }
            p = &g->people[g->n_people];
            if (!(p->name = strdup(names[i]))) {
                st = fr_error(FR_E_NOMEM, "out of memory greeting");
                break;
            }
            g->n_people++;
        }
        p->last_greeted = t;
        greeted[i] = 1;
        due[n_due++] = names[i];
    }
    if (st == FR_OK && n_due > 0) live_greeting_sentence(due, n_due, sentence, sentence_size);
    free(due);
    return st;
}

void live_greeting_sentence(const char *const *names, int n, char *out, size_t size) {
    if (!size) return;
    size_t len = (size_t)snprintf(out, size, "Welcome ");
    for (int i = 0; i < n && len < size; i++) {
        const char *sep = i == 0 ? "" : n == 2 ? " and " : i == n - 1 ? ", and " : ", ";
        len += (size_t)snprintf(out + len, size - len, "%s%s", sep, names[i]);
    }
    if (len < size) snprintf(out + len, size - len, ", have a nice day%s", n == 1 ? "." : "!");
}
