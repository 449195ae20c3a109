/* arena.c: the stack allocator for activations and scratch (nn_arena_*).
 *
 * Memory is a chain of blocks that are never moved or shrunk. A position in the arena is a
 * byte offset in the concatenation of the blocks, so a mark is one number; an allocation
 * that does not fit in the rest of the current block starts the next block (the rest is
 * skipped). After a reset the same sequence of allocations reuses the same blocks. */
#include "common/common.h"
#include "nn/nn.h"

#include <stdlib.h>

#define ARENA_ALIGN 64

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
};

static arena_block *block_new(size_t capacity, size_t base) {
    arena_block *b = malloc(sizeof *b);
    if (!b) return NULL;
    b->data = aligned_alloc(ARENA_ALIGN, capacity);
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
