/* head.h: a trained projection head on a frozen base embedding (made by `facerec train`,
 * tools/train), as inference runs it: its parameters, its model file and its forward pass.
 * Training (initialisation, backward pass, saving, the loop) stays in tools/train.
 *
 *   x = the base model's embedding, L2-normalised                          (B,D)
 *   z = x W + b  [+ relu(x W1 + b1) W2 + b2   when hidden > 0]             (B,D)
 *   y = z / |z|                                                            (B,D)
 *
 * The parameters are one array, in the order W, b, W1, b1, W2, b2, so that an optimiser sees
 * one vector.
 *
 * File: a facerec model file (nn/import/frmodel.h) with model id "head", input (1,1,D), the
 * base model's name as its preprocessing id (the head's input is that model's embedding of
 * the aligned face) and the tensors "head/kernel" (D,D), "head/bias" (D), and with a hidden
 * layer "head/hidden/kernel" (D,H), "head/hidden/bias" (H), "head/output/kernel" (H,D),
 * "head/output/bias" (D). */
#ifndef FR_FACE_HEAD_H
#define FR_FACE_HEAD_H

#include "facerec.h"

#include <stddef.h>

#define EMBED_HEAD_MODEL_ID "head"

typedef struct embed_head {
    char base[64]; /* the base embedding model's name */
    char id[96];   /* "<base>+head-<CRC-32 of the parameters>": the name galleries record */
    int dim, hidden;
    size_t n_params;
    float *params;
    float *w, *b, *w1, *b1, *w2, *b2; /* views into params (w1..b2 NULL without hidden) */
} embed_head;

/* A head with every parameter zero for a base model of embedding length dim. */
fr_status embed_head_alloc(const char *base, int dim, int hidden, embed_head **out);
void embed_head_free(embed_head *h);
/* Recompute h->id after the parameters changed. */
void embed_head_update_id(embed_head *h);

fr_status embed_head_load(const char *path, embed_head **out);
/* Whether path is a model file holding a head (0 for anything else, without an error). */
int embed_head_is_file(const char *path);

/* The values of one forward pass (kept by training for its backward pass). */
typedef struct embed_head_pass {
    int rows; /* capacity */
    float *x, *hidden_pre, *hidden, *z, *y; /* (B,D), (B,H), (B,H), (B,D), (B,D) */
} embed_head_pass;

fr_status embed_head_pass_new(const embed_head *h, int rows, embed_head_pass **out);
void embed_head_pass_free(embed_head_pass *p);
/* in is (B,dim) base embeddings (B <= pass->rows); the outputs are pass->y (B,dim). */
void embed_head_forward(const embed_head *h, int threads, const float *in, int B,
                        embed_head_pass *pass);
/* Inference: x (n,dim) base embeddings are replaced by the head's outputs; an output that is
 * not finite (weights overflowing float32) is FR_E_MODEL naming the head, x unchanged. */
fr_status embed_head_apply(const embed_head *h, int threads, float *x, int n);

#endif
