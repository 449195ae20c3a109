/* arena.c: the stack allocator for activations and scratch (nn_arena_*), and the pools of
 * warm arenas that networks keep between calls (nn_arena_pool_*).
 *
 * Memory is a chain of blocks that are never moved or shrunk. A position in the arena is a
 * byte offset in the concatenation of the blocks, so a mark is one number; an allocation
 * that does not fit in the rest of the current block starts the next block (the rest is
 * skipped). After a reset the same sequence of allocations reuses the same blocks.
 *
 * Blocks of NN_ARENA_HUGE_BLOCK bytes or more are aligned to and sized in 2 MB and advised to use
 * transparent huge pages: a network's activations then fault in a few dozen huge pages
 * rather than thousands of 4 KB ones, and cost fewer TLB misses. */
#define _DEFAULT_SOURCE /* madvise(MADV_HUGEPAGE) */
#include "common/common.h"
#include "nn/nn.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#define ARENA_ALIGN 64
#define HUGE_PAGE ((size_t)2 << 20)

typedef struct arena_block {
    struct arena_block *next;
    size_t base;     /* arena position of data[0] */
    size_t capacity; /* bytes, a multiple of ARENA_ALIGN */
    unsigned char *data;
} arena_block;

struct nn_arena {
    arena_block *first;
    arena_block *current; /* NULL before the first allocation of a cycle */
    size_t used;          /* bytes of current in use */
    size_t hint;          /* smallest block size */
    nn_arena *next_kept;  /* in a pool's list of kept arenas */
};

void *nn_alloc_huge(size_t *bytes) {
    if (*bytes > SIZE_MAX - HUGE_PAGE) return NULL;
    *bytes = (*bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    void *p = aligned_alloc(HUGE_PAGE, *bytes ? *bytes : HUGE_PAGE);
#ifdef MADV_HUGEPAGE
    if (p) madvise(p, *bytes, MADV_HUGEPAGE); /* only advice: may fail */
#endif
    return p;
}

static arena_block *block_new(size_t capacity, size_t base) {
    arena_block *b = malloc(sizeof *b);
    if (!b) return NULL;
    b->data = capacity >= NN_ARENA_HUGE_BLOCK ? nn_alloc_huge(&capacity)
                                     : aligned_alloc(ARENA_ALIGN, capacity);
    if (!b->data) {
        free(b);
        return NULL;
    }
    b->next = NULL;
    b->base = base;
    b->capacity = capacity;
    return b;
}

static void blocks_free(arena_block *b) {
    while (b) {
        arena_block *next = b->next;
        free(b->data);
        free(b);
        b = next;
    }
}

/* bytes rounded up to the alignment, 0 on overflow */
static size_t round_up(size_t bytes) {
    if (bytes > SIZE_MAX - (ARENA_ALIGN - 1)) return 0;
    return (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
}

nn_arena *nn_arena_new(size_t bytes_hint) {
    nn_arena *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->hint = round_up(bytes_hint);
    if (a->hint > 0) {
        a->first = block_new(a->hint, 0);
        if (!a->first) {
            free(a);
            return NULL;
        }
    }
    return a;
}

float *nn_arena_alloc(nn_arena *a, size_t n_floats) {
    size_t bytes;
    if (!fr_mul_size(n_floats, sizeof(float), &bytes)) return NULL;
    bytes = round_up(bytes > 0 ? bytes : 1);
    if (bytes == 0) return NULL;
    if (a->current && a->current->capacity - a->used >= bytes) {
        float *p = (float *)(void *)(a->current->data + a->used);
        a->used += bytes;
        return p;
    }
    /* Blocks after the current one are all free: take the next if it is big enough, else
     * replace it and those after it by one block that is. */
    arena_block **link = a->current ? &a->current->next : &a->first;
    if (*link && (*link)->capacity < bytes) {
        blocks_free(*link);
        *link = NULL;
    }
    if (!*link) {
        size_t total = a->current ? a->current->base + a->current->capacity : 0;
        size_t capacity = FR_MAX(FR_MAX(bytes, a->hint), round_up(total));
        if (capacity == 0 || total > SIZE_MAX - capacity) return NULL;
        *link = block_new(capacity, total);
        if (!*link) return NULL;
    }
    a->current = *link;
    a->used = bytes;
    return (float *)(void *)a->current->data;
}

void *nn_arena_alloc_items(nn_arena *a, size_t n, size_t size) {
    size_t bytes;
    if (!fr_mul_size(n, size, &bytes) || bytes > SIZE_MAX - sizeof(float)) return NULL;
    return nn_arena_alloc(a, (bytes + sizeof(float) - 1) / sizeof(float));
}

size_t nn_arena_mark(const nn_arena *a) {
    return a->current ? a->current->base + a->used : 0;
}

void nn_arena_reset(nn_arena *a, size_t mark) {
    if (mark == 0) {
        a->current = NULL;
        a->used = 0;
        return;
    }
    for (arena_block *b = a->first; b; b = b->next) {
        if (mark <= b->base + b->capacity) {
            a->current = b;
            a->used = mark - b->base;
            return;
        }
    }
}

void nn_arena_free(nn_arena *a) {
    if (!a) return;
    blocks_free(a->first);
    free(a);
}

/* ---- pools ---- */

struct nn_arena_pool {
    pthread_mutex_t lock;
    nn_arena *kept; /* most recently given back first: its memory is the warmest */
    int n_kept, max_kept;
};

nn_arena_pool *nn_arena_pool_new(int max_kept) {
    nn_arena_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return NULL;
    }
    p->max_kept = max_kept;
    return p;
}

nn_arena *nn_arena_pool_take(nn_arena_pool *p, size_t bytes_hint) {
    pthread_mutex_lock(&p->lock);
    nn_arena *a = p->kept;
    if (a) {
        p->kept = a->next_kept;
        p->n_kept--;
    }
    pthread_mutex_unlock(&p->lock);
    if (!a) return nn_arena_new(bytes_hint);
    a->next_kept = NULL;
    size_t hint = round_up(bytes_hint);
    if (hint > (a->first ? a->first->capacity : 0)) {
        /* more than this arena's first block: replace its blocks by one that holds it */
        blocks_free(a->first);
        a->first = NULL;
        a->hint = hint;
        if (hint > 0 && !(a->first = block_new(hint, 0))) {
            free(a);
            return NULL;
        }
    }
    return a;
}

void nn_arena_pool_give(nn_arena_pool *p, nn_arena *a) {
    if (!a) return;
    nn_arena_reset(a, 0);
    pthread_mutex_lock(&p->lock);
    int keep = p->n_kept < p->max_kept;
    if (keep) {
        a->next_kept = p->kept;
        p->kept = a;
        p->n_kept++;
    }
    pthread_mutex_unlock(&p->lock);
    if (!keep) nn_arena_free(a);
}

void nn_arena_pool_free(nn_arena_pool *p) {
    if (!p) return;
    while (p->kept) {
        nn_arena *next = p->kept->next_kept;
        nn_arena_free(p->kept);
        p->kept = next;
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}
